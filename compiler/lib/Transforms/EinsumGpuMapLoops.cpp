//===- EinsumGpuMapLoops.cpp - Linalg ops as GPU-shaped parallel loops ----===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMGPUMAPLOOPS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

/// The loop order that puts the parallel loops first, led by the one that
/// indexes the result's contiguous dim, then the reductions; as old loop
/// numbers in their new order (interchangeGenericOp's vector).
static SmallVector<unsigned> gpuLoopOrder(linalg::LinalgOp op) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<unsigned> order;
  AffineMap result = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (result.getNumResults() > 0)
    if (auto dim = dyn_cast<AffineDimExpr>(result.getResults().back()))
      if (linalg::isParallelIterator(iterators[dim.getPosition()]))
        order.push_back(dim.getPosition());
  for (auto [d, type] : llvm::enumerate(iterators))
    if (linalg::isParallelIterator(type) && !llvm::is_contained(order, d))
      order.push_back(d);
  for (auto [d, type] : llvm::enumerate(iterators))
    if (!linalg::isParallelIterator(type))
      order.push_back(d);
  return order;
}

namespace {
/// A contraction `out[batch, m, n] += a[batch, m, k] * b[batch, k, n]`
/// whose loops each belong to one group: batch loops index all three
/// operands, M loops `a` and `out`, N loops `b` and `out`, K loops (the
/// reductions) `a` and `b`. Each group runs as one linear index,
/// delinearized over its loops (outermost first).
struct GemmShape {
  /// Operand numbers of `a` and `b` (swapped where the result's contiguous
  /// dim is an M loop, so that it is always N, on thread x).
  unsigned a = 0, b = 1;
  SmallVector<unsigned> batch, m, n, k;
  int64_t batchSize = 1, mSize = 1, nSize = 1, kSize = 1;
};
} // namespace

/// Where loop `d` is among `map`'s results; -1 when it is not.
static int resultOf(AffineMap map, unsigned d) {
  for (auto [i, e] : llvm::enumerate(map.getResults()))
    if (auto dim = dyn_cast<AffineDimExpr>(e); dim && dim.getPosition() == d)
      return i;
  return -1;
}

/// The GEMM shape of `op` when it is a multiply-accumulate of two float
/// operands (f32 or f64) that tiles well: every group but batch non-empty,
/// M, N and K at least `minSize`, grid dims within CUDA's limits.
static std::optional<GemmShape> matchGemm(linalg::GenericOp op,
                                          int64_t minSize) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !op.hasPureBufferSemantics())
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (AffineMap map : maps)
    if (!map.isProjectedPermutation(/*allowZeroInResults=*/false))
      return std::nullopt;
  Type type = cast<MemRefType>(op.getDpsInits()[0].getType()).getElementType();
  if (!type.isF32() && !type.isF64())
    return std::nullopt;
  for (Value v : op->getOperands()) {
    auto memref = dyn_cast<MemRefType>(v.getType());
    if (!memref || memref.getElementType() != type || !memref.hasStaticShape())
      return std::nullopt;
  }
  // The body: out + a * b, in either order.
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 3)
    return std::nullopt;
  auto mul = dyn_cast<arith::MulFOp>(&body.front());
  auto add =
      dyn_cast_if_present<arith::AddFOp>(mul ? mul->getNextNode() : nullptr);
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (!mul || !add || yield.getValues().size() != 1 ||
      yield.getValues()[0] != add.getResult())
    return std::nullopt;
  auto args = body.getArguments();
  auto isPair = [](Value x, Value y, Value p, Value q) {
    return (x == p && y == q) || (x == q && y == p);
  };
  if (!isPair(mul.getLhs(), mul.getRhs(), args[0], args[1]) ||
      !isPair(add.getLhs(), add.getRhs(), args[2], mul.getResult()))
    return std::nullopt;

  GemmShape g;
  AffineMap out = maps[2];
  if (out.getNumResults() == 0)
    return std::nullopt;
  unsigned inner = cast<AffineDimExpr>(out.getResults().back()).getPosition();
  if (resultOf(maps[0], inner) >= 0 && resultOf(maps[1], inner) < 0)
    std::swap(g.a, g.b);
  AffineMap a = maps[g.a], b = maps[g.b];
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<std::pair<int, unsigned>> batch, m, n, k;
  for (unsigned d = 0; d < op.getNumLoops(); ++d) {
    int inA = resultOf(a, d), inB = resultOf(b, d), inOut = resultOf(out, d);
    if (inA >= 0 && inB >= 0 && inOut >= 0)
      batch.push_back({inOut, d});
    else if (inA >= 0 && inOut >= 0 && inB < 0)
      m.push_back({inOut, d});
    else if (inB >= 0 && inOut >= 0 && inA < 0)
      n.push_back({inOut, d});
    else if (inA >= 0 && inB >= 0 && inOut < 0)
      k.push_back({inA, d});
    else
      return std::nullopt;
  }
  // Outermost first: each group's last loop is its fastest.
  auto take = [&](auto &pairs, SmallVector<unsigned> &dims, int64_t &size) {
    llvm::sort(pairs);
    for (auto [position, d] : pairs) {
      dims.push_back(d);
      size *= ranges[d];
    }
  };
  take(batch, g.batch, g.batchSize);
  take(m, g.m, g.mSize);
  take(n, g.n, g.nSize);
  take(k, g.k, g.kSize);
  if (g.m.empty() || g.n.empty() || g.k.empty() || g.mSize < minSize ||
      g.nSize < minSize || g.kSize < minSize || g.batchSize > 65535)
    return std::nullopt;
  return g;
}

/// Threads of a tiled kernel's block, and the elements each row of a
/// shared tile is padded by: a warp that stores down a column (an operand
/// contiguous along K) hits 8 banks, not 1; rows stay 16-byte aligned for
/// vector loads.
static constexpr int64_t kThreadsX = 16, kThreadsY = 16, kTilePad = 4;
/// CUDA's grid limits: blocks along x, and along y and z.
static constexpr int64_t kMaxGridX = (int64_t(1) << 31) - 1, kMaxGridYZ = 65535;
/// M, N and K below which a multiply-accumulate is not tiled.
static constexpr int64_t kMinGemmSize = 8;

namespace {
/// A tiled kernel's shape: a block computes blockM x blockN results from
/// blockK-deep tiles of a and b in shared memory; each thread keeps regM x
/// regN of them in registers (blockM / kThreadsY by blockN / kThreadsX).
struct GemmTiles {
  int64_t blockM, blockN, blockK, regM, regN;
};
} // namespace

/// The tiles for `g`: 128x128 results a block, 8x8 a thread, 8 deep, where
/// M and N fill them and the type is f32 (more results per shared load,
/// as in CUTLASS's SIMT SGEMM and the usual 2D block tiling); else 64x64,
/// 4x4 a thread, 16 deep (f64, whose 64 accumulators would take 128
/// registers, and products with an M or N under 128, such as attention's
/// weighted sum with d = 64, which 128-wide tiles would half waste).
static GemmTiles tilesFor(const GemmShape &g, Type type) {
  if (type.isF32() && g.mSize >= 128 && g.nSize >= 128)
    return {128, 128, 8, 8, 8};
  return {64, 64, 16, 4, 4};
}

/// The tiles of `g` along M and N.
static std::pair<int64_t, int64_t> tileCounts(const GemmShape &g, Type type) {
  GemmTiles tiles = tilesFor(g, type);
  return {llvm::divideCeil(g.mSize, tiles.blockM),
          llvm::divideCeil(g.nSize, tiles.blockN)};
}

/// Whether `g`'s tiles fit CUDA's grid: N tiles on x and M tiles on y, or
/// the other way round where there are more than 65535 M tiles.
static bool fitsGrid(const GemmShape &g, linalg::GenericOp op) {
  Type type = cast<MemRefType>(op.getDpsInits()[0].getType()).getElementType();
  auto [mTiles, nTiles] = tileCounts(g, type);
  return std::min(mTiles, nTiles) <= kMaxGridYZ &&
         std::max(mTiles, nTiles) <= kMaxGridX;
}

/// `linear` as indices of loops of `sizes`, outermost first.
static SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear,
                                      ArrayRef<int64_t> sizes) {
  SmallVector<Value> indices(sizes.size());
  for (int i = sizes.size() - 1; i >= 0; --i) {
    Value size = arith::ConstantIndexOp::create(b, loc, sizes[i]);
    indices[i] =
        i ? arith::RemUIOp::create(b, loc, linear, size).getResult() : linear;
    if (i)
      linear = arith::DivUIOp::create(b, loc, linear, size);
  }
  return indices;
}

/// Replaces `op` (matched by matchGemm) with a kernel that tiles it through
/// shared memory and registers (tilesFor). Each block runs a blockM x
/// blockN tile of one batch. Per blockK step its threads load a's and b's
/// tiles (reading along the operand's contiguous dim, so a warp's loads are
/// coalesced; out-of-range elements are zero), wait, and accumulate outer
/// products from shared memory into registers. At the end each thread adds
/// its results to `out` (which holds the linalg op's initial value), or to
/// `fill`, the value of a fill of `out` folded into the kernel.
static void emitTiledGemm(RewriterBase &rewriter, linalg::GenericOp op,
                          const GemmShape &g, std::optional<Value> fill) {
  Location loc = op.getLoc();
  MLIRContext *ctx = op.getContext();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  Value a = op.getDpsInputs()[g.a], b = op.getDpsInputs()[g.b];
  Value out = op.getDpsInits()[0];
  Type type = cast<MemRefType>(out.getType()).getElementType();
  const GemmTiles tiles = tilesFor(g, type);
  const int64_t blockM = tiles.blockM, blockN = tiles.blockN,
                blockK = tiles.blockK, regM = tiles.regM, regN = tiles.regN;
  auto sizesOf = [&](ArrayRef<unsigned> dims) {
    return llvm::map_to_vector(dims, [&](unsigned d) { return ranges[d]; });
  };
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };

  rewriter.setInsertionPoint(op);
  // N tiles on x, M tiles on y, unless there are more M tiles than y takes.
  auto [mTiles, nTiles] = tileCounts(g, type);
  bool mOnX = mTiles > kMaxGridYZ;
  auto launch = gpu::LaunchOp::create(
      rewriter, loc, cst(mOnX ? mTiles : nTiles), cst(mOnX ? nTiles : mTiles),
      cst(g.batchSize), cst(kThreadsX), cst(kThreadsY), cst(1));
  Value mBlock = mOnX ? launch.getBlockIds().x : launch.getBlockIds().y;
  Value nBlock = mOnX ? launch.getBlockIds().y : launch.getBlockIds().x;
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto tileType = [&](int64_t cols) {
    return MemRefType::get({blockK, cols + kTilePad}, type,
                           MemRefLayoutAttrInterface(), workgroup);
  };
  Value tileA = launch.addWorkgroupAttribution(tileType(blockM), loc);
  Value tileB = launch.addWorkgroupAttribution(tileType(blockN), loc);
  Block &body = launch.getBody().front();
  rewriter.setInsertionPointToEnd(&body);
  gpu::TerminatorOp end = gpu::TerminatorOp::create(rewriter, loc);
  rewriter.setInsertionPoint(end);

  Value tx = launch.getThreadIds().x, ty = launch.getThreadIds().y;
  Value tid = arith::AddIOp::create(
      rewriter, loc, arith::MulIOp::create(rewriter, loc, ty, cst(kThreadsX)),
      tx);
  Value mBase = arith::MulIOp::create(rewriter, loc, mBlock, cst(blockM));
  Value nBase = arith::MulIOp::create(rewriter, loc, nBlock, cst(blockN));
  // Loop d's index, per group, as the kernel computes them.
  DenseMap<unsigned, Value> index;
  auto assign = [&](OpBuilder &builder, ArrayRef<unsigned> dims, Value linear) {
    for (auto [d, v] :
         llvm::zip(dims, delinearize(builder, loc, linear, sizesOf(dims))))
      index[d] = v;
  };
  if (!g.batch.empty())
    assign(rewriter, g.batch, launch.getBlockIds().z);
  auto indicesOf = [&](AffineMap map) {
    return llvm::map_to_vector(map.getResults(), [&](AffineExpr e) {
      return index.lookup(cast<AffineDimExpr>(e).getPosition());
    });
  };
  Value zero = arith::ConstantOp::create(rewriter, loc, type,
                                         rewriter.getFloatAttr(type, 0));

  // One operand's tile: `rows` (its M or N group) by blockK, from the
  // block's `base` row and the step's `k0`.
  auto loadTile = [&](OpBuilder &builder, Value operand, AffineMap map,
                      ArrayRef<unsigned> rowDims, int64_t rowCount,
                      int64_t rowsPerBlock, Value base, Value k0, Value tile) {
    unsigned innermost =
        cast<AffineDimExpr>(map.getResults().back()).getPosition();
    bool rowsContiguous = llvm::is_contained(rowDims, innermost);
    int64_t elements = rowsPerBlock * blockK;
    for (int64_t r = 0; r < elements / (kThreadsX * kThreadsY); ++r) {
      Value e = arith::AddIOp::create(builder, loc, tid,
                                      cst(r * kThreadsX * kThreadsY));
      // Consecutive threads take consecutive elements along the operand's
      // contiguous dim.
      int64_t fast = rowsContiguous ? rowsPerBlock : blockK;
      Value lo = arith::RemUIOp::create(builder, loc, e, cst(fast));
      Value hi = arith::DivUIOp::create(builder, loc, e, cst(fast));
      Value row = rowsContiguous ? lo : hi, kk = rowsContiguous ? hi : lo;
      Value rowG = arith::AddIOp::create(builder, loc, base, row);
      Value kG = arith::AddIOp::create(builder, loc, k0, kk);
      Value inside = arith::AndIOp::create(
          builder, loc,
          arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::ult, rowG,
                                cst(rowCount)),
          arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::ult, kG,
                                cst(g.kSize)));
      // Out-of-range elements read a valid address and become zero.
      Value rowC =
          arith::MinUIOp::create(builder, loc, rowG, cst(rowCount - 1));
      Value kC = arith::MinUIOp::create(builder, loc, kG, cst(g.kSize - 1));
      assign(builder, rowDims, rowC);
      assign(builder, g.k, kC);
      Value v = memref::LoadOp::create(builder, loc, operand, indicesOf(map));
      v = arith::SelectOp::create(builder, loc, inside, v, zero);
      memref::StoreOp::create(builder, loc, v, tile, ValueRange{kk, row});
    }
  };

  // Thread (tx, ty) computes rows ty * regM + i and columns tx * regN + j
  // of the block's tile.
  Value rowStart = arith::MulIOp::create(rewriter, loc, ty, cst(regM));
  Value colStart = arith::MulIOp::create(rewriter, loc, tx, cst(regN));
  auto rowOf = [&](OpBuilder &builder, int64_t i) -> Value {
    return arith::AddIOp::create(builder, loc, rowStart, cst(i));
  };
  auto colOf = [&](OpBuilder &builder, int64_t j) -> Value {
    return arith::AddIOp::create(builder, loc, colStart, cst(j));
  };
  // Multiply-adds the backend fuses into FMAs (math.fma would call
  // libdevice's __nv_fmaf).
  auto contract =
      arith::FastMathFlagsAttr::get(ctx, arith::FastMathFlags::contract);
  SmallVector<Value> init(regM * regN, zero);
  auto kLoop = scf::ForOp::create(
      rewriter, loc, cst(0), cst(g.kSize), cst(blockK), init,
      [&](OpBuilder &builder, Location, Value k0, ValueRange accs) {
        loadTile(builder, a, maps[g.a], g.m, g.mSize, blockM, mBase, k0, tileA);
        loadTile(builder, b, maps[g.b], g.n, g.nSize, blockN, nBase, k0, tileB);
        gpu::BarrierOp::create(builder, loc);
        // The step's outer products, unrolled: each thread's rows and
        // columns are consecutive, so its reads of a tile are vector loads.
        SmallVector<Value> sums(accs.begin(), accs.end());
        for (int64_t kk = 0; kk < blockK; ++kk) {
          SmallVector<Value> as, bs;
          for (int64_t i = 0; i < regM; ++i)
            as.push_back(memref::LoadOp::create(
                builder, loc, tileA, ValueRange{cst(kk), rowOf(builder, i)}));
          for (int64_t j = 0; j < regN; ++j)
            bs.push_back(memref::LoadOp::create(
                builder, loc, tileB, ValueRange{cst(kk), colOf(builder, j)}));
          for (int64_t i = 0; i < regM; ++i)
            for (int64_t j = 0; j < regN; ++j)
              sums[i * regN + j] = arith::AddFOp::create(
                  builder, loc, sums[i * regN + j],
                  arith::MulFOp::create(builder, loc, as[i], bs[j], contract),
                  contract);
        }
        // The tiles are read by every thread before the next step writes.
        gpu::BarrierOp::create(builder, loc);
        scf::YieldOp::create(builder, loc, sums);
      });

  // Each thread adds its results to `out`, where they exist.
  for (int64_t i = 0; i < regM; ++i) {
    Value mG = arith::AddIOp::create(rewriter, loc, mBase, rowOf(rewriter, i));
    for (int64_t j = 0; j < regN; ++j) {
      Value nG =
          arith::AddIOp::create(rewriter, loc, nBase, colOf(rewriter, j));
      Value inside = arith::AndIOp::create(
          rewriter, loc,
          arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::ult, mG,
                                cst(g.mSize)),
          arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::ult, nG,
                                cst(g.nSize)));
      auto store = scf::IfOp::create(rewriter, loc, inside, false);
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&store.getThenRegion().front());
      assign(rewriter, g.m, mG);
      assign(rewriter, g.n, nG);
      SmallVector<Value> at = indicesOf(maps[2]);
      Value old = fill ? *fill : memref::LoadOp::create(rewriter, loc, out, at);
      Value sum = arith::AddFOp::create(rewriter, loc, old,
                                        kLoop.getResult(i * regN + j));
      memref::StoreOp::create(rewriter, loc, sum, out, at);
    }
  }
  rewriter.eraseOp(op);
}

/// Threads of a block that reduces one result.
static constexpr int64_t kReduceThreads = 256;
/// A reduction with fewer results than this splits each result's terms
/// between blocks, so that about this many run, each thread summing at
/// least kReduceTermsPerThread terms.
static constexpr int64_t kReduceBlocks = 1024, kReduceTermsPerThread = 16;

/// Whether `op` is a sum `out + X` (X computed from the inputs alone) that
/// runs better with a block per result than a thread per result: its
/// reductions are long and either it has few results (a thread each would
/// leave the GPU idle: `i->`, `ijk->j`) or an input is contiguous along a
/// reduction (a warp's threads would read strided: `ij->i`). `add` is the
/// body's final addition.
static bool matchBlockReduction(linalg::GenericOp op, Operation *&add) {
  if (op.getNumDpsInits() != 1 || op.getNumReductionLoops() == 0 ||
      !op.hasPureBufferSemantics())
    return false;
  // Inputs may have unit dims indexed by 0 (softmax's row maxima, [r, 1]).
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (auto [i, map] : llvm::enumerate(maps))
    if (!map.isProjectedPermutation(/*allowZeroInResults=*/i + 1 < maps.size()))
      return false;
  for (Value v : op->getOperands()) {
    auto memref = dyn_cast<MemRefType>(v.getType());
    if (!memref || !memref.hasStaticShape())
      return false;
  }
  Block &body = op.getRegion().front();
  BlockArgument out = body.getArgument(op.getNumDpsInputs());
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (yield.getValues().size() != 1 || !out.hasOneUse())
    return false;
  add = yield.getValues()[0].getDefiningOp();
  if (!add || !isa<arith::AddFOp, arith::AddIOp>(add) ||
      !llvm::is_contained(add->getOperands(), out))
    return false;
  int64_t results = 1, reduced = 1;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (auto [range, type] : llvm::zip(ranges, iterators))
    (linalg::isParallelIterator(type) ? results : reduced) *= range;
  if (reduced < 128 || results > (int64_t(1) << 31) - 1)
    return false;
  bool strided = llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *in) {
    AffineMap map = op.getMatchingIndexingMap(in);
    if (map.getNumResults() == 0)
      return false;
    auto dim = dyn_cast<AffineDimExpr>(map.getResults().back());
    return dim && !linalg::isParallelIterator(iterators[dim.getPosition()]);
  });
  return results < 8192 || strided;
}

/// Replaces `op` (matched by matchBlockReduction, its final addition `add`)
/// with a kernel of one block per result: the block's threads take the
/// reduction's iterations in turn (consecutive threads along the first
/// input's contiguous dim, so their loads are coalesced), each summing its
/// own, then add their sums up in shared memory in a tree, and thread 0
/// adds the total to the result (or to `init`, the value of a fill of the
/// result folded into the kernel).
static void emitBlockReduction(RewriterBase &rewriter, linalg::GenericOp op,
                               Operation *add, std::optional<Value> init) {
  Location loc = op.getLoc();
  MLIRContext *ctx = op.getContext();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  Value out = op.getDpsInits()[0];
  Type type = cast<MemRefType>(out.getType()).getElementType();
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  };
  // Parallel loops outermost first as the result has them; reductions as
  // the first input has them (its contiguous dim fastest), then the rest.
  AffineMap first = op.getNumDpsInputs() ? maps[0] : maps.back();
  SmallVector<std::pair<int, unsigned>> parallelOrder, reductionOrder;
  for (unsigned d = 0; d < op.getNumLoops(); ++d) {
    if (linalg::isParallelIterator(iterators[d])) {
      parallelOrder.push_back({resultOf(maps.back(), d), d});
    } else {
      int at = resultOf(first, d);
      reductionOrder.push_back({at < 0 ? -1 : at, d});
    }
  }
  llvm::sort(parallelOrder);
  llvm::sort(reductionOrder);
  SmallVector<unsigned> parallel, reduction;
  SmallVector<int64_t> parallelSizes, reductionSizes;
  int64_t results = 1, reduced = 1;
  for (auto [position, d] : parallelOrder) {
    parallel.push_back(d);
    parallelSizes.push_back(ranges[d]);
    results *= ranges[d];
  }
  for (auto [position, d] : reductionOrder) {
    reduction.push_back(d);
    reductionSizes.push_back(ranges[d]);
    reduced *= ranges[d];
  }

  auto combine = [&](OpBuilder &b, Value x, Value y) -> Value {
    if (isa<FloatType>(type))
      return arith::AddFOp::create(b, loc, x, y);
    return arith::AddIOp::create(b, loc, x, y);
  };
  Value zero = arith::ConstantOp::create(rewriter, loc, type,
                                         rewriter.getZeroAttr(type));
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto sharedType = MemRefType::get({kReduceThreads}, type,
                                    MemRefLayoutAttrInterface(), workgroup);
  // A launch of `blocks` blocks of kReduceThreads threads, its insertion
  // point before its terminator.
  auto makeLaunch = [&](int64_t blocks) {
    auto launch =
        gpu::LaunchOp::create(rewriter, loc, cst(blocks), cst(1), cst(1),
                              cst(kReduceThreads), cst(1), cst(1));
    launch.addWorkgroupAttribution(sharedType, loc);
    Block &block = launch.getBody().front();
    rewriter.setInsertionPointToEnd(&block);
    gpu::TerminatorOp end = gpu::TerminatorOp::create(rewriter, loc);
    rewriter.setInsertionPoint(end);
    return launch;
  };
  // Adds up each thread's `mine` in shared memory, in a tree; then, in
  // thread 0, calls `finish` with the block's total.
  auto blockTotal = [&](gpu::LaunchOp launch, Value mine,
                        function_ref<void(Value)> finish) {
    Value sums = launch.getWorkgroupAttributions()[0];
    Value tid = launch.getThreadIds().x;
    memref::StoreOp::create(rewriter, loc, mine, sums, tid);
    gpu::BarrierOp::create(rewriter, loc);
    for (int64_t half = kReduceThreads / 2; half >= 1; half /= 2) {
      Value active = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::ult, tid, cst(half));
      auto step = scf::IfOp::create(rewriter, loc, active, false);
      {
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPointToStart(&step.getThenRegion().front());
        Value other = arith::AddIOp::create(rewriter, loc, tid, cst(half));
        Value a = memref::LoadOp::create(rewriter, loc, sums, tid);
        Value b = memref::LoadOp::create(rewriter, loc, sums, other);
        memref::StoreOp::create(rewriter, loc, combine(rewriter, a, b), sums,
                                tid);
      }
      gpu::BarrierOp::create(rewriter, loc);
    }
    Value leader = arith::CmpIOp::create(rewriter, loc,
                                         arith::CmpIPredicate::eq, tid, cst(0));
    auto write = scf::IfOp::create(rewriter, loc, leader, false);
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&write.getThenRegion().front());
    finish(memref::LoadOp::create(rewriter, loc, sums, cst(0)));
  };

  // Few results over very many terms (`i->`): each result's terms are
  // split between `chunks` blocks, which write partial sums, and a second
  // launch adds each result's partials (in a fixed order: the sum does not
  // depend on timing, as atomics would make it).
  int64_t chunks = 1;
  if (results < kReduceBlocks)
    chunks = std::max<int64_t>(
        1,
        std::min<int64_t>(llvm::divideCeil(kReduceBlocks, results),
                          reduced / (kReduceThreads * kReduceTermsPerThread)));
  rewriter.setInsertionPoint(op);
  Value partials;
  if (chunks > 1)
    partials = gpu::AllocOp::create(
                   rewriter, loc, MemRefType::get({results * chunks}, type),
                   /*asyncToken=*/Type(), /*asyncDependencies=*/ValueRange(),
                   /*dynamicSizes=*/ValueRange(),
                   /*symbolOperands=*/ValueRange(), /*hostShared=*/false)
                   .getMemref();

  gpu::LaunchOp launch = makeLaunch(results * chunks);
  Value tid = launch.getThreadIds().x;
  Value blockId = launch.getBlockIds().x;
  Value result = blockId, chunk = cst(0);
  if (chunks > 1) {
    result = arith::DivUIOp::create(rewriter, loc, blockId, cst(chunks));
    chunk = arith::RemUIOp::create(rewriter, loc, blockId, cst(chunks));
  }
  DenseMap<unsigned, Value> index;
  if (!parallel.empty())
    for (auto [d, v] :
         llvm::zip(parallel, delinearize(rewriter, loc, result, parallelSizes)))
      index[d] = v;
  // A result of an input's map is a loop or the constant 0 (a unit dim).
  auto indicesOf = [&](AffineMap map) {
    return llvm::map_to_vector(map.getResults(), [&](AffineExpr e) {
      if (auto dim = dyn_cast<AffineDimExpr>(e))
        return index.lookup(dim.getPosition());
      return cst(0);
    });
  };
  SmallVector<Value> at = indicesOf(maps.back());
  Block &body = op.getRegion().front();
  Value term = add->getOperand(0) == body.getArgument(op.getNumDpsInputs())
                   ? add->getOperand(1)
                   : add->getOperand(0);
  // The block's threads take its terms in turn: consecutive threads read
  // consecutive terms, and the blocks of a result interleave.
  Value firstTerm = arith::AddIOp::create(
      rewriter, loc,
      arith::MulIOp::create(rewriter, loc, chunk, cst(kReduceThreads)), tid);
  auto loop = scf::ForOp::create(
      rewriter, loc, firstTerm, cst(reduced), cst(kReduceThreads * chunks),
      ValueRange{zero}, [&](OpBuilder &b, Location, Value r, ValueRange acc) {
        for (auto [d, v] :
             llvm::zip(reduction, delinearize(b, loc, r, reductionSizes)))
          index[d] = v;
        IRMapping mapping;
        for (OpOperand *in : op.getDpsInputOperands())
          mapping.map(
              body.getArgument(in->getOperandNumber()),
              memref::LoadOp::create(b, loc, in->get(),
                                     indicesOf(op.getMatchingIndexingMap(in))));
        for (Operation &inner : body.without_terminator())
          if (&inner != add)
            b.clone(inner, mapping);
        scf::YieldOp::create(b, loc,
                             combine(b, acc[0], mapping.lookupOrDefault(term)));
      });
  auto addToResult = [&](Value total) {
    Value old = init ? *init : memref::LoadOp::create(rewriter, loc, out, at);
    memref::StoreOp::create(rewriter, loc, combine(rewriter, old, total), out,
                            at);
  };
  if (chunks == 1) {
    blockTotal(launch, loop.getResult(0), addToResult);
    rewriter.eraseOp(op);
    return;
  }
  blockTotal(launch, loop.getResult(0), [&](Value total) {
    memref::StoreOp::create(rewriter, loc, total, partials, blockId);
  });

  rewriter.setInsertionPoint(op);
  gpu::LaunchOp second = makeLaunch(results);
  Value secondTid = second.getThreadIds().x;
  index.clear();
  if (!parallel.empty())
    for (auto [d, v] :
         llvm::zip(parallel, delinearize(rewriter, loc, second.getBlockIds().x,
                                         parallelSizes)))
      index[d] = v;
  at = indicesOf(maps.back());
  Value base =
      arith::MulIOp::create(rewriter, loc, second.getBlockIds().x, cst(chunks));
  auto gather = scf::ForOp::create(
      rewriter, loc, secondTid, cst(chunks), cst(kReduceThreads),
      ValueRange{zero}, [&](OpBuilder &b, Location, Value c, ValueRange acc) {
        Value at = arith::AddIOp::create(b, loc, base, c);
        Value part = memref::LoadOp::create(b, loc, partials, at);
        scf::YieldOp::create(b, loc, combine(b, acc[0], part));
      });
  blockTotal(second, gather.getResult(0), addToResult);
  rewriter.setInsertionPoint(op);
  gpu::DeallocOp::create(rewriter, loc, /*asyncToken=*/Type(),
                         /*asyncDependencies=*/ValueRange(), partials);
  rewriter.eraseOp(op);
}

/// Maps a tiled loop nest to the GPU (gpu-map-parallel-loops then leaves
/// it as it is): the inner loop's dims to threads x, y and z in order (the
/// first indexes the result's contiguous dim); the outer loop's dims, the
/// tiles of `ranges` by `sizes`, to blocks, the most tiles on x (up to
/// 2^31 - 1) and the next on y and z (up to 65535 each). A dim over its
/// limit, or past the third, runs as a loop in each block. Mapping in order
/// put a second dim of 125000 tiles (`ij->ji`, 3 x 1000000) on y.
static void mapToBlocksAndThreads(scf::ParallelOp blocks,
                                  scf::ParallelOp threads,
                                  ArrayRef<int64_t> ranges,
                                  ArrayRef<int64_t> sizes) {
  MLIRContext *ctx = blocks.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, ctx);
  auto attr = [&](gpu::Processor p) {
    return gpu::ParallelLoopDimMappingAttr::get(ctx, p, identity, identity);
  };
  SmallVector<gpu::ParallelLoopDimMappingAttr> threadMap,
      blockMap(ranges.size(), attr(gpu::Processor::Sequential));
  const gpu::Processor threadIds[] = {gpu::Processor::ThreadX,
                                      gpu::Processor::ThreadY,
                                      gpu::Processor::ThreadZ};
  for (size_t d = 0; d < ranges.size(); ++d)
    threadMap.push_back(
        attr(d < 3 ? threadIds[d] : gpu::Processor::Sequential));
  SmallVector<size_t> order =
      llvm::to_vector(llvm::seq<size_t>(0, ranges.size()));
  auto tiles = [&](size_t d) { return llvm::divideCeil(ranges[d], sizes[d]); };
  llvm::stable_sort(order,
                    [&](size_t a, size_t b) { return tiles(a) > tiles(b); });
  const gpu::Processor blockIds[] = {
      gpu::Processor::BlockX, gpu::Processor::BlockY, gpu::Processor::BlockZ};
  size_t next = 0;
  for (size_t d : order) {
    if (next == 3)
      break;
    if (tiles(d) > (next == 0 ? kMaxGridX : kMaxGridYZ))
      continue;
    blockMap[d] = attr(blockIds[next++]);
  }
  (void)gpu::setMappingAttr(blocks, blockMap);
  (void)gpu::setMappingAttr(threads, threadMap);
}

/// The buffer that `v` views (through subviews, reshapes and casts).
static Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// The fill of exactly `result` earlier in `op`'s block, when no op
/// between them, and no input of `op`, views the same buffer.
static linalg::FillOp fillBefore(linalg::GenericOp op, Value result) {
  Value root = rootBuffer(result);
  for (Value input : op.getDpsInputs())
    if (rootBuffer(input) == root)
      return {};
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    auto fill = dyn_cast<linalg::FillOp>(prev);
    if (fill && fill.hasPureBufferSemantics() &&
        fill.getDpsInits()[0] == result)
      return fill;
    if (prev->getNumRegions() > 0)
      return {};
    for (Value operand : prev->getOperands())
      if (isa<MemRefType>(operand.getType()) && rootBuffer(operand) == root)
        return {};
  }
  return {};
}

namespace {
struct EinsumGpuMapLoops
    : einsum::impl::EinsumGpuMapLoopsBase<EinsumGpuMapLoops> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    IRRewriter rewriter(&getContext());
    // Intermediates live on the device, as the arguments do.
    func.walk([&](memref::AllocOp alloc) {
      rewriter.setInsertionPoint(alloc);
      auto device = gpu::AllocOp::create(
          rewriter, alloc.getLoc(), alloc.getType(), /*asyncToken=*/Type(),
          /*asyncDependencies=*/ValueRange(), alloc.getDynamicSizes(),
          alloc.getSymbolOperands(), /*hostShared=*/false);
      rewriter.replaceOp(alloc, device.getMemref());
    });
    // A copy between device buffers (an einsum that only copies, `i->i`)
    // runs on the device, not as a host memcpy of device pointers.
    func.walk([&](memref::CopyOp copy) {
      rewriter.setInsertionPoint(copy);
      gpu::MemcpyOp::create(rewriter, copy.getLoc(), /*asyncToken=*/Type(),
                            /*asyncDependencies=*/ValueRange(),
                            copy.getTarget(), copy.getSource());
      rewriter.eraseOp(copy);
    });
    func.walk([&](memref::DeallocOp dealloc) {
      rewriter.setInsertionPoint(dealloc);
      gpu::DeallocOp::create(rewriter, dealloc.getLoc(), /*asyncToken=*/Type(),
                             /*asyncDependencies=*/ValueRange(),
                             dealloc.getMemref());
      rewriter.eraseOp(dealloc);
    });

    // A fill of the result of a reduction (a tiled GEMM's, a block
    // reduction's or a thread per result's), with nothing between them that
    // touches its buffer, is no launch of its own: the kernel adds to the
    // fill value, or each thread stores it first. A full reduction folds
    // its fill only as a block reduction (its one-thread kernel reads the
    // result).
    DenseMap<Operation *, Value> folded;
    SmallVector<linalg::FillOp> foldedFills;
    func.walk([&](linalg::GenericOp op) {
      if (op.getNumDpsInits() != 1 || op.getNumReductionLoops() == 0 ||
          !op.getIndexingMapsArray().back().isProjectedPermutation())
        return;
      Value result = op.getDpsInits()[0];
      linalg::FillOp fill = fillBefore(op, result);
      if (!fill || fill.getInputs()[0].getType() !=
                       getElementTypeOrSelf(result.getType()))
        return;
      Operation *add = nullptr;
      if (op.getNumParallelLoops() > 0 ||
          (reduceInBlocks && matchBlockReduction(op, add))) {
        folded[op] = fill.getInputs()[0];
        foldedFills.push_back(fill);
      }
    });
    for (linalg::FillOp fill : foldedFills)
      rewriter.eraseOp(fill);

    SmallVector<linalg::LinalgOp> ops;
    func.walk([&](linalg::LinalgOp op) { ops.push_back(op); });
    for (linalg::LinalgOp op : ops) {
      if (!op.hasPureBufferSemantics()) {
        op->emitError("einsum-gpu-map-loops runs after bufferization");
        return signalPassFailure();
      }
      rewriter.setInsertionPoint(op);
      if (!isa<linalg::GenericOp>(op)) {
        FailureOr<linalg::GenericOp> generic =
            linalg::generalizeNamedOp(rewriter, op);
        if (failed(generic)) {
          op->emitError("einsum-gpu-map-loops cannot run this op on the GPU");
          return signalPassFailure();
        }
        op = *generic;
      }
      auto generic = cast<linalg::GenericOp>(op);
      std::optional<Value> init;
      if (auto it = folded.find(generic); it != folded.end())
        init = it->second;
      if (tileGemm)
        if (std::optional<GemmShape> gemm = matchGemm(generic, kMinGemmSize);
            gemm && fitsGrid(*gemm, generic)) {
          emitTiledGemm(rewriter, generic, *gemm, init);
          continue;
        }
      if (reduceInBlocks) {
        Operation *add = nullptr;
        if (matchBlockReduction(generic, add)) {
          emitBlockReduction(rewriter, generic, add, init);
          continue;
        }
      }
      if (init && generic.getNumParallelLoops() == 0) {
        generic->emitError("a folded fill lost its kernel");
        return signalPassFailure();
      }
      if (generic.getNumParallelLoops() == 0) {
        // A full reduction (or a 0-d op): one device thread runs it, in a
        // launch of its own (never the host: its operands are device
        // memory; a parallel loop of one iteration would fold away).
        Location loc = generic.getLoc();
        Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
        auto launch =
            gpu::LaunchOp::create(rewriter, loc, one, one, one, one, one, one);
        rewriter.setInsertionPointToEnd(&launch.getBody().front());
        auto end = gpu::TerminatorOp::create(rewriter, loc);
        generic->moveBefore(end);
        rewriter.setInsertionPoint(generic);
        if (failed(linalg::linalgOpToLoops(rewriter, generic))) {
          generic->emitError("cannot make loops of this op");
          return signalPassFailure();
        }
        rewriter.eraseOp(generic);
        continue;
      }
      SmallVector<unsigned> order = gpuLoopOrder(generic);
      if (!llvm::equal(order, llvm::seq<unsigned>(0, order.size()))) {
        FailureOr<linalg::GenericOp> moved =
            linalg::interchangeGenericOp(rewriter, generic, order);
        if (failed(moved)) {
          generic->emitError("cannot order the loops for the GPU");
          return signalPassFailure();
        }
        generic = *moved;
      }
      rewriter.setInsertionPoint(generic);
      FailureOr<linalg::LinalgLoops> loops =
          linalg::linalgOpToParallelLoops(rewriter, generic);
      if (failed(loops)) {
        generic->emitError("cannot make parallel loops of this op");
        return signalPassFailure();
      }
      AffineMap resultMap = generic.getIndexingMapsArray().back();
      Value result = generic.getDpsInits()[0];
      rewriter.eraseOp(generic);
      auto parallel = cast<scf::ParallelOp>(loops->front());
      size_t rank = parallel.getNumLoops();
      if (init) {
        // The folded fill: each thread stores the fill value into its
        // result before it runs the reductions.
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPointToStart(parallel.getBody());
        SmallVector<Value> at;
        for (AffineExpr e : resultMap.getResults()) {
          unsigned d = cast<AffineDimExpr>(e).getPosition();
          if (d >= rank) {
            parallel->emitError("a folded fill's result is not indexed by "
                                "the parallel loops");
            return signalPassFailure();
          }
          at.push_back(parallel.getInductionVars()[d]);
        }
        memref::StoreOp::create(rewriter, parallel.getLoc(), *init, result, at);
      }
      SmallVector<int64_t> sizes(rank, 1);
      sizes[0] = rank == 1 ? tileX * tileY : tileX;
      if (rank > 1)
        sizes[1] = tileY;
      SmallVector<int64_t> ranges =
          llvm::map_to_vector(parallel.getUpperBound(),
                              [](Value v) { return *getConstantIntValue(v); });
      auto [blocks, threads] =
          scf::tileParallelLoop(parallel, sizes, /*noMinMaxBounds=*/false);
      mapToBlocksAndThreads(blocks, threads, ranges, sizes);
    }
    // Fold the tile arithmetic to constants, which convert-parallel-loops-
    // to-gpu needs for the launch bounds. Folding only: canonicalization
    // would merge the thread loop into the block loop where a tile covers
    // a whole dim, leaving one thread per block.
    GreedyRewriteConfig config;
    config.enableFolding();
    (void)applyPatternsGreedily(func, FrozenRewritePatternSet(), config);
  }
};
} // namespace
