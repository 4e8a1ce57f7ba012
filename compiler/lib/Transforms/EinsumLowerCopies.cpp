//===- EinsumLowerCopies.cpp - memref.copy to linalg.copy -----------------===//
//
// Keeps JIT kernels free of calls into MLIR's runner-utils library; see
// Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"
#include "einjit/Transforms/RegisterTile.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMLOWERCOPIES
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

/// Copies of at most this many elements with a static shape (the rows that
/// packing moves) become one vector read and write.
static constexpr int64_t kMaxVectorCopy = 256;

/// The rows of the transpose of the square matrix whose rows are `rows`
/// (a power of two of them): one stage per bit `s` of the index swaps bit
/// `s` of the row with bit `s` of the column, each new row one two-input
/// shuffle of a pair of rows (64 shuffles for 16 x 16).
static SmallVector<Value> transposeRows(OpBuilder &b, Location loc,
                                        SmallVector<Value> rows) {
  int64_t n = rows.size();
  for (int64_t s = n / 2; s >= 1; s /= 2) {
    for (int64_t a = 0; a < n; ++a) {
      if (a & s)
        continue;
      SmallVector<int64_t> low, high;
      for (int64_t j = 0; j < n; ++j) {
        low.push_back(j & s ? n + (j ^ s) : j);
        high.push_back(j & s ? n + j : j ^ s);
      }
      Value x = rows[a], y = rows[a | s];
      rows[a] = vector::ShuffleOp::create(b, loc, x, y, low);
      rows[a | s] = vector::ShuffleOp::create(b, loc, x, y, high);
    }
  }
  return rows;
}

/// A block transpose marked by einsum-tile-and-vectorize (a static square
/// `linalg.transpose` between memrefs with unit inner strides): its rows
/// are loaded as vectors, transposed by a shuffle network and stored as
/// rows. Marked streaming, the stores are non-temporal where the first
/// result row and the row stride are aligned to the vector (a runtime
/// test; plain stores elsewhere).
static void lowerTransposeBlock(RewriterBase &rewriter,
                                linalg::TransposeOp op) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Value src = op.getInput(), dst = op.getInit();
  auto type = cast<MemRefType>(dst.getType());
  Type element = type.getElementType();
  int64_t n = type.getDimSize(0);
  int64_t bytes = element.getIntOrFloatBitWidth() / 8;
  auto rowType = VectorType::get({n}, element);
  SmallVector<Value> index, rows;
  for (int64_t r = 0; r < n; ++r)
    index.push_back(arith::ConstantIndexOp::create(rewriter, loc, r));
  for (int64_t r = 0; r < n; ++r)
    rows.push_back(vector::LoadOp::create(rewriter, loc, rowType, src,
                                          ValueRange{index[r], index[0]}));
  rows = transposeRows(rewriter, loc, rows);
  auto storeRows = [&](OpBuilder &b, Location loc, bool nontemporal) {
    for (int64_t r = 0; r < n; ++r)
      vector::StoreOp::create(
          b, loc, rows[r], dst, ValueRange{index[r], index[0]}, nontemporal,
          nontemporal ? llvm::MaybeAlign(n * bytes) : llvm::MaybeAlign());
  };
  if (!op->hasAttr(einsum::kStreamAttrName) ||
      !llvm::isPowerOf2_64(n * bytes)) {
    storeRows(rewriter, loc, false);
    rewriter.eraseOp(op);
    return;
  }
  // (base + offset * bytes) | (row stride * bytes), a multiple of the
  // vector's size.
  auto meta = memref::ExtractStridedMetadataOp::create(rewriter, loc, dst);
  Value base =
      memref::ExtractAlignedPointerAsIndexOp::create(rewriter, loc, dst);
  Value size = arith::ConstantIndexOp::create(rewriter, loc, bytes);
  Value first = arith::AddIOp::create(
      rewriter, loc, base,
      arith::MulIOp::create(rewriter, loc, meta.getOffset(), size));
  Value stride =
      arith::MulIOp::create(rewriter, loc, meta.getStrides()[0], size);
  Value either = arith::OrIOp::create(rewriter, loc, first, stride);
  Value mask = arith::ConstantIndexOp::create(rewriter, loc, n * bytes - 1);
  Value aligned = arith::CmpIOp::create(
      rewriter, loc, arith::CmpIPredicate::eq,
      arith::AndIOp::create(rewriter, loc, either, mask), index[0]);
  scf::IfOp::create(
      rewriter, loc, aligned,
      [&](OpBuilder &b, Location loc) {
        storeRows(b, loc, true);
        scf::YieldOp::create(b, loc);
      },
      [&](OpBuilder &b, Location loc) {
        storeRows(b, loc, false);
        scf::YieldOp::create(b, loc);
      });
  rewriter.eraseOp(op);
}

namespace {
struct EinsumLowerCopies
    : einsum::impl::EinsumLowerCopiesBase<EinsumLowerCopies> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) { copies.push_back(op); });
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::TransposeOp> blocks;
    // Rows are vector loads and stores: both memrefs need unit strides in
    // their rows (a block whose rows are not contiguous stays a loop
    // nest).
    auto unitRows = [](Value v) {
      auto type = cast<MemRefType>(v.getType());
      SmallVector<int64_t> strides;
      int64_t offset;
      return type.hasStaticShape() &&
             succeeded(type.getStridesAndOffset(strides, offset)) &&
             strides.back() == 1;
    };
    getOperation().walk([&](linalg::TransposeOp op) {
      if (op->hasAttr(einsum::kTransposeBlockAttrName) &&
          op.hasPureBufferSemantics() && unitRows(op.getInput()) &&
          unitRows(op.getInit()))
        blocks.push_back(op);
    });
    for (linalg::TransposeOp op : blocks)
      lowerTransposeBlock(rewriter, op);
    for (memref::CopyOp op : copies) {
      rewriter.setInsertionPoint(op);
      auto type = cast<MemRefType>(op.getSource().getType());
      if (type.hasStaticShape() && type.getNumElements() <= kMaxVectorCopy &&
          succeeded(linalg::vectorizeCopy(rewriter, op)))
        continue;
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(op, op.getSource(),
                                                  op.getTarget());
    }
  }
};
} // namespace
