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

/// Whether the address of `dst`'s first element is a multiple of `align`
/// bytes, and with `rows`, its first dimension's stride too (a runtime
/// test).
static Value isAligned(OpBuilder &b, Location loc, Value dst, int64_t align,
                       bool rows) {
  auto type = cast<MemRefType>(dst.getType());
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  auto meta = memref::ExtractStridedMetadataOp::create(b, loc, dst);
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, dst);
  Value size = arith::ConstantIndexOp::create(b, loc, bytes);
  Value address = arith::AddIOp::create(
      b, loc, base, arith::MulIOp::create(b, loc, meta.getOffset(), size));
  if (rows)
    address = arith::OrIOp::create(
        b, loc, address,
        arith::MulIOp::create(b, loc, meta.getStrides()[0], size));
  Value mask = arith::ConstantIndexOp::create(b, loc, align - 1);
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                               arith::AndIOp::create(b, loc, address, mask),
                               arith::ConstantIndexOp::create(b, loc, 0));
}

/// A row tile of an elementwise op that einsum-tile-and-vectorize marked
/// streaming (its result is larger than the caches): vectorized, with its
/// vector written by non-temporal stores where the row starts on a cache
/// line (a runtime test; plain stores elsewhere), so that the result's
/// lines are not read before they are overwritten.
static void lowerStreamingTile(RewriterBase &rewriter, linalg::GenericOp op) {
  op->removeAttr(einsum::kStreamAttrName);
  Value dst = op.getDpsInits()[0];
  Block *block = op->getBlock();
  Operation *before = op->getPrevNode();
  if (failed(linalg::vectorizeOpPrecondition(op)))
    return;
  rewriter.setInsertionPoint(op);
  if (failed(linalg::vectorize(rewriter, op)))
    return;
  rewriter.eraseOp(op);
  auto type = cast<MemRefType>(dst.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  // Whole bytes per element (not i1, whose vectors pack bits), whole lines
  // per row.
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  int64_t rowBytes = type.getShape().back() * bytes;
  if (type.getElementTypeBitWidth() % 8 != 0 || !type.hasStaticShape() ||
      failed(type.getStridesAndOffset(strides, offset)) ||
      strides.back() != 1 || rowBytes % einsum::kCacheLineBytes != 0 ||
      llvm::any_of(type.getShape().drop_back(),
                   [](int64_t d) { return d != 1; }))
    return;
  SmallVector<vector::TransferWriteOp> writes;
  for (Operation &o : llvm::make_range(before ? std::next(before->getIterator())
                                              : block->begin(),
                                       block->end()))
    if (auto write = dyn_cast<vector::TransferWriteOp>(o))
      if (write.getBase() == dst && write.getPermutationMap().isIdentity() &&
          !write.getMask() &&
          llvm::all_of(write.getIndices(),
                       [](Value i) { return isConstantIntValue(i, 0); }) &&
          write.getVectorType().getShape() == type.getShape())
        writes.push_back(write);
  for (vector::TransferWriteOp write : writes) {
    Location loc = write.getLoc();
    rewriter.setInsertionPoint(write);
    auto rowType =
        VectorType::get({type.getShape().back()}, type.getElementType());
    Value row =
        vector::ShapeCastOp::create(rewriter, loc, rowType, write.getVector());
    SmallVector<Value> zeros(type.getRank(),
                             arith::ConstantIndexOp::create(rewriter, loc, 0));
    Value aligned =
        isAligned(rewriter, loc, dst, einsum::kCacheLineBytes, /*rows=*/false);
    scf::IfOp::create(
        rewriter, loc, aligned,
        [&](OpBuilder &b, Location loc) {
          vector::StoreOp::create(b, loc, row, dst, zeros,
                                  /*nontemporal=*/true,
                                  llvm::MaybeAlign(einsum::kCacheLineBytes));
          scf::YieldOp::create(b, loc);
        },
        [&](OpBuilder &b, Location loc) {
          vector::StoreOp::create(b, loc, row, dst, zeros);
          scf::YieldOp::create(b, loc);
        });
    rewriter.eraseOp(write);
  }
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
  Value aligned = isAligned(rewriter, loc, dst, n * bytes, /*rows=*/true);
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
    SmallVector<linalg::GenericOp> streaming;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->hasAttr(einsum::kStreamAttrName) && op.hasPureBufferSemantics())
        streaming.push_back(op);
    });
    for (linalg::GenericOp op : streaming)
      lowerStreamingTile(rewriter, op);
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
