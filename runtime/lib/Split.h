//===- Split.h - Einsums run as pieces along their dynamic labels -*- C++
//-*-===//
//
// A shape-polymorphic einsum (Session::setInputSignature, or an equation
// retraced for sizes alone: Session::setReduceRetracing) runs as pieces
// along its dynamic labels. Each piece is an einsum of the same equation on
// views of the operands and of the result, and has static shapes, so it
// runs on a kernel compiled for its shapes like any call. Piece sizes are
// powers of two (999 = 512 + 256 + 128 + 64 + 32 + 4 + 2 + 1), so every
// size up to 2^k runs on the same k + 1 kernels: a new size compiles
// nothing once its pieces exist.
//
// A piece's views must have the layout of a whole tensor of the piece's
// shape at any size, or each size would need kernels of its own: the
// dynamic dims must lead every operand and the result, and every dynamic
// dim that another dynamic dim follows is cut into pieces of one. A summed
// dynamic label adds its pieces into the result.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_SPLIT_H
#define EINJIT_RUNTIME_SPLIT_H

#include "einjit/Spec/Equation.h"
#include "einjit/runtime/Tensor.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

namespace einjit::detail {

/// Whether `eq` can run as pieces along the labels `dynamic` (label ids of
/// `eq`); the error names the label and the operand that keep it static.
llvm::Error checkSplittable(const BoundEquation &eq,
                            llvm::ArrayRef<int> dynamic);

/// One piece: the equation on `operands` (views) into `out` (a contiguous
/// view of the result).
using RunPiece = llvm::function_ref<llvm::Error(llvm::ArrayRef<Tensor> operands,
                                                Tensor &out)>;
/// `into` += `addend` (both contiguous, of one shape and dtype).
using AddInto =
    llvm::function_ref<llvm::Error(Tensor &into, const Tensor &addend)>;

/// Runs `eq` on `operands` into `out` (contiguous, of the result's shape
/// and dtype) as pieces along `dynamic`, which checkSplittable accepted.
/// Returns the number of pieces.
llvm::Expected<size_t> runSplit(const BoundEquation &eq,
                                llvm::ArrayRef<int> dynamic,
                                llvm::ArrayRef<Tensor> operands, Tensor &out,
                                RunPiece runPiece, AddInto addInto);

} // namespace einjit::detail

#endif // EINJIT_RUNTIME_SPLIT_H
