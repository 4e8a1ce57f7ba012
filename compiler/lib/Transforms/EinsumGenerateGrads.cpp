//===- EinsumGenerateGrads.cpp - Gradient functions of einsum functions ---===//
//
// Reverse mode on the einsum dialect: each function of einsum.contract ops
// gets a gradient function whose contractions are the gradient einsums of
// the spec layer (einjit::gradientEinsum); see Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Dialect/Einsum/IR/EinsumOps.h"
#include "einjit/Spec/Grad.h"
#include "einjit/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMGENERATEGRADS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

static constexpr llvm::StringLiteral kGradientOf = "einsum.gradient_of";

/// Whether `type` is a tensor of one of einjit's float dtypes.
static bool isFloatTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return false;
  std::optional<einjit::DType> dtype = einsum::toDType(tensor.getElementType());
  return dtype && einjit::isFloat(*dtype);
}

/// Whether `f` can be differentiated; an error on it if not.
static LogicalResult checkDifferentiable(func::FuncOp f) {
  for (auto [i, type] : llvm::enumerate(f.getArgumentTypes())) {
    if (!isFloatTensor(type))
      return f.emitError() << "einsum-generate-grads: argument " << i << " of @"
                           << f.getSymName() << " is " << type
                           << ", not a tensor of floats";
  }
  for (Operation &op : f.getBody().front()) {
    if (isa<einsum::ContractOp, func::ReturnOp>(op))
      continue;
    return op.emitError() << "einsum-generate-grads: cannot differentiate '"
                          << op.getName() << "' in @" << f.getSymName()
                          << " (only einsum.contract)";
  }
  for (Type type : f.getResultTypes()) {
    if (!isFloatTensor(type))
      return f.emitError() << "einsum-generate-grads: @" << f.getSymName()
                           << " returns " << type << ", not a tensor of floats";
  }
  return success();
}

/// Builds @<f>_grad after `f`.
static LogicalResult buildGradient(func::FuncOp f) {
  if (failed(checkDifferentiable(f)))
    return failure();
  MLIRContext *ctx = f.getContext();
  OpBuilder b(ctx);
  b.setInsertionPointAfter(f);
  Location loc = f.getLoc();

  SmallVector<Type> inputs(f.getArgumentTypes());
  llvm::append_range(inputs, f.getResultTypes());
  auto grad = func::FuncOp::create(
      b, loc, (f.getSymName() + "_grad").str(),
      FunctionType::get(ctx, inputs, f.getArgumentTypes()));
  grad->setAttr(kGradientOf, FlatSymbolRefAttr::get(f.getSymNameAttr()));
  Block *entry = grad.addEntryBlock();
  b.setInsertionPointToStart(entry);

  // The forward, recomputed.
  IRMapping forward;
  for (auto [from, to] : llvm::zip(f.getArguments(), entry->getArguments()))
    forward.map(from, to);
  SmallVector<einsum::ContractOp> contracts;
  func::ReturnOp ret;
  for (Operation &op : f.getBody().front()) {
    if (auto r = dyn_cast<func::ReturnOp>(op)) {
      ret = r;
      continue;
    }
    b.clone(op, forward);
    contracts.push_back(cast<einsum::ContractOp>(op));
  }

  // Cotangents of the forward's values (keyed by the original values).
  llvm::DenseMap<Value, Value> cotangents;
  auto accumulate = [&](Value of, Value grad) -> LogicalResult {
    auto [slot, fresh] = cotangents.try_emplace(of, grad);
    if (fresh)
      return success();
    if (slot->second.getType() != grad.getType())
      return f.emitError() << "einsum-generate-grads: gradients of types "
                           << slot->second.getType() << " and "
                           << grad.getType() << " for one value of @"
                           << f.getSymName();
    auto type = cast<RankedTensorType>(grad.getType());
    Value init =
        tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
    slot->second =
        linalg::AddOp::create(b, loc, ValueRange{slot->second, grad}, init)
            .getResult(0);
    return success();
  };
  unsigned numArgs = f.getNumArguments();
  for (auto [i, result] : llvm::enumerate(ret.getOperands()))
    if (failed(accumulate(result, entry->getArgument(numArgs + i))))
      return failure();

  for (einsum::ContractOp op : llvm::reverse(contracts)) {
    auto found = cotangents.find(op.getResult());
    if (found == cotangents.end())
      continue;
    Value cotangent = found->second;
    auto bound = einsum::bindContract(op);
    if (!bound)
      return op.emitError() << llvm::toString(bound.takeError());
    Type element = cast<RankedTensorType>(cotangent.getType()).getElementType();
    for (auto [k, operand] : llvm::enumerate(op.getInputs())) {
      auto rule = einjit::gradientEinsum(*bound, k);
      if (!rule)
        return op.emitError() << llvm::toString(rule.takeError());
      SmallVector<Value> args;
      for (const einjit::GradOperand &g : rule->operands) {
        switch (g.kind) {
        case einjit::GradOperand::Kind::Cotangent:
          args.push_back(cotangent);
          break;
        case einjit::GradOperand::Kind::Operand:
          args.push_back(forward.lookup(op.getInputs()[g.value]));
          break;
        case einjit::GradOperand::Kind::Ones: {
          auto type = RankedTensorType::get({g.value}, element);
          args.push_back(arith::ConstantOp::create(
              b, loc,
              DenseElementsAttr::get(type, b.getFloatAttr(element, 1))));
          break;
        }
        }
      }
      // The gradient einsum's result type is its operands' promotion: the
      // cotangent's and the other operands' (all floats).
      einjit::DType result = *einsum::toDType(element);
      for (Value v : args)
        result = einjit::promoteTypes(
            result, *einsum::toDType(
                        cast<RankedTensorType>(v.getType()).getElementType()));
      auto type = RankedTensorType::get(
          rule->shape, einsum::toMLIRType(b.getContext(), result));
      Value g = einsum::ContractOp::create(b, loc, type,
                                           b.getStringAttr(rule->equation),
                                           args, ArrayAttr(), ArrayAttr());
      if (failed(accumulate(operand, g)))
        return failure();
    }
  }

  SmallVector<Value> results;
  for (BlockArgument arg : f.getArguments()) {
    auto found = cotangents.find(arg);
    if (found != cotangents.end()) {
      results.push_back(found->second);
      continue;
    }
    auto type = cast<RankedTensorType>(arg.getType());
    results.push_back(arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(type,
                               b.getFloatAttr(type.getElementType(), 0))));
  }
  if (llvm::any_of(llvm::zip(results, f.getArgumentTypes()), [](auto pair) {
        return std::get<0>(pair).getType() != std::get<1>(pair);
      }))
    return f.emitError() << "einsum-generate-grads: a gradient of @"
                         << f.getSymName()
                         << " has another type than its argument (mixed "
                            "float widths)";
  func::ReturnOp::create(b, loc, results);
  return success();
}

namespace {
struct EinsumGenerateGrads
    : einsum::impl::EinsumGenerateGradsBase<EinsumGenerateGrads> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> functions;
    for (auto f : getOperation().getOps<func::FuncOp>())
      if (!f.isDeclaration() && !f->hasAttr(kGradientOf) &&
          f.getBody().hasOneBlock())
        functions.push_back(f);
    for (func::FuncOp f : functions)
      if (failed(buildGradient(f)))
        return signalPassFailure();
  }
};
} // namespace
