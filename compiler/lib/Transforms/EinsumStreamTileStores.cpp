//===- EinsumStreamTileStores.cpp - Non-temporal register tile stores -----===//
//
// Register tiles written once into results larger than the caches are
// stored with non-temporal stores; the rules are in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"
#include "einjit/Transforms/RegisterTile.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMSTREAMTILESTORES
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

/// The static size in bytes of the buffer that `v` views (through
/// subviews, reshapes and casts), or 0 where it is not known.
static int64_t rootBytes(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (!isa<memref::SubViewOp, memref::ExpandShapeOp, memref::CollapseShapeOp,
             memref::CastOp, memref::ReinterpretCastOp>(def))
      break;
    v = def->getOperand(0);
  }
  auto type = dyn_cast<MemRefType>(v.getType());
  if (!type || !type.hasStaticShape() || type.getElementTypeBitWidth() % 8 != 0)
    return 0;
  return type.getNumElements() * (type.getElementTypeBitWidth() / 8);
}

/// Whether `loop` holds a register tile (isRegisterTile) and starts `result`'s
/// iter_arg from a constant: the tile sums all of K in registers, each element
/// written once, after the loop.
static bool writtenOnce(scf::ForOp loop, OpResult result) {
  bool tile = llvm::any_of(loop.getBody()->getOps<vector::ContractionOp>(),
                           [](vector::ContractionOp c) {
                             auto acc = dyn_cast<VectorType>(c.getAccType());
                             return acc && einsum::isRegisterTile(acc);
                           });
  Value init = loop.getInits()[result.getResultNumber()];
  return tile && init.getDefiningOp<arith::ConstantOp>();
}

namespace {
struct EinsumStreamTileStores
    : einsum::impl::EinsumStreamTileStoresBase<EinsumStreamTileStores> {
  using Base::Base;

  void stream(vector::TransferWriteOp write) {
    auto type = dyn_cast<MemRefType>(write.getBase().getType());
    VectorType vector = write.getVectorType();
    if (!type || write.getMask() ||
        !write.getPermutationMap().isMinorIdentity() ||
        !llvm::all_of(write.getInBoundsValues(), [](bool b) { return b; }) ||
        type.getElementTypeBitWidth() % 8 != 0 ||
        rootBytes(write.getBase()) < einsum::streamBytes(l2Bytes, l3Bytes))
      return;
    std::optional<SmallVector<int64_t>> strides =
        einsum::unitInnerStrides(type);
    int64_t bytes = type.getElementTypeBitWidth() / 8;
    int64_t columns = vector.getShape().back();
    if (!strides || columns * bytes % einsum::kCacheLineBytes != 0)
      return;
    // Rows: the one other dimension of the vector with more than one
    // element, its stride whole cache lines.
    unsigned rank = type.getRank(), first = rank - vector.getRank();
    FailureOr<std::optional<unsigned>> rowDims =
        einsum::tileRowDimension(vector, rank);
    if (failed(rowDims))
      return;
    std::optional<unsigned> rowDim = *rowDims;
    int64_t rows = rowDim ? vector.getShape()[*rowDim - first] : 1;
    if (rowDim && (*strides)[*rowDim] * bytes % einsum::kCacheLineBytes != 0)
      return;

    OpBuilder b(write);
    Location loc = write.getLoc();
    auto index = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    // The address of the tile's first element.
    Value dst = write.getBase();
    auto meta = memref::ExtractStridedMetadataOp::create(b, loc, dst);
    Value element = meta.getOffset();
    for (auto [d, i] : llvm::enumerate(write.getIndices()))
      element = arith::AddIOp::create(
          b, loc, element,
          arith::MulIOp::create(b, loc, i, index((*strides)[d])));
    Value address = arith::AddIOp::create(
        b, loc, memref::ExtractAlignedPointerAsIndexOp::create(b, loc, dst),
        arith::MulIOp::create(b, loc, element, index(bytes)));
    Value aligned = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        arith::AndIOp::create(b, loc, address,
                              index(einsum::kCacheLineBytes - 1)),
        index(0));
    auto ifOp = scf::IfOp::create(b, loc, aligned, /*withElseRegion=*/true);
    b.setInsertionPointToStart(ifOp.thenBlock());
    Value tile = vector::ShapeCastOp::create(
        b, loc, VectorType::get({rows, columns}, vector.getElementType()),
        write.getVector());
    for (int64_t r = 0; r < rows; ++r) {
      SmallVector<Value> indices(write.getIndices());
      // The vector runs along the trailing dimensions: dimensions before
      // them take the write's indices as they are.
      if (rowDim && r > 0)
        indices[*rowDim] =
            arith::AddIOp::create(b, loc, indices[*rowDim], index(r));
      Value row = vector::ExtractOp::create(b, loc, tile, r);
      vector::StoreOp::create(b, loc, row, dst, indices, /*nontemporal=*/true,
                              llvm::MaybeAlign(einsum::kCacheLineBytes));
    }
    write->moveBefore(ifOp.elseBlock(), ifOp.elseBlock()->begin());
  }

  void runOnOperation() override {
    SmallVector<vector::TransferWriteOp> writes;
    getOperation().walk([&](scf::ForOp loop) {
      for (OpResult result : loop->getResults()) {
        if (!result.hasOneUse() || !writtenOnce(loop, result))
          continue;
        auto write = dyn_cast<vector::TransferWriteOp>(*result.user_begin());
        if (write && write.getVector() == result &&
            isa<MemRefType>(write.getBase().getType()))
          writes.push_back(write);
      }
    });
    for (vector::TransferWriteOp write : writes)
      stream(write);
  }
};
} // namespace
