//===- InitFill.h - Moving an op's init fill into its tiles -----*- C++ -*-===//
//
// A contraction's init is a linalg.fill of the whole result. When the op is
// split or tiled so that each piece is visited once, the fill moves into
// the pieces: einsum-pack-contractions fills each part of a split op,
// einsum-tile-and-vectorize each register tile.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_TRANSFORMS_INITFILL_H
#define EINJIT_TRANSFORMS_INITFILL_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace mlir::einsum {

/// If the init of `op` is a linalg.fill, seen through reshapes used only
/// there, makes `op` accumulate into the unfilled tensor instead and
/// returns the fill value; the caller fills what `op` becomes. A fill that
/// other ops also use stays for them.
std::optional<Value> dropInitFill(RewriterBase &rewriter, linalg::LinalgOp op);

/// Fills the init of `op` (a linalg op) with `value` just before it;
/// returns the fill.
Operation *fillInit(RewriterBase &rewriter, Operation *op, Value value);

} // namespace mlir::einsum

#endif // EINJIT_TRANSFORMS_INITFILL_H
