//===- InitFill.cpp - Moving an op's init fill into its tiles -------------===//
//
// See InitFill.h.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/InitFill.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

std::optional<Value> einsum::dropInitFill(RewriterBase &rewriter,
                                          linalg::LinalgOp op) {
  OpOperand &init = op.getDpsInitsMutable()[0];
  auto expand = init.get().getDefiningOp<tensor::ExpandShapeOp>();
  Value filled = expand ? expand.getSrc() : init.get();
  auto fill = filled.getDefiningOp<linalg::FillOp>();
  if (!fill || !filled.hasOneUse() || (expand && !init.get().hasOneUse()))
    return std::nullopt;
  Value value = fill.getInputs()[0];
  Value base = fill.getOutputs()[0];
  if (expand) {
    rewriter.setInsertionPoint(expand);
    base = tensor::ExpandShapeOp::create(rewriter, expand.getLoc(),
                                         expand.getResultType(), base,
                                         expand.getReassociationIndices());
  }
  rewriter.modifyOpInPlace(op, [&] { init.set(base); });
  if (expand)
    rewriter.eraseOp(expand);
  rewriter.eraseOp(fill);
  return value;
}

Operation *einsum::fillInit(RewriterBase &rewriter, Operation *op,
                            Value value) {
  auto linalgOp = cast<linalg::LinalgOp>(op);
  OpOperand &init = linalgOp.getDpsInitsMutable()[0];
  rewriter.setInsertionPoint(op);
  Operation *fill =
      linalg::FillOp::create(rewriter, op->getLoc(), value, init.get());
  rewriter.modifyOpInPlace(op, [&] { init.set(fill->getResult(0)); });
  return fill;
}
