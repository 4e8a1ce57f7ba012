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
  // The init may reach the fill through reshapes (those of a packed
  // layout), each used only on the way to `op`.
  OpOperand *use = &op.getDpsInitsMutable()[0];
  while (!use->get().getDefiningOp<linalg::FillOp>()) {
    Operation *reshape = use->get().getDefiningOp();
    if (!reshape || !use->get().hasOneUse() ||
        !isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(reshape))
      return std::nullopt;
    use = &reshape->getOpOperand(0);
  }
  // A fill that CSE shares with other ops (two contractions of the same
  // shape) stays theirs; this use reads the unfilled tensor instead.
  auto fill = use->get().getDefiningOp<linalg::FillOp>();
  Value value = fill.getInputs()[0];
  rewriter.modifyOpInPlace(use->getOwner(),
                           [&] { use->set(fill.getOutputs()[0]); });
  if (fill->use_empty())
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
