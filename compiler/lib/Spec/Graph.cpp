//===- Graph.cpp - A traced function's ops, in order ----------------------===//

#include "einjit/Spec/Graph.h"

#include "einjit/Spec/Limits.h"

#include <cstdio>

using namespace einjit;

int Graph::addInput(llvm::ArrayRef<int64_t> shape, DType dtype,
                    llvm::ArrayRef<int64_t> strides) {
  GraphNode node;
  node.shape.assign(shape.begin(), shape.end());
  node.dtype = dtype;
  node.strides.assign(strides.begin(), strides.end());
  nodes.push_back(std::move(node));
  inputs.push_back((int)nodes.size() - 1);
  return inputs.back();
}

int Graph::addEinsum(BoundEquation eq, ContractionPath path,
                     llvm::ArrayRef<int> operands) {
  GraphNode node;
  node.kind = GraphNode::Kind::Einsum;
  node.operands.assign(operands.begin(), operands.end());
  node.shape = eq.outputShape();
  node.dtype = eq.resultType;
  node.eq = std::move(eq);
  node.path = std::move(path);
  nodes.push_back(std::move(node));
  return (int)nodes.size() - 1;
}

int Graph::addOp(OpSignature sig, llvm::ArrayRef<int> operands) {
  GraphNode node;
  node.kind = GraphNode::Kind::Op;
  node.operands.assign(operands.begin(), operands.end());
  node.shape = sig.outputShape;
  node.dtype = sig.resultType;
  node.op = std::move(sig);
  nodes.push_back(std::move(node));
  return (int)nodes.size() - 1;
}

int Graph::addConstant(llvm::ArrayRef<int64_t> shape, DType dtype,
                       double value) {
  GraphNode node;
  node.kind = GraphNode::Kind::Constant;
  node.shape.assign(shape.begin(), shape.end());
  node.dtype = dtype;
  node.value = value;
  nodes.push_back(std::move(node));
  return (int)nodes.size() - 1;
}

bool Graph::hasEmptyTensor() const {
  return llvm::any_of(nodes, [](const GraphNode &node) {
    return llvm::is_contained(node.shape, 0);
  });
}

std::string Graph::str() const {
  std::string text;
  llvm::raw_string_ostream os(text);
  for (auto [id, node] : llvm::enumerate(nodes)) {
    os << "%" << id << " = ";
    switch (node.kind) {
    case GraphNode::Kind::Input:
      os << "arg";
      if (!node.strides.empty()) {
        os << " strides";
        for (int64_t stride : node.strides)
          os << " " << stride;
      }
      break;
    case GraphNode::Kind::Einsum:
      os << "einsum '" << node.eq->text << "' " << node.path->describe();
      break;
    case GraphNode::Kind::Constant: {
      char exact[64];
      std::snprintf(exact, sizeof(exact), "constant %a", node.value);
      os << exact;
      break;
    }
    case GraphNode::Kind::Op: {
      const OpSignature &op = *node.op;
      os << opName(op.kind);
      if (takesAxes(op.kind)) {
        os << " axes";
        for (int64_t axis : op.axes)
          os << " " << axis;
        os << (op.keepDims ? " keep" : "");
      }
      if (op.kind == OpKind::Scale) {
        char exact[64];
        std::snprintf(exact, sizeof(exact), " %a", op.scalar);
        os << exact;
      }
      break;
    }
    }
    for (int operand : node.operands)
      os << " %" << operand;
    os << " : " << dtypeName(node.dtype) << shapeString(node.shape) << "\n";
  }
  os << "return";
  for (int output : outputs)
    os << " %" << output;
  return text;
}
