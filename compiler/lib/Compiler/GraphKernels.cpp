//===- GraphKernels.cpp - One kernel module for a traced function ---------===//
//
// A traced function's graph becomes one `func.func @einsum` with an %out
// argument per result: each einsum node an einsum.contract along its
// planned path, each op node the linalg ops of its eager kernel
// (emitOp). Intermediates are tensors, which the pipeline fuses
// (einsum-fuse-elementwise) and places in the workspace.
//
//===----------------------------------------------------------------------===//

#include "KernelFunction.h"
#include "einjit/Compiler/Compiler.h"
#include "einjit/Dialect/Einsum/IR/EinsumOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace einjit;

OwningOpRef<ModuleOp> einjit::buildGraphModule(MLIRContext &ctx,
                                               const Graph &graph) {
  ctx.loadDialect<einsum::EinsumDialect, linalg::LinalgDialect,
                  arith::ArithDialect, math::MathDialect,
                  tensor::TensorDialect>();
  std::vector<std::vector<int64_t>> inputShapes, inputStrides, outputShapes;
  std::vector<DType> inputTypes, outputTypes;
  for (int id : graph.inputs) {
    inputShapes.push_back(graph.nodes[id].shape);
    inputTypes.push_back(graph.nodes[id].dtype);
    inputStrides.push_back(graph.nodes[id].strides);
  }
  for (int id : graph.outputs) {
    outputShapes.push_back(graph.nodes[id].shape);
    outputTypes.push_back(graph.nodes[id].dtype);
  }
  KernelFunction kernel(ctx, graph.name, inputShapes, inputTypes, outputShapes,
                        outputTypes, inputStrides);
  OpBuilder &b = kernel.b;
  Location loc = kernel.loc;
  SmallVector<Value> values(graph.nodes.size());
  for (auto [arg, id] : llvm::enumerate(graph.inputs))
    values[id] = kernel.inputs[arg];
  for (auto [id, node] : llvm::enumerate(graph.nodes)) {
    SmallVector<Value> operands;
    for (int operand : node.operands)
      operands.push_back(values[operand]);
    switch (node.kind) {
    case GraphNode::Kind::Input:
      break;
    case GraphNode::Kind::Einsum: {
      auto type = einsum::storageType(&ctx, node.eq->resultType, node.shape);
      values[id] = einsum::ContractOp::create(
          b, loc, type, b.getStringAttr(node.eq->text), operands,
          einsum::pathAttr(&ctx, *node.path),
          einsum::dtypesAttr(&ctx, node.eq->inputTypes, node.eq->resultType));
      break;
    }
    case GraphNode::Kind::Op:
      values[id] = emitOp(b, loc, *node.op, operands);
      break;
    case GraphNode::Kind::Constant: {
      // A fill, not a dense constant: no global to bufferize, and it fuses
      // into its readers.
      Type element = einsum::toMLIRType(&ctx, node.dtype);
      Value empty = tensor::EmptyOp::create(b, loc, node.shape, element);
      TypedAttr attr =
          isa<FloatType>(element)
              ? (TypedAttr)b.getFloatAttr(element, node.value)
              : (TypedAttr)b.getIntegerAttr(element, (int64_t)node.value);
      Value fill = arith::ConstantOp::create(b, loc, attr);
      values[id] = linalg::FillOp::create(b, loc, fill, empty).getResult(0);
      break;
    }
    }
  }
  SmallVector<Value> results;
  for (int id : graph.outputs)
    results.push_back(values[id]);
  return kernel.finish(results);
}
