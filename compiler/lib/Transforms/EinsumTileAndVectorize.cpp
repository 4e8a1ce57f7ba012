//===- EinsumTileAndVectorize.cpp - Tile and vectorize contractions -------===//
//
// Static tiling and vectorization of register tiles; the algorithm is in
// Passes.td. Four kinds of ops: einsum-pack-contractions' micro-kernels
// (BLIS' loops), copies that keep rows (rows of registers), transposing
// copies (square blocks of cache lines), and every other
// linalg.generic (direct outer-product or partial-sum kernels, remainders
// split off so that every tile is static: no masks).
//
//===----------------------------------------------------------------------===//

#include "einjit/Dialect/Einsum/IR/EinsumOps.h"
#include "einjit/Spec/Limits.h"
#include "einjit/Transforms/InitFill.h"
#include "einjit/Transforms/KernelChoice.h"
#include "einjit/Transforms/Passes.h"
#include "einjit/Transforms/RegisterTile.h"
#include "einjit/Transforms/ThreadWork.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

#include <numeric>

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMTILEANDVECTORIZE
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;
using einsum::dropInitFill;
using einsum::fillInit;
using einsum::kCacheLineBytes;
using einsum::streamBytes;

using einsum::tileFor;

namespace {
struct TileSizes {
  SmallVector<int64_t> cache;
  SmallVector<int64_t> reg;
  bool vectorize = true;
};

/// Partial sums whose rows are read one at a time, in memory order
/// (tileAndVectorize's `rows`): the threads that take their blocks and the
/// L2 that holds a block's accumulators.
struct RowStream {
  int64_t threads = 1;
  int64_t l2Bytes = 0;
};

/// Inputs larger than `cachedBytes` (0: unknown) stream from beyond the
/// L2, larger than `memoryBytes` from memory; `threads` may share a loop
/// nest (fewRowsBlocks).
struct MemoryStream {
  int64_t cachedBytes = 0;
  int64_t threads = 1;
  int64_t memoryBytes = 0;
};
} // namespace

/// Bytes of a tensor or memref of type `type` (elements of at least 1 byte).
static int64_t byteSize(Type type) {
  auto shaped = cast<ShapedType>(type);
  return einjit::saturatingProduct(
      {shaped.getNumElements(),
       std::max<int64_t>(1, shaped.getElementTypeBitWidth() / 8)});
}

/// Elements of the accumulator type in one SIMD register.
static int64_t simdLanes(linalg::LinalgOp op, unsigned vectorBits) {
  return einsum::simdLanes(op.getDpsInits()[0].getType(), vectorBits);
}

/// Bytes of one element of the result (at least 1).
static int64_t resultElementBytes(linalg::LinalgOp op) {
  return std::max<int64_t>(1,
                           getElementTypeOrSelf(op.getDpsInits()[0].getType())
                                   .getIntOrFloatBitWidth() /
                               8);
}

using einsum::registerRows;

/// Register-tile rows for `rows` rows of `op`: registerRows(), or for a
/// contraction a count that divides them (evenRows, two accumulator
/// registers per row), so that no thin remainder tile reads the right
/// input again (EinsumDense at t = 20: two tiles of 10 rows, not 16 + 4).
static int64_t tileRows(linalg::LinalgOp op, int64_t rows,
                        unsigned vectorRegisters) {
  int64_t mr = registerRows(vectorRegisters);
  if (op.getNumReductionLoops() == 0)
    return mr;
  return einsum::evenRows(rows, mr, /*registersPerRow=*/2, vectorRegisters);
}

/// The register tile's rows for `rows` rows of `op`: tileRows(), or a
/// divisor of the rows under it.
static int64_t tileRowsFor(linalg::LinalgOp op, int64_t rows,
                           unsigned vectorRegisters) {
  return tileFor(rows, tileRows(op, rows, vectorRegisters));
}

/// A tile of whole registers of `lanes` along a loop of `range` (a multiple
/// of `lanes`): the widest that divides it, of at most `registers` and a
/// power-of-two count of them. LLVM halves a vector of 3 or 6 registers
/// (48 or 96 f32 lanes) into pieces that are not whole registers, and
/// builds them lane by lane: on one Zen 4 core, `ij,jk->ik` at 1 x 4096 by
/// 4096 x 96 took 0.113 ms in one tile of 96 columns, 0.019 in tiles of
/// 32; `ijk,ij->k` at 200x300x100 by 200x300 (column sums of 96 + 4
/// columns) 1.72 ms in tiles of 48, 0.56 in tiles of 32.
static int64_t wholeRegisters(int64_t range, int64_t registers, int64_t lanes) {
  int64_t count = int64_t(llvm::bit_floor(uint64_t(registers)));
  while (count > 1 && range % (count * lanes) != 0)
    count /= 2;
  return count * lanes;
}

/// Register-tile columns for `columns` columns: up to two SIMD registers,
/// whole ones where the range allows (48 -> 16, not 24).
static int64_t tileColumns(int64_t columns, int64_t lanes) {
  return columns % lanes == 0 ? tileFor(columns, 2 * lanes, lanes)
                              : tileFor(columns, 2 * lanes);
}

/// Register-tile columns of a loop nest of `ranges` (tileColumns). A
/// reduction into a single row (a vector times a matrix: attention's
/// weighted sum at q = 1) has no rows to share its loads, so its tile
/// takes whole matrix rows, up to 8 registers: in tiles of two it read
/// each row in passes 128 bytes wide (`bhqk,bhkd->bhqd` at 8x16x1x1000 by
/// 8x16x1000x128 on one Zen 4 core: 5.2 ms in tiles of 32 columns, 2.4 in
/// tiles of 64, 1.9 in one tile of 128). Two rows take 4 registers each,
/// so that 8 chains of FMAs hide their latency, as one row's 8 do.
static int64_t tileColumnsFor(linalg::LinalgOp op, ArrayRef<int64_t> ranges,
                              int64_t lanes, unsigned vectorRegisters) {
  SmallVector<unsigned> parallel;
  op.getParallelDims(parallel);
  int64_t columns = ranges[parallel.back()];
  int64_t rows =
      parallel.size() == 1 ? 1 : ranges[parallel[parallel.size() - 2]];
  int64_t perRow = std::min<int64_t>(8, vectorRegisters / 2) / rows;
  if (perRow > 2 && op.getNumReductionLoops() > 0 && columns % lanes == 0)
    return wholeRegisters(columns, perRow, lanes);
  return tileColumns(columns, lanes);
}

/// Picks cache and register tiles for a loop nest.
static TileSizes chooseTiles(linalg::LinalgOp op, unsigned vectorBits,
                             unsigned vectorRegisters,
                             std::optional<RowStream> rows = std::nullopt) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t lanes = simdLanes(op, vectorBits);
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);

  TileSizes t;
  t.cache.assign(ranges.size(), 1);
  t.reg.assign(ranges.size(), 1);
  // Register tile: the innermost parallel loop is the SIMD dimension (the
  // result is contiguous along it), two registers wide; the next one gives
  // registerRows() rows; reductions step one at a time (outer products).
  // 8 x 2 accumulator registers measured best among 4-16 rows x 1-4
  // registers on AVX-512 (docs/performance.md); AVX2's 16 registers hold
  // 6 x 2 (BLIS's haswell tile). Without parallel loops, the innermost
  // reduction is vectorized instead.
  if (!parallel.empty()) {
    unsigned inner = parallel.back();
    t.reg[inner] = tileColumnsFor(op, ranges, lanes, vectorRegisters);
    t.cache[inner] = tileFor(ranges[inner], 128, t.reg[inner]);
    if (parallel.size() > 1) {
      unsigned outer = parallel[parallel.size() - 2];
      t.reg[outer] = tileRowsFor(op, ranges[outer], vectorRegisters);
      t.cache[outer] = tileFor(ranges[outer], 64, t.reg[outer]);
      // One row at a time, all of its (up to 4) registers: the rows stream
      // in memory order (see tileForPartialReduction). A block's rows are
      // read one after the other, and the next block of rows starts a new
      // stream (`ijk->j` reads 64 rows of each `i` per block of 64 `j`), so
      // blocks are as long as their accumulators fit half the L2: one per
      // thread. `ijk->j` at 256^3 on Zen 4 (`einsum-run --bench`, min):
      // 2.18-2.20 ms in blocks of 64 rows, 2.01-2.02 in one block; on two
      // threads 1.44-1.45 in four blocks, 1.34-1.36 in two.
      // Widths that whole registers do not divide (partialSumWidths' 50)
      // are read as whole rows too: 3 registers and a piece of 2, where
      // register tiles of 25 columns had a piece of 1 in each.
      if (rows && ranges[inner] <= 4 * lanes) {
        t.reg[outer] = 1;
        t.reg[inner] = t.cache[inner] = ranges[inner];
        int64_t rowBytes =
            einjit::saturatingProduct({ranges[inner], resultElementBytes(op)});
        int64_t fit = std::max<int64_t>(1, rows->l2Bytes / 2 / rowBytes);
        t.cache[outer] = std::min<int64_t>(
            fit, llvm::divideCeil(ranges[outer],
                                  std::max<int64_t>(1, rows->threads)));
      }
    }
    if (!reduction.empty()) {
      unsigned red = reduction.back();
      t.cache[red] = tileFor(ranges[red], 256);
    }
  } else if (!reduction.empty()) {
    // A full reduction to a scalar over several loops vectorizes to a
    // rank-0 vector.contract that MLIR 22 rejects; keep it scalar.
    t.vectorize = reduction.size() == 1;
    unsigned red = reduction.back();
    t.reg[red] = tileFor(ranges[red], lanes);
    t.cache[red] = tileFor(ranges[red], 1024, t.reg[red]);
  }
  // A tile as large as its loop means "do not tile" (size 0) at that level;
  // the register level is relative to the cache tile.
  for (unsigned i = 0; i < ranges.size(); ++i) {
    if (t.reg[i] == t.cache[i])
      t.reg[i] = 0;
    if (t.cache[i] == ranges[i])
      t.cache[i] = 0;
  }
  return t;
}

/// Tiles `op` with `sizes` (0 = untiled); returns the tiled op, or `op`
/// itself when nothing is tiled. `forall` makes the tile loops one
/// `scf.forall`, whose iterations may run on different threads;
/// `interchange` orders the tile loops (loop positions, outermost first).
static FailureOr<Operation *> tile(RewriterBase &rewriter, Operation *op,
                                   ArrayRef<int64_t> sizes, bool forall = false,
                                   ArrayRef<int64_t> interchange = {}) {
  if (llvm::all_of(sizes, [](int64_t s) { return s == 0; }))
    return op;
  scf::SCFTilingOptions options;
  if (forall)
    options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
  if (!interchange.empty())
    options.setInterchange(interchange);
  options.setTileSizes(getAsIndexOpFoldResult(rewriter.getContext(), sizes));
  rewriter.setInsertionPoint(op);
  auto tiled = scf::tileUsingSCF(rewriter, cast<TilingInterface>(op), options);
  if (failed(tiled))
    return failure();
  rewriter.replaceOp(op, tiled->replacements);
  return tiled->tiledOps.front();
}

/// Whether a loop nest of `ranges` has at least `parallelWork` iterations
/// (0: never), the work from which threads pay.
static bool enoughWorkForThreads(ArrayRef<int64_t> ranges,
                                 int64_t parallelWork) {
  return parallelWork > 0 && einjit::saturatingProduct(ranges) >= parallelWork;
}

/// Whether a loop nest of `ranges` is worth splitting over threads, tile by
/// tile of `sizes` (0 = untiled): it has enough work and more than one tile.
static bool worthThreads(ArrayRef<int64_t> ranges, ArrayRef<int64_t> sizes,
                         int64_t parallelWork) {
  SmallVector<int64_t> tiles;
  for (auto [range, size] : llvm::zip(ranges, sizes))
    tiles.push_back(size ? llvm::divideCeil(range, size) : 1);
  return enoughWorkForThreads(ranges, parallelWork) &&
         einjit::saturatingProduct(tiles) > 1;
}

/// Whether loop `loop` indexes the contiguous (last) dimension of an input;
/// with `alongLoop`, of an input that `alongLoop` also indexes.
static bool isContiguousInAnInput(linalg::LinalgOp op, unsigned loop,
                                  std::optional<unsigned> alongLoop = {}) {
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.getNumResults() == 0 ||
        (alongLoop && !map.isFunctionOfDim(*alongLoop)))
      continue;
    auto dim = dyn_cast<AffineDimExpr>(map.getResults().back());
    if (dim && dim.getPosition() == loop)
      return true;
  }
  return false;
}

/// Whether `op`'s body yields a sum or a max (either NaN rule): the
/// reductions whose lanes can keep partial results.
static bool combinesBySumOrMax(linalg::LinalgOp op) {
  Operation *combined =
      op.getBlock()->getTerminator()->getOperand(0).getDefiningOp();
  return isa_and_nonnull<arith::AddFOp, arith::AddIOp, arith::MaximumFOp,
                         arith::MaxNumFOp>(combined);
}

/// Reductions along the inputs' contiguous dimension (`ij,j->i`,
/// `ij->i`) vectorize badly along the parallel loop: every lane would load
/// from another row. Such ops get per-lane partial sums instead.
static bool prefersPartialReduction(linalg::LinalgOp op) {
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  // Partial results per lane: for reductions that add (every einsum's, and
  // eager sums) and for max (softmax's, eager max along the last axis:
  // 4x12x512x512 in 1.5 ms, 10.5 ms when its lanes were gathered from
  // rows).
  if (!combinesBySumOrMax(op))
    return false;
  // Inputs the reduction does not index (a row's max in softmax's sum of
  // exp(x - max)) are read once per row, whatever their layout.
  return !parallel.empty() && reduction.size() == 1 &&
         !isContiguousInAnInput(op, parallel.back(), reduction.front()) &&
         isContiguousInAnInput(op, reduction.front());
}

/// Vectorizes `op` when the vectorizer accepts it; returns success if it did.
static LogicalResult vectorizeIfPossible(RewriterBase &rewriter,
                                         Operation *op) {
  if (failed(linalg::vectorizeOpPrecondition(op)))
    return failure();
  rewriter.setInsertionPoint(op);
  auto vectorized = linalg::vectorize(rewriter, op);
  if (failed(vectorized))
    return failure();
  if (!vectorized->replacements.empty())
    rewriter.replaceOp(op, vectorized->replacements);
  else
    rewriter.eraseOp(op);
  return success();
}

/// Whether `op`'s body is `out + f(inputs)`: it accumulates with one
/// `arith.addf` into its single output.
static bool accumulatesByAdd(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1)
    return false;
  Block *body = op.getBlock();
  Value out = body->getArguments().back();
  auto add =
      body->getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
  return add && out.hasOneUse() && (add.getLhs() == out || add.getRhs() == out);
}

/// Registers of partial sums per result element for splitReductionLanes:
/// 4 (four independent chains of adds along each input row) where the
/// partial sums of all the results take at most half the L1 cache; otherwise
/// fewer, down to 1, where that makes them fit, so that each row's sums are
/// added to accumulators that stay in the L1 while the input streams past
/// them. One Zen 4 core (32 KiB L1), `einsum-run --bench`, alternating:
/// `ijk->j` at 256³ f32 in 1.91-2.03 ms with 4 registers per `j` (64 KiB of
/// partial sums), 1.56-1.72 with one (16 KiB), in a phase of the VM where
/// the input streamed fast; in a slower phase both took 1.96-2.17 ms. Where
/// one register's do not fit either (`ijk->j` at 64x1024x256), the single
/// chain of adds per row is slower: 2.0 ms against 2.1.
static int64_t reductionRegisters(linalg::GenericOp op, int64_t lanes,
                                  int64_t l1Bytes) {
  auto type = cast<ShapedType>(op.getDpsInits()[0].getType());
  int64_t bytes = einjit::saturatingProduct(
      {type.getNumElements(), lanes, resultElementBytes(op)});
  for (int64_t registers : {4, 2, 1})
    if (einjit::saturatingProduct({bytes, registers}) <= l1Bytes / 2)
      return registers;
  return 4;
}

/// Widths of partial sums for splitReductionLanes along a contiguous
/// reduction of `range`, best first: whole SIMD registers (`registers`, 2
/// or 1 of `lanes`) that divide it, short of all of it; otherwise its
/// largest divisor above one register and up to four (50 -> 50, 100 ->
/// 50), read as whole registers and one shorter piece. `ijkl,jl->ik` at
/// 64x50x64x50 had no width and took its SIMD lanes from `k`, gathered 50
/// floats apart: 15.5 ms on one Zen 4 core, against 2.4 ms at 48.
static SmallVector<int64_t> partialSumWidths(int64_t range, int64_t lanes,
                                             int64_t registers) {
  SmallVector<int64_t> widths;
  if (range % lanes == 0) {
    for (int64_t n : {registers, int64_t{2}, int64_t{1}})
      if (range % (n * lanes) == 0 && range != n * lanes &&
          !llvm::is_contained(widths, n * lanes))
        widths.push_back(n * lanes);
    return widths;
  }
  for (int64_t d = std::min(range, 4 * lanes); d > lanes; --d)
    if (range % d == 0)
      return {d};
  return widths;
}

/// Sums over several reduction loops, one of which is an input's
/// contiguous dimension (`ijk->j`, sums over `i` and `k`), would take their
/// SIMD lanes from a parallel loop and gather every vector. Such an op
/// (whose inputs carry that loop `r` last or not at all, and whose range
/// `lanes` divides) becomes two:
/// - `partial[..., l] = sum of in[..., r' * lanes + l]`: the op with `r`
///   split into `r'` and a new parallel loop `l` of `lanes`, innermost, so
///   that each input row is read as whole vectors into a vector of
///   accumulators; its loops follow the first input's dimensions, so the
///   input streams in memory order;
/// - `out = init + sum over l of partial[..., l]`.
/// laneSplitLoop returns `r` where `op` is such an op; splitReductionLanes
/// returns the two ops, or failure (changing nothing).
static std::optional<unsigned> laneSplitLoop(linalg::GenericOp op) {
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  if (parallel.empty() || reduction.size() < 2 ||
      !op.hasPureTensorSemantics() || !accumulatesByAdd(op) ||
      !isa<FloatType>(getElementTypeOrSelf(op.getDpsInits()[0].getType())))
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap first = maps.front();
  if (first.getNumResults() == 0)
    return std::nullopt;
  auto last = dyn_cast<AffineDimExpr>(first.getResults().back());
  if (!last || !llvm::is_contained(reduction, last.getPosition()))
    return std::nullopt;
  unsigned r = last.getPosition();
  for (AffineMap map : ArrayRef(maps).drop_back()) {
    if (!map.isProjectedPermutation())
      return std::nullopt;
    std::optional<unsigned> at =
        map.getResultPosition(getAffineDimExpr(r, op.getContext()));
    if (at && *at + 1 != map.getNumResults())
      return std::nullopt;
  }
  return r;
}

/// A lane op and the merge of its partial sums.
using LaneSplit = std::pair<linalg::GenericOp, linalg::GenericOp>;

static FailureOr<LaneSplit> splitReductionLanes(RewriterBase &rewriter,
                                                linalg::GenericOp op,
                                                int64_t lanes) {
  std::optional<unsigned> loop = laneSplitLoop(op);
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (!loop || ranges[*loop] % lanes != 0)
    return failure();
  unsigned r = *loop;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap first = maps.front();
  MLIRContext *ctx = op.getContext();

  // New loop order: loops the first input lacks, then its dimensions, then
  // `l`. `position[old]` is the new position of an old loop.
  unsigned numLoops = ranges.size();
  SmallVector<unsigned> order;
  for (unsigned loop = 0; loop < numLoops; ++loop)
    if (!first.isFunctionOfDim(loop))
      order.push_back(loop);
  for (AffineExpr e : first.getResults())
    order.push_back(cast<AffineDimExpr>(e).getPosition());
  SmallVector<unsigned> position(numLoops);
  for (auto [i, loop] : llvm::enumerate(order))
    position[loop] = i;
  AffineExpr l = getAffineDimExpr(numLoops, ctx);
  auto remap = [&](AffineMap map, bool addLane) {
    SmallVector<AffineExpr> exprs;
    for (AffineExpr e : map.getResults())
      exprs.push_back(getAffineDimExpr(
          position[cast<AffineDimExpr>(e).getPosition()], ctx));
    if (addLane)
      exprs.push_back(l);
    return AffineMap::get(numLoops + 1, 0, exprs, ctx);
  };

  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  SmallVector<Value> inputs;
  SmallVector<AffineMap> newMaps;
  for (auto [input, map] : llvm::zip(op.getDpsInputs(), maps)) {
    if (!map.isFunctionOfDim(r)) {
      inputs.push_back(input);
      newMaps.push_back(remap(map, false));
      continue;
    }
    auto type = cast<RankedTensorType>(input.getType());
    SmallVector<int64_t> shape(type.getShape());
    shape.back() /= lanes;
    shape.push_back(lanes);
    SmallVector<ReassociationIndices> groups;
    for (int64_t d = 0; d + 1 < type.getRank(); ++d)
      groups.push_back({d});
    groups.push_back({type.getRank() - 1, type.getRank()});
    inputs.push_back(tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(shape, type.getElementType()),
        input, groups));
    newMaps.push_back(remap(map, true));
  }
  Value init = op.getDpsInits()[0];
  auto initType = cast<RankedTensorType>(init.getType());
  SmallVector<int64_t> partialShape(initType.getShape());
  partialShape.push_back(lanes);
  Type element = initType.getElementType();
  Value zero = arith::ConstantOp::create(rewriter, loc, element,
                                         rewriter.getZeroAttr(element));
  Value empty =
      tensor::EmptyOp::create(rewriter, loc, partialShape, element).getResult();
  Value partial =
      linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0);
  newMaps.push_back(remap(maps.back(), true));
  SmallVector<utils::IteratorType> old = op.getIteratorTypesArray();
  SmallVector<utils::IteratorType> iterators;
  for (unsigned loop : order)
    iterators.push_back(old[loop]);
  iterators.push_back(utils::IteratorType::parallel);
  auto lanesOp = linalg::GenericOp::create(rewriter, loc, partial.getType(),
                                           inputs, partial, newMaps, iterators);
  rewriter.cloneRegionBefore(op.getRegion(), lanesOp.getRegion(),
                             lanesOp.getRegion().begin());

  // out = init + sum over l of partial.
  unsigned rank = initType.getRank();
  SmallVector<AffineExpr> outExprs;
  for (unsigned d = 0; d < rank; ++d)
    outExprs.push_back(getAffineDimExpr(d, ctx));
  SmallVector<AffineMap> mergeMaps{
      AffineMap::getMultiDimIdentityMap(rank + 1, ctx),
      AffineMap::get(rank + 1, 0, outExprs, ctx)};
  SmallVector<utils::IteratorType> mergeIterators(
      rank, utils::IteratorType::parallel);
  mergeIterators.push_back(utils::IteratorType::reduction);
  auto merge = linalg::GenericOp::create(
      rewriter, loc, initType, lanesOp.getResult(0), init, mergeMaps,
      mergeIterators, [&](OpBuilder &b, Location loc, ValueRange args) {
        Value sum = arith::AddFOp::create(b, loc, args[1], args[0]);
        linalg::YieldOp::create(b, loc, sum);
      });
  rewriter.replaceOp(op, merge.getResults());
  return std::make_pair(lanesOp, merge);
}

/// splitReductionLanes with the widths of partialSumWidths. A range that
/// none of them divides and that is longer than four registers (a prime
/// such as 127) is split first into the part whole registers divide and
/// the rest (127 = 112 + 15), each summed in lanes of its own, the rest as
/// one short register. Returns the lane ops and their merges, in order;
/// nothing where `op` is not such a sum (changing nothing).
static FailureOr<SmallVector<LaneSplit>>
splitReductionsIntoLanes(RewriterBase &rewriter, linalg::GenericOp op,
                         int64_t lanes, int64_t l1Bytes) {
  std::optional<unsigned> r = laneSplitLoop(op);
  if (!r)
    return SmallVector<LaneSplit>{};
  // The first of partialSumWidths' widths that splits `part` (a range of
  // `range` along `r`).
  auto splitPart = [&](linalg::GenericOp part,
                       int64_t range) -> FailureOr<LaneSplit> {
    for (int64_t width : partialSumWidths(
             range, lanes, reductionRegisters(part, lanes, l1Bytes)))
      if (auto split = splitReductionLanes(rewriter, part, width);
          succeeded(split))
        return split;
    return failure();
  };
  int64_t range = op.getStaticLoopRanges()[*r];
  if (auto split = splitPart(op, range); succeeded(split))
    return SmallVector<LaneSplit>{*split};
  if (range <= 4 * lanes || range % lanes == 0)
    return SmallVector<LaneSplit>{};
  rewriter.setInsertionPoint(op);
  auto [whole, rest] =
      linalg::splitOp(rewriter, cast<TilingInterface>(op.getOperation()), *r,
                      rewriter.getIndexAttr(range - range % lanes));
  if (!whole || !rest)
    return op.emitOpError("could not split a reduction at whole registers");
  auto first = splitPart(cast<linalg::GenericOp>(whole.getOperation()),
                         range - range % lanes);
  auto second = splitReductionLanes(
      rewriter, cast<linalg::GenericOp>(rest.getOperation()), range % lanes);
  if (failed(first) || failed(second))
    return emitError(rest->getLoc(),
                     "could not sum the parts of a reduction in lanes");
  return SmallVector<LaneSplit>{*first, *second};
}

/// Whether an input of `op` is read once: its indexing map uses every
/// loop of more than one iteration, so that each iteration loads an
/// element of its own (a matrix-vector product's matrix) and the nest runs
/// at memory bandwidth, not at the FMA rate.
static bool readsAnInputOnce(linalg::LinalgOp op) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  return llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *in) {
    llvm::SmallBitVector used(ranges.size());
    for (AffineExpr e : op.getMatchingIndexingMap(in).getResults())
      if (auto dim = dyn_cast<AffineDimExpr>(e))
        used.set(dim.getPosition());
    for (auto [d, range] : llvm::enumerate(ranges))
      if (range != 1 && !used.test(d))
        return false;
    return true;
  });
}

/// Whether `op` is a contraction that reuses its inputs: sums (reduction
/// loops) of products of two or more inputs, none of them read once.
static bool reusesInputs(linalg::LinalgOp op) {
  return op.getNumDpsInputs() >= 2 && op.getNumReductionLoops() > 0 &&
         !readsAnInputOnce(op);
}

/// Runs `build`, which tiles a kernel in `func`, and marks each scf.for
/// loop it made not to be unrolled by LLVM (a `loop_annotation`, which
/// the lowering to the LLVM dialect puts on the loop's latch): their
/// bodies are unrolled register tiles and blocks already, and LLVM's
/// unrolling of them only cost compile time.
static LogicalResult
withoutLlvmUnrolling(func::FuncOp func,
                     llvm::function_ref<LogicalResult()> build) {
  llvm::SmallPtrSet<Operation *, 32> before;
  func.walk([&](scf::ForOp loop) { before.insert(loop); });
  LogicalResult built = build();
  MLIRContext *ctx = func.getContext();
  auto unroll = LLVM::LoopUnrollAttr::get(ctx, BoolAttr::get(ctx, true), {}, {},
                                          {}, {}, {}, {});
  auto annotation = LLVM::LoopAnnotationAttr::get(
      ctx, {}, {}, {}, unroll, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});
  func.walk([&](scf::ForOp loop) {
    if (!before.contains(loop))
      loop->setAttr("loop_annotation", annotation);
  });
  return built;
}

/// The parallel-work threshold for `op`: a share of it where `op` calls
/// math functions, reads an input once, or is a contraction that reuses
/// its inputs (ThreadWork.h).
static int64_t threadWork(linalg::LinalgOp op, int64_t parallelWork) {
  if (einsum::callsMath(op))
    return einsum::shareOf(parallelWork, einsum::kMathShare);
  if (readsAnInputOnce(op))
    return einsum::shareOf(parallelWork, einsum::kMemoryBoundShare);
  if (reusesInputs(op))
    return einsum::shareOf(parallelWork, einsum::kContractionShare);
  return parallelWork;
}

/// Lanes of partial sums per row for a reduction of `range`: one register
/// (or a divisor of the range under one); where rows are not `shared`,
/// whole registers, up to 4, 4 independent chains of adds.
static int64_t partialSumWidth(int64_t range, int64_t lanes, bool shared) {
  int64_t width = tileFor(range, lanes);
  if (!shared && width == lanes)
    width = tileFor(range, 4 * lanes, lanes);
  return width;
}

/// Vectorizes `op`, one tile of rows of a partial reduction along loop
/// `red`, with partial sums of up to 4 SIMD registers of `lanes` per row
/// (`tileReductionUsingScf`), so the loop body is elementwise ops on
/// independent accumulators; one register where rows are `shared`.
static LogicalResult reduceInPartialSums(RewriterBase &rewriter,
                                         linalg::GenericOp op, unsigned red,
                                         int64_t lanes, bool shared) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t width = partialSumWidth(ranges[red], lanes, shared);
  if (width == ranges[red]) { // one chunk: no partial sums needed
    (void)vectorizeIfPossible(rewriter, op);
    return success();
  }
  SmallVector<OpFoldResult> sizes(ranges.size(), rewriter.getIndexAttr(0));
  sizes[red] = rewriter.getIndexAttr(width);
  rewriter.setInsertionPoint(op);
  auto partial = scf::tileReductionUsingScf(
      rewriter, cast<PartialReductionOpInterface>(op.getOperation()), sizes);
  if (failed(partial))
    return failure();
  rewriter.replaceOp(op, partial->replacements);
  SmallVector<Operation *> toVectorize(partial->tiledOps);
  for (Value init : partial->initialValues)
    if (Operation *fill = init.getDefiningOp())
      toVectorize.push_back(fill);
  llvm::append_range(toVectorize, partial->mergeOps);
  for (Operation *o : toVectorize)
    (void)vectorizeIfPossible(rewriter, o);
  return success();
}

/// Whether `v` is a whole buffer of its own laid out contiguously once
/// bufferized: a tensor of an identity-layout memref, a new tensor, or the
/// result of a linalg op into one of those.
static bool isWholeContiguous(Value v) {
  while (true) {
    if (auto toTensor = v.getDefiningOp<bufferization::ToTensorOp>())
      return cast<MemRefType>(toTensor.getBuffer().getType())
          .getLayout()
          .isIdentity();
    if (v.getDefiningOp<tensor::EmptyOp>() ||
        v.getDefiningOp<bufferization::AllocTensorOp>())
      return true;
    auto producer = v.getDefiningOp<linalg::LinalgOp>();
    if (!producer)
      return false;
    v = producer.getDpsInitOperand(cast<OpResult>(v).getResultNumber())->get();
  }
}

/// An elementwise op (all loops parallel, every operand read in loop
/// order, broadcasts aside) with its runs of loops that every operand reads
/// as one contiguous run collapsed into one loop: gelu of 4 x 12 x 129 x
/// 129 is one loop of 798768, with no remainder of 1 in every row of 129
/// (a strided column of scalar erfs, a nest of its own), and a bias add
/// `abcd,d->abcd` is 6192 x 129. Operands must be whole contiguous buffers,
/// so that the collapse bufferizes to a view, never a copy. Returns the op
/// to tile: the collapsed one, or `op` unchanged.
static linalg::GenericOp collapseElementwiseLoops(RewriterBase &rewriter,
                                                  linalg::GenericOp op) {
  unsigned loops = op.getNumLoops();
  if (loops < 2 || op.getNumReductionLoops() != 0 ||
      !op.hasPureTensorSemantics())
    return op;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (AffineMap map : maps) {
    int64_t last = -1;
    for (AffineExpr e : map.getResults()) {
      auto dim = dyn_cast<AffineDimExpr>(e);
      if (!dim || (int64_t)dim.getPosition() <= last)
        return op;
      last = dim.getPosition();
    }
  }
  for (OpOperand &operand : op->getOpOperands())
    if (!isWholeContiguous(operand.get()))
      return op;
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices run{0};
  for (unsigned d = 1; d < loops; ++d) {
    ReassociationIndices longer = run;
    longer.push_back(d);
    if (linalg::areDimSequencesPreserved(maps, {longer})) {
      run = longer;
      continue;
    }
    groups.push_back(run);
    run = {d};
  }
  groups.push_back(run);
  if (groups.size() == loops)
    return op;
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::CollapseResult> collapsed =
      linalg::collapseOpIterationDims(op, groups, rewriter);
  if (failed(collapsed))
    return op;
  rewriter.replaceOp(op, collapsed->results);
  return cast<linalg::GenericOp>(collapsed->collapsedOp.getOperation());
}

/// The input that loop `loop` does not index while every other loop does
/// (a matrix product's right input, which the rows do not index), or null.
static OpOperand *inputWithout(linalg::LinalgOp op, unsigned loop) {
  OpOperand *found = nullptr;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.isFunctionOfDim(loop))
      continue;
    for (unsigned d = 0; d < op.getNumLoops(); ++d)
      if (d != loop && !map.isFunctionOfDim(d))
        return nullptr;
    found = input;
  }
  return found;
}

/// Rows of a partial reduction read side by side when they share an input
/// (tileForPartialReduction).
static constexpr int64_t kSharedRows = 8;

/// The loops of `op` in the order of its first input that indexes every
/// loop, if any: the order in which tileForPartialReduction visits rows.
static std::optional<SmallVector<int64_t>> rowOrder(linalg::GenericOp op) {
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!map.isPermutation())
      continue;
    SmallVector<int64_t> order;
    for (AffineExpr e : map.getResults())
      order.push_back(cast<AffineDimExpr>(e).getPosition());
    return order;
  }
  return std::nullopt;
}

/// The row loop of a partial reduction, and whether its rows go side by
/// side. The row loop is the innermost parallel loop that has more than one
/// iteration and that an input the reduction reads does not follow (the
/// rows of `ij,j->i` split into blocks, `[i, block, r]` reading the vector
/// as `[block, r]`: rows along `i`, not the blocks), or else the innermost
/// one that has more than one iteration (the 1-column edge of
/// `bhqd,bhkd->bhqk` at s = 129 has rows of q, not of its k of 1). Rows go
/// side by side, kSharedRows at a time, sharing each load of that common
/// input (the vector of `ij,j->i`), where the part of it that each row
/// reads takes a quarter of the L1 (`l1Bytes`) or more, where the rows'
/// input fits the L2 (`l2Bytes`), or where the rows are slices of longer
/// ones (the remainder of a split reduction); otherwise one row at a time,
/// read in order, with up to 4 registers of partial sums along it
/// (reduceInPartialSums).
///
/// One Zen 4 core, `einsum-run --bench`, 8 rows side by side against one
/// at a time: whole rows streamed side by side from memory with a vector
/// of 4 KiB or less ran at under half the speed (`kd,d->k` at 128000x128
/// 4.18 against 1.51 ms, 32000x512 3.50 against 1.67, 16000x1024 2.05
/// against 1.79; attention scores at q = 1, d = 128, 3.93 against 1.55);
/// with a vector of 16 KiB or more side by side was faster (4096x4096 1.95
/// against 2.26 ms; 4096x8192 in blocks of 1024, 4.70 against 7.26), and
/// so were the slices of a split's remainder (3000x3001 f64: 2.25 against
/// 4.72, 6000x6000 f32: 4.95 against 9.75). Inputs that fit the L2
/// (1000x100: 42 GFLOP/s against 38) share the loads.
static std::pair<unsigned, bool>
partialReductionRows(linalg::GenericOp op, int64_t l1Bytes, int64_t l2Bytes) {
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned red = reduction.front();
  auto sharedAlong = [&](unsigned loop) {
    return llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *in) {
      AffineMap map = op.getMatchingIndexingMap(in);
      return map.isFunctionOfDim(red) && !map.isFunctionOfDim(loop);
    });
  };
  std::optional<unsigned> rowLoop;
  for (unsigned p : llvm::reverse(parallel))
    if (ranges[p] > 1 && sharedAlong(p)) {
      rowLoop = p;
      break;
    }
  for (unsigned p : llvm::reverse(parallel))
    if (!rowLoop && ranges[p] > 1)
      rowLoop = p;
  if (!rowLoop)
    rowLoop = parallel.back();
  // The loops in the order the rows are visited (tileForPartialReduction:
  // the order of an input that every loop indexes), so that the part of
  // the common input that each row reads is what follows the row loop.
  SmallVector<unsigned> position(ranges.size());
  std::iota(position.begin(), position.end(), 0);
  if (std::optional<SmallVector<int64_t>> order = rowOrder(op))
    for (auto [at, loop] : llvm::enumerate(*order))
      position[loop] = at;
  bool shared = false, sideBySide = false;
  for (OpOperand *in : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(in);
    if (!map.isFunctionOfDim(red))
      continue;
    if (map.isFunctionOfDim(*rowLoop)) {
      sideBySide |= byteSize(in->get().getType()) <= l2Bytes ||
                    in->get().getDefiningOp<tensor::ExtractSliceOp>();
      continue;
    }
    int64_t bytes =
        cast<ShapedType>(in->get().getType()).getElementTypeBitWidth() / 8;
    shared = true;
    for (AffineExpr e : map.getResults()) {
      auto dim = dyn_cast<AffineDimExpr>(e); // or a broadcast's constant 0
      if (dim && (llvm::is_contained(reduction, dim.getPosition()) ||
                  position[dim.getPosition()] > position[*rowLoop]))
        bytes = einjit::saturatingProduct({bytes, ranges[dim.getPosition()]});
    }
    sideBySide |= bytes >= l1Bytes / 4;
  }
  return {*rowLoop, shared && sideBySide};
}

/// The row tile of a partial reduction (tileForPartialReduction): the
/// loop of its rows (partialReductionRows), whether they are read side by
/// side, and the tile's size along each parallel loop (0 elsewhere): 1,
/// kSharedRows along the row loop where an input is shared by the rows.
namespace {
struct PartialRows {
  unsigned rowLoop;
  bool shared;
  SmallVector<int64_t> rows;
};
} // namespace
static PartialRows partialReductionTile(linalg::GenericOp op, int64_t l1Bytes,
                                        int64_t l2Bytes) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<unsigned> parallel;
  op.getParallelDims(parallel);
  auto [rowLoop, shared] = partialReductionRows(op, l1Bytes, l2Bytes);
  SmallVector<int64_t> rows(ranges.size(), 0);
  for (unsigned p : parallel)
    rows[p] = 1;
  rows[rowLoop] = shared ? tileFor(ranges[rowLoop], kSharedRows) : 1;
  // Up to 4 rows of the shared input (`i` of `ij,kj->ik` at 4 x 4096 by
  // 4096 x 4096) in the tile too, where the input they share is beyond the
  // L2: it is read once rather than once per row (on one Zen 4 core, 2
  // rows 4.3 -> 3.0 ms; 4 rows 10.4 ms packed, 5.3 here). More rows than
  // the L1 holds whole (8 rows of 4096: 10.5 ms, 9.8 packed) are packed.
  for (unsigned p : parallel) {
    OpOperand *big = inputWithout(op, p);
    if (p == rowLoop || ranges[p] <= 1 || ranges[p] * 2 > kSharedRows || !big)
      continue;
    if (byteSize(big->get().getType()) <= l2Bytes)
      continue;
    rows[p] = ranges[p];
    if (shared)
      rows[rowLoop] = tileFor(ranges[rowLoop],
                              std::max<int64_t>(1, kSharedRows / ranges[p]));
    break;
  }
  return {rowLoop, shared, rows};
}

/// Partial-reduction strategy:
/// 1. tile the parallel loops as partialReductionTile says, visiting the
///    row tiles in memory order;
/// 2. within a row tile, split off the reduction's remainder of whole SIMD
///    registers, and reduce each part in partial sums (reduceInPartialSums);
/// 3. vectorize the partial-sum bodies, their fills and the final merges.
static LogicalResult tileForPartialReduction(RewriterBase &rewriter,
                                             linalg::GenericOp op,
                                             unsigned vectorBits,
                                             int64_t l1Bytes, int64_t l2Bytes,
                                             int64_t parallelWork) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  int64_t lanes = simdLanes(op, vectorBits);

  unsigned red = reduction.front();
  auto [rowLoop, shared, rowsAlong] =
      partialReductionTile(op, l1Bytes, l2Bytes);
  SmallVector<int64_t> rows(rowsAlong);
  for (unsigned p : parallel)
    if (rows[p] == ranges[p])
      rows[p] = 0;
  // Each row group is visited once, so it starts from the init's fill
  // value, vectorized with it, rather than from a whole filled result: a
  // fill of a strided edge (the 1-column edge above) left to LLVM becomes
  // scalarized scatters that cost its schedulers 0.3 s.
  std::optional<Value> fillValue = dropInitFill(rewriter, op);
  // Row groups are independent: with enough work they go to threads. They
  // are visited in the order an input that every loop indexes lays them
  // out: the rows of `ijk->i`'s blocks (einsum-split-reductions' partial
  // sums, whose block loop comes first) are read along `i` 4 KiB at a time
  // otherwise.
  SmallVector<int64_t> interchange =
      rowOrder(op).value_or(SmallVector<int64_t>{});
  FailureOr<Operation *> rowTile = tile(
      rewriter, op, rows,
      worthThreads(ranges, rows, threadWork(op, parallelWork)), interchange);
  if (failed(rowTile))
    return failure();
  Operation *fill =
      fillValue ? fillInit(rewriter, *rowTile, *fillValue) : nullptr;

  if (fill)
    (void)vectorizeIfPossible(rewriter, fill);
  // A reduction that whole SIMD registers do not divide is split within
  // each row tile into the part they divide and the remainder (129 = 128 +
  // 1), each with its own partial sums: the lanes would otherwise be cut to
  // a divisor of the range (3 for 129). The remainder is read on the same
  // thread, while its row is in cache; split before the row tiles, it was
  // a nest of its own, a second pass over the rows (max along the last
  // axis of 4 x 12 x 129 x 129 f32, one Zen 4 core: 0.063 -> 0.053 ms).
  SmallVector<linalg::GenericOp> parts{cast<linalg::GenericOp>(*rowTile)};
  int64_t range = ranges[red];
  if (range > lanes && range % lanes != 0) {
    rewriter.setInsertionPoint(*rowTile);
    auto [first, second] =
        linalg::splitOp(rewriter, cast<TilingInterface>(*rowTile), red,
                        rewriter.getIndexAttr(range - range % lanes));
    if (!first || !second)
      return failure();
    parts = {cast<linalg::GenericOp>(first.getOperation()),
             cast<linalg::GenericOp>(second.getOperation())};
  }
  for (linalg::GenericOp part : parts)
    if (failed(reduceInPartialSums(rewriter, part, red, lanes, shared)))
      return failure();
  return success();
}

/// Rows summed into each register of accumulators at a time by the column
/// sums (tileForColumnSums) when their block of accumulators is too large
/// to stay in the L1 cache beside the rows streaming through it. Summing
/// the rows of a 64 MiB f32 matrix on one Zen 4 core (32 KiB L1), in
/// GB/s, one row / 8 rows at a time: rows of 256 floats 35-37 / 11, of 2048
/// 38 / 25-30, of 4096 17-29 / 27-29, of 8192 19 / 33-36.
static constexpr int64_t kColumnSumRows = 8;

/// The loops of an op that sums whole rows of its inputs into a row of
/// accumulators (`i,ij->j`, `ijk->ik`, `ijk->k`, `ijk->jk`), or of an
/// elementwise op with a result larger than the L2 (`i,j->ij`): in the
/// order its streamed operand (an input that every loop indexes, or the
/// elementwise op's result) lays them out, whose last, `c`, is a parallel
/// loop that every operand indexing it has as its contiguous dimension.
/// Empty for any other op.
static SmallVector<unsigned> columnSumLoops(linalg::GenericOp op,
                                            int64_t l2Bytes) {
  if (op.getNumDpsInits() != 1 || !op.hasPureTensorSemantics() ||
      op.getNumParallelLoops() == 0 ||
      !getElementTypeOrSelf(op.getDpsInits()[0].getType()).isIntOrFloat())
    return {};
  SmallVector<OpOperand *> streamed;
  if (op.getNumReductionLoops() == 0) {
    // Elementwise ops (outer products, `i,j->ij`) stream their result: by
    // rows of registers in memory order, not by 8-row register tiles that
    // write 128 bytes of each row, where it does not fit the L2.
    if (byteSize(op.getDpsInits()[0].getType()) <= l2Bytes)
      return {};
    streamed.push_back(op.getDpsInitOperand(0));
  } else {
    if (!combinesBySumOrMax(op))
      return {};
    llvm::append_range(streamed, op.getDpsInputOperands());
  }
  SmallVector<unsigned> order;
  for (OpOperand *operand : streamed) {
    AffineMap map = op.getMatchingIndexingMap(operand);
    if (map.isPermutation()) {
      for (AffineExpr e : map.getResults())
        order.push_back(cast<AffineDimExpr>(e).getPosition());
      break;
    }
  }
  if (order.empty() ||
      !linalg::isParallelIterator(op.getIteratorTypesArray()[order.back()]))
    return {};
  unsigned c = order.back();
  for (OpOperand &operand : op->getOpOperands()) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!map.isProjectedPermutation())
      return {};
    if (map.isFunctionOfDim(c) &&
        map.getResults().back() != getAffineDimExpr(c, op.getContext()))
      return {};
  }
  return order;
}

/// Column sums (columnSumLoops): each input is read once, row after row in
/// memory order, and its rows are added into accumulators that stay in the
/// L1 cache; an elementwise op writes its rows in memory order the same
/// way. Threads take the parallel loops outside the last reduction
/// (the blocks of einsum-split-reductions, `i` of `ijk->ik`) and blocks of
/// those inside it; in each, kColumnSumRows rows at a time are added to
/// one register tile of the accumulators after another along `c`.
/// The outer-product kernel would instead keep a tile of accumulators in
/// registers and walk down its columns, reading 128 bytes of each row
/// (`i,ij->j` 4096x4096 on one Zen 4 core: 4.8 ms against 2.4 for the
/// same adds in row order).
static LogicalResult tileForColumnSums(RewriterBase &rewriter,
                                       linalg::GenericOp op,
                                       ArrayRef<unsigned> order,
                                       unsigned vectorBits, int64_t l1Bytes,
                                       int64_t l2Bytes, int64_t l3Bytes,
                                       int64_t parallelWork) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned c = order.back();
  int64_t lanes = simdLanes(op, vectorBits);
  // Whole registers along `c`: the remainder (1 of 129) gets a part of its
  // own, one narrower register tile.
  if (ranges[c] > lanes && ranges[c] % lanes != 0) {
    rewriter.setInsertionPoint(op);
    auto [first, second] =
        linalg::splitOp(rewriter, cast<TilingInterface>(op.getOperation()), c,
                        rewriter.getIndexAttr(ranges[c] - ranges[c] % lanes));
    if (!first || !second)
      return failure();
    for (TilingInterface part : {first, second})
      if (failed(tileForColumnSums(
              rewriter, cast<linalg::GenericOp>(part.getOperation()), order,
              vectorBits, l1Bytes, l2Bytes, l3Bytes, parallelWork)))
        return failure();
    return success();
  }
  // Loops from `inner` on (in `order`) are the parallel loops inside the
  // last reduction: all of them in an elementwise op.
  unsigned inner = 0;
  for (auto [i, loop] : llvm::enumerate(order))
    if (linalg::isReductionIterator(iterators[loop]))
      inner = i + 1;
  int64_t elementBytes = resultElementBytes(op);
  int64_t resultBytes = einjit::saturatingProduct(
      {cast<RankedTensorType>(op.getDpsInits()[0].getType()).getNumElements(),
       elementBytes});
  // Blocks of accumulators in half the L1, whole rows of `c` where they
  // fit; up to a quarter of it, they are added one row at a time.
  int64_t budget = std::max<int64_t>(lanes, l1Bytes / 2 / elementBytes);
  int64_t width =
      ranges[c] % lanes == 0 ? wholeRegisters(ranges[c], 4, lanes) : ranges[c];
  SmallVector<int64_t> block(ranges.size(), 0), tiles(ranges.size(), 0),
      steps(ranges.size(), 0);
  SmallVector<int64_t> interchange;
  for (unsigned i : llvm::seq<unsigned>(0, order.size())) {
    unsigned loop = order[i];
    if (i >= inner)
      continue;
    interchange.push_back(loop);
    tiles[loop] = 1;
    if (linalg::isParallelIterator(iterators[loop]))
      block[loop] = 1;
  }
  for (unsigned i = inner; i < order.size(); ++i)
    interchange.push_back(order[i]);
  int64_t room = budget, blockElements = 1;
  for (unsigned i = order.size(); i-- > inner;) {
    unsigned loop = order[i];
    int64_t size = loop == c
                       ? tileFor(ranges[c], std::max(room, width), width)
                       : tileFor(ranges[loop], std::max<int64_t>(1, room));
    block[loop] = size;
    blockElements *= size;
    room /= size;
    tiles[loop] = loop == c ? width : 1;
  }
  // The rows of the last reduction one at a time, or kColumnSumRows at a
  // time stepped through one by one with the accumulators in registers.
  std::optional<unsigned> red;
  if (inner > 0) {
    red = order[inner - 1];
    if (blockElements * elementBytes * 4 > l1Bytes)
      tiles[*red] = tileFor(ranges[*red], kColumnSumRows);
    steps[*red] = 1;
  }
  for (unsigned i = 0; i < ranges.size(); ++i) {
    if (block[i] == ranges[i])
      block[i] = 0;
    if (tiles[i] == (block[i] ? block[i] : ranges[i]))
      tiles[i] = 0;
  }
  Operation *target = op;
  if (worthThreads(ranges, block, threadWork(op, parallelWork))) {
    FailureOr<Operation *> threadTile = tile(rewriter, op, block, true);
    if (failed(threadTile))
      return failure();
    target = *threadTile;
  } else {
    FailureOr<Operation *> blockTile = tile(rewriter, op, block);
    if (failed(blockTile))
      return failure();
    target = *blockTile;
  }
  FailureOr<Operation *> rowTile =
      tile(rewriter, target, tiles, false, interchange);
  if (failed(rowTile))
    return failure();
  if (red && ranges[*red] > 1 && tiles[*red] != 1) {
    FailureOr<Operation *> stepTile = tile(rewriter, *rowTile, steps);
    if (failed(stepTile))
      return failure();
    rowTile = stepTile;
  }
  // An elementwise result larger than the caches is written by
  // non-temporal stores: einsum-lower-copies vectorizes the marked row
  // tile once it writes to memory.
  if (!red && resultBytes > streamBytes(l2Bytes, l3Bytes)) {
    (*rowTile)->setAttr(einsum::kStreamAttrName, rewriter.getUnitAttr());
    return success();
  }
  (void)vectorizeIfPossible(rewriter, *rowTile);
  return success();
}

/// The outer-product strategy: cache tiles, register tiles, vectorization
/// of the register tile.
/// Reduction blocks shorter than this reload the accumulators too often: a
/// reduction whose range has no divisor between this and the cache tile is
/// split.
static constexpr int64_t kMinReductionTile = 16;

/// Where `op` should be split so that every part's register tiles divide
/// its loop ranges: a dimension and the split point, or nullopt. The
/// register tile's rows and SIMD width must divide the two innermost
/// parallel loops (999 rows would otherwise get 3-row tiles, 999 columns
/// 27-lane vectors), and the innermost reduction needs a divisor of at
/// least kMinReductionTile (a prime reduction would otherwise be tiled by
/// 1). The first part then covers a multiple of the tile, the second the
/// remainder, which is smaller than one tile and so tiled by its own size.
static std::optional<std::pair<unsigned, int64_t>>
remainderSplit(linalg::LinalgOp op, ArrayRef<int64_t> ranges,
               unsigned vectorBits, unsigned vectorRegisters) {
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  if (parallel.empty())
    return std::nullopt;
  SmallVector<std::pair<unsigned, int64_t>> granules;
  granules.push_back({parallel.back(), 2 * simdLanes(op, vectorBits)});
  if (parallel.size() > 1) {
    unsigned rows = parallel[parallel.size() - 2];
    granules.push_back({rows, tileRows(op, ranges[rows], vectorRegisters)});
  }
  for (auto [dim, granule] : granules) {
    int64_t range = ranges[dim];
    if (range > granule && range % granule != 0)
      return std::make_pair(dim, range - range % granule);
  }
  if (!reduction.empty()) {
    unsigned red = reduction.back();
    int64_t range = ranges[red];
    if (range > kMinReductionTile && tileFor(range, 256) < kMinReductionTile)
      return std::make_pair(red, range - range % kMinReductionTile);
  }
  return std::nullopt;
}

static std::optional<std::pair<unsigned, int64_t>>
remainderSplit(linalg::LinalgOp op, unsigned vectorBits,
               unsigned vectorRegisters) {
  return remainderSplit(op, op.getStaticLoopRanges(), vectorBits,
                        vectorRegisters);
}

static LogicalResult
tileAndVectorizeOne(RewriterBase &rewriter, linalg::LinalgOp op,
                    unsigned vectorBits, unsigned vectorRegisters,
                    int64_t parallelWork, bool restart,
                    std::optional<RowStream> rows,
                    std::optional<Value> initFill, MemoryStream memory);

/// Batch iterations from which a loop nest's threads take whole batches.
static constexpr int64_t kMinBatchIterations = 8;
/// Thread chunks of the parallel loop of a streaming kernel (one parallel
/// loop, as in `i,ij->j`).
static constexpr int64_t kStreamChunks = 8;

/// The outer-product strategy on `op`, after splitting off the remainders
/// of its register tiles (remainderSplit) into parts of their own. With
/// `restart`, each register tile sums one cache block of the reductions
/// from zero and adds that sum to its accumulators in memory, so that no
/// accumulator adds more terms in a row than one block holds. With `rows`,
/// the register tiles are rows read one at a time in memory order (partial
/// sums of splitReductionLanes). `memory` tells which inputs stream from
/// memory (see fewRowsBlocks).
static LogicalResult tileAndVectorize(
    RewriterBase &rewriter, linalg::LinalgOp op, unsigned vectorBits,
    unsigned vectorRegisters, int64_t parallelWork, bool restart = false,
    std::optional<RowStream> rows = std::nullopt, MemoryStream memory = {}) {
  // Loop nests with outer parallel loops (batches: all but the two
  // innermost parallel loops) worth threads take them as one scf.forall
  // first, one iteration each, and split their remainders inside it: the
  // thin remainder parts then run on the threads too, in the same parallel
  // region, and every thread gets whole batches.
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  // The init's fill of the whole result moves into the parts: each part
  // that visits its register tiles once starts them from the fill value,
  // the others fill their own slice first. Left whole, the fill wrote the
  // result once more before the parts read it back: batch matmul 24 x
  // 100³ (batches on threads, 96 + 4 columns) on one Zen 4 core, 0.456 ->
  // 0.439 ms.
  std::optional<Value> initFill;
  if (!reduction.empty() && !rows)
    initFill = dropInitFill(rewriter, op);
  if (parallel.size() > 2) {
    SmallVector<int64_t> outer(ranges.size(), 0);
    int64_t iterations = 1;
    for (unsigned p : ArrayRef(parallel).drop_back(2)) {
      outer[p] = 1;
      iterations = einjit::saturatingProduct({iterations, ranges[p]});
    }
    // Thin parts (the row left of 129) run far below the FMA rate: a
    // tenth of the work pays off threads.
    if (iterations >= kMinBatchIterations &&
        worthThreads(ranges, outer, parallelWork / 8)) {
      FailureOr<Operation *> threadTile = tile(rewriter, op, outer, true);
      if (failed(threadTile))
        return failure();
      op = cast<linalg::LinalgOp>(*threadTile);
      parallelWork = 0;
    }
  }
  // Each part with the fill it starts from: a part split off along a
  // reduction (K = 1009: 1008 + 1) adds to the first part's result.
  SmallVector<std::pair<linalg::LinalgOp, std::optional<Value>>> parts{
      {op, initFill}};
  while (!parts.empty()) {
    auto [part, partFill] = parts.pop_back_val();
    // Rows one at a time need no remainder split.
    auto split =
        rows ? std::nullopt : remainderSplit(part, vectorBits, vectorRegisters);
    if (!split) {
      if (failed(tileAndVectorizeOne(rewriter, part, vectorBits,
                                     vectorRegisters, parallelWork, restart,
                                     rows, partFill, memory)))
        return failure();
      continue;
    }
    rewriter.setInsertionPoint(part);
    auto [first, second] =
        linalg::splitOp(rewriter, cast<TilingInterface>(part.getOperation()),
                        split->first, rewriter.getIndexAttr(split->second));
    if (!first)
      return failure();
    parts.push_back({cast<linalg::LinalgOp>(first.getOperation()), partFill});
    bool alongReduction =
        linalg::isReductionIterator(part.getIteratorTypesArray()[split->first]);
    if (second)
      parts.push_back({cast<linalg::LinalgOp>(second.getOperation()),
                       alongReduction ? std::nullopt : partFill});
  }
  return success();
}

/// A few rows (one register tile of them) times a right input `[K, N]`
/// beyond the L2 (`ij,jk->ik` at 1-8 x 4096 by 4096 x 4096): read in
/// blocks of kColumnSumRows of its rows across the whole width, as column
/// sums read theirs, with the K blocks outside the columns. In cache blocks
/// of 256 rows by 128 columns, each row of a block was a page of its own,
/// walked once per column block: on one Zen 4 core, 1, 2, 4 and 8 rows took
/// 4.5, 6.7, 6.7 and 6.9 ms, now 2.0-2.3, 2.3, 2.5 and 3.8. From the L3:
/// 6 x 1024 by 1024 x 1024 1.3x and 3 x 4099 by 4099 x 1009 1.4x faster
/// (5 x 999 by 999 x 3001 0.94x: kept in cache blocks, below). Sets
/// `sizes` and returns the columns of a
/// thread's chunk (0: no threads), or nullopt where the cache blocks stay:
/// other ops, and where threads would take chunks that are not wide and
/// even (a multiple of the threads, at most four per thread, of the
/// register tiles: not 93 tiles of 32 columns on two threads).
static std::optional<int64_t>
fewRowsBlocks(linalg::LinalgOp op, TileSizes &sizes, unsigned vectorRegisters,
              MemoryStream memory, int64_t parallelWork) {
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  if (memory.cachedBytes <= 0 || !sizes.vectorize || parallel.size() != 2 ||
      reduction.size() != 1)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned rowLoop = parallel.front(), columns = parallel.back(),
           red = reduction.front();
  OpOperand *rhs = inputWithout(op, rowLoop);
  if (!rhs ||
      op.getMatchingIndexingMap(rhs).getResults().back() !=
          getAffineDimExpr(columns, op.getContext()) ||
      sizes.cache[rowLoop] != 0 || sizes.reg[rowLoop] != 0 ||
      sizes.cache[red] == 0)
    return std::nullopt;
  int64_t bytes = byteSize(rhs->get().getType());
  if (bytes <= memory.cachedBytes)
    return std::nullopt;
  // From the L3, tiles of more than half the register rows do as well in
  // cache blocks (8 x 3072 by 3072 x 768 on two threads: 0.74-0.85x in
  // blocks of K rows), unless the rows of the right input crowd a set of
  // the L1 (a multiple of 4 KiB long: 8 x 2048 by 2048 x 2048 1.1-1.9x).
  Value root = rhs->get();
  while (auto slice = root.getDefiningOp<tensor::ExtractSliceOp>())
    root = slice.getSource();
  auto rootType = cast<ShapedType>(root.getType());
  int64_t rowBytes = einjit::saturatingProduct(
      {rootType.getShape().back(),
       std::max<int64_t>(1, rootType.getElementTypeBitWidth() / 8)});
  if (bytes <= memory.memoryBytes &&
      ranges[rowLoop] * 2 > registerRows(vectorRegisters) &&
      !einsum::crowdsL1Set(rowBytes, 2 * einsum::kL1Ways, einsum::kL1Ways / 2))
    return std::nullopt;
  // The register tile, which was the cache tile where they were equal.
  int64_t reg = sizes.reg[columns] ? sizes.reg[columns] : sizes.cache[columns];
  if (reg == 0)
    reg = ranges[columns];
  int64_t chunk = 0;
  if (memory.threads > 1 && enoughWorkForThreads(ranges, parallelWork)) {
    int64_t tiles = ranges[columns] / reg;
    for (int64_t c = memory.threads; c <= 4 * memory.threads && !chunk;
         c += memory.threads)
      if (tiles % c == 0)
        chunk = tiles / c * reg;
    if (!chunk)
      return std::nullopt;
  }
  // Tiles of more than half the register rows reload more accumulators
  // per block: twice the rows (8 x 3072 by 3072 x 768: 0.93x of the cache
  // blocks' speed in blocks of 8, 0.98x in 16). A divisor near the block:
  // 9 of 999 rather than 3.
  int64_t block = kColumnSumRows;
  if (ranges[rowLoop] * 2 > registerRows(vectorRegisters))
    block *= 2;
  sizes.cache[red] = tileFor(ranges[red], block);
  if (sizes.cache[red] < block / 2)
    sizes.cache[red] = tileFor(ranges[red], 2 * block);
  sizes.reg[columns] = reg;
  sizes.cache[columns] = 0;
  return chunk;
}

static LogicalResult
tileAndVectorizeOne(RewriterBase &rewriter, linalg::LinalgOp op,
                    unsigned vectorBits, unsigned vectorRegisters,
                    int64_t parallelWork, bool restart,
                    std::optional<RowStream> rows,
                    std::optional<Value> initFill, MemoryStream memory) {
  parallelWork = threadWork(op, parallelWork);
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  // Row blocks for the threads there will be: one block where there are
  // none (a batch forall outside took them, or too little work).
  if (rows && !enoughWorkForThreads(ranges, parallelWork))
    rows->threads = 1;
  TileSizes sizes = chooseTiles(op, vectorBits, vectorRegisters, rows);
  Operation *target = op;
  // Enough work for several threads: the cache tiles of the parallel loops
  // become one scf.forall, the reduction's cache tiles a loop inside it.
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  // With the reductions in one cache block, each register tile is visited
  // once, so it can start from the init's fill value rather than from a
  // whole filled result (as tileGemmKernel does).
  // `initFill`: the caller took the init's fill off already.
  std::optional<Value> fillValue;
  if (sizes.vectorize && !parallel.empty() && !reduction.empty() &&
      llvm::all_of(reduction, [&](unsigned r) { return sizes.cache[r] == 0; }))
    fillValue = initFill ? initFill : dropInitFill(rewriter, op);
  else if (initFill)
    fillInit(rewriter, op, *initFill);
  // With one parallel loop (`i,ij->j`), nothing reuses a block of the
  // inputs: the reductions' cache loops go outermost, so that the blocks
  // of a row are read one after the other, and threads take 8 chunks of
  // the parallel loop rather than cache tiles.
  bool streaming = parallel.size() == 1 && !reduction.empty() &&
                   sizes.cache[parallel.front()] != 0;
  std::optional<int64_t> fewRowsChunk =
      fewRowsBlocks(op, sizes, vectorRegisters, memory, parallelWork);
  streaming |= fewRowsChunk.has_value();
  SmallVector<int64_t> parallelTiles(ranges.size(), 0);
  for (unsigned p : parallel)
    parallelTiles[p] = sizes.cache[p];
  if (fewRowsChunk) {
    parallelTiles[parallel.back()] = *fewRowsChunk;
  } else if (streaming) {
    unsigned p = parallel.front();
    int64_t step = sizes.reg[p] ? sizes.reg[p] : sizes.cache[p];
    int64_t chunk = llvm::divideCeil(ranges[p], kStreamChunks * step) * step;
    if (chunk > sizes.cache[p] && ranges[p] % chunk == 0)
      parallelTiles[p] = chunk;
  }
  if (worthThreads(ranges, parallelTiles, parallelWork)) {
    SmallVector<int64_t> outer(ranges.size(), 0);
    for (unsigned p : parallel) {
      outer[p] = parallelTiles[p];
      if (parallelTiles[p] == sizes.cache[p])
        sizes.cache[p] = 0;
    }
    FailureOr<Operation *> threadTile = tile(rewriter, op, outer, true);
    if (failed(threadTile))
      return failure();
    target = *threadTile;
  }
  SmallVector<int64_t> interchange;
  if (streaming) {
    for (unsigned r : reduction)
      interchange.push_back(r);
    llvm::append_range(interchange, parallel);
  }
  FailureOr<Operation *> cacheTile =
      tile(rewriter, target, sizes.cache, false, interchange);
  if (failed(cacheTile))
    return failure();
  SmallVector<int64_t> steps(ranges.size(), 0);
  restart = restart && !fillValue && !reduction.empty();
  if (fillValue || restart) {
    for (unsigned r : reduction)
      std::swap(steps[r], sizes.reg[r]);
  }
  FailureOr<Operation *> regTile = tile(rewriter, *cacheTile, sizes.reg);
  if (failed(regTile))
    return failure();
  SmallVector<Operation *> extra;
  if (fillValue)
    extra.push_back(fillInit(rewriter, *regTile, *fillValue));
  if (restart) {
    // sum = tile op from zero; acc + sum written where the tile op wrote.
    auto tileOp = cast<linalg::LinalgOp>(*regTile);
    Value acc = tileOp.getDpsInits()[0];
    auto type = cast<RankedTensorType>(acc.getType());
    Location loc = tileOp.getLoc();
    rewriter.setInsertionPoint(tileOp);
    Value zero = arith::ConstantOp::create(
        rewriter, loc, rewriter.getZeroAttr(type.getElementType()));
    Value empty = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                          type.getElementType());
    auto fill = linalg::FillOp::create(rewriter, loc, zero, empty);
    rewriter.modifyOpInPlace(tileOp, [&] {
      tileOp.getDpsInitsMutable()[0].set(fill->getResult(0));
    });
    extra.push_back(fill);
    rewriter.setInsertionPointAfter(tileOp);
    auto add = linalg::AddOp::create(
        rewriter, loc, ValueRange{acc, tileOp->getResult(0)}, ValueRange{acc});
    rewriter.replaceAllUsesExcept(tileOp->getResult(0), add->getResult(0), add);
    extra.push_back(add);
  }
  FailureOr<Operation *> stepTile = tile(rewriter, *regTile, steps);
  if (failed(stepTile))
    return failure();
  if (sizes.vectorize)
    (void)vectorizeIfPossible(rewriter, *stepTile);
  for (Operation *o : extra)
    (void)vectorizeIfPossible(rewriter, o);
  return success();
}

/// The outer-product kernel takes SIMD vectors along the innermost parallel
/// loop. An input that carries that loop in any dimension but its last
/// (`kd` in `bhqd,bhkd->bhqk`) would feed every lane from another row.
/// When the loops that do not index the input reuse it at least 16 times,
/// so a copy is cheap next to the contraction, the input is transposed once
/// to make that loop its contiguous dimension. Returns the transposes. A
/// loop narrower than one SIMD register (the 1-column edge of attention
/// scores at s = 129, `bhqd,bhkd->bhqk` with k = 1) is left alone: its
/// rows would be gathered 8 at a time, and the dot products along the
/// inputs' common contiguous dimension run 4x faster as partial sums
/// (prefersPartialReduction). Returns the dimension of `input` that
/// transposeForSimd moves last, or nullopt where it leaves the input alone.
static std::optional<unsigned> simdTransposePosition(linalg::GenericOp op,
                                                     OpOperand *input,
                                                     unsigned vectorBits) {
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  if (parallel.empty() || reduction.empty())
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (ranges[parallel.back()] < simdLanes(op, vectorBits))
    return std::nullopt;
  // Where `in` carries the SIMD loop in a dimension but its last, and how
  // often the loops that do not index it reuse it.
  auto inside = [&](OpOperand *in) -> std::optional<unsigned> {
    AffineMap map = op.getMatchingIndexingMap(in);
    std::optional<unsigned> pos = map.getResultPosition(
        getAffineDimExpr(parallel.back(), op.getContext()));
    if (!pos || *pos + 1 == map.getNumResults())
      return std::nullopt;
    return pos;
  };
  auto reuse = [&](OpOperand *in) {
    AffineMap map = op.getMatchingIndexingMap(in);
    SmallVector<int64_t> sizes;
    for (unsigned loop = 0; loop < ranges.size(); ++loop)
      if (!map.isFunctionOfDim(loop))
        sizes.push_back(ranges[loop]);
    return einjit::saturatingProduct(sizes);
  };
  if (!op.getMatchingIndexingMap(input).isProjectedPermutation(
          /*allowZeroInResults=*/false))
    return std::nullopt;
  std::optional<unsigned> pos = inside(input);
  if (!pos || reuse(input) < 16)
    return std::nullopt;
  // Another input that carries the loop inside and is not copied would
  // still feed every lane from another row, so a copy of this one does
  // not help: `bnd,nd->bn` read `bnd` 8x32 elements at a time, 400 bytes
  // apart, once `nd` was copied (64x300x100 by 300x100 on one Zen 4 core:
  // 1.02 ms; 0.25 in dot products along `d`, prefersPartialReduction).
  for (OpOperand *other : op.getDpsInputOperands())
    if (other != input && inside(other) && reuse(other) < 16)
      return std::nullopt;
  return pos;
}

/// Transposes the inputs that simdTransposePosition names; returns the
/// transposes.
static SmallVector<linalg::TransposeOp> transposeForSimd(RewriterBase &rewriter,
                                                         linalg::GenericOp op,
                                                         unsigned vectorBits) {
  SmallVector<linalg::TransposeOp> copies;
  MLIRContext *ctx = op.getContext();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (OpOperand *input : op.getDpsInputOperands()) {
    std::optional<unsigned> pos = simdTransposePosition(op, input, vectorBits);
    if (!pos)
      continue;
    AffineMap map = maps[input->getOperandNumber()];

    SmallVector<int64_t> perm;
    for (unsigned i = 0; i < map.getNumResults(); ++i)
      if (i != *pos)
        perm.push_back(i);
    perm.push_back(*pos);
    auto type = cast<RankedTensorType>(input->get().getType());
    SmallVector<int64_t> shape;
    SmallVector<AffineExpr> exprs;
    for (int64_t p : perm) {
      shape.push_back(type.getDimSize(p));
      exprs.push_back(map.getResult(p));
    }
    rewriter.setInsertionPoint(op);
    Location loc = op.getLoc();
    Value init =
        tensor::EmptyOp::create(rewriter, loc, shape, type.getElementType());
    auto copy =
        linalg::TransposeOp::create(rewriter, loc, input->get(), init, perm);
    maps[input->getOperandNumber()] =
        AffineMap::get(map.getNumDims(), 0, exprs, ctx);
    rewriter.modifyOpInPlace(op, [&] {
      input->set(copy->getResult(0));
      op.setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(maps));
    });
    copies.push_back(copy);
  }
  return copies;
}

/// Narrower transposes (a range below 4) stay loop nests.
static constexpr int64_t kMinTransposeBlock = 4;

/// Thread chunks of a packing copy's outermost dimension.
static constexpr int64_t kCopyChunks = 8;

std::optional<unsigned> einsum::transposedLoop(linalg::LinalgOp op) {
  if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 0)
    return std::nullopt;
  AffineMap in = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
  AffineMap out = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (in.getNumResults() < 2 || !in.isPermutation() || !out.isIdentity())
    return std::nullopt;
  Block *body = op.getBlock();
  if (body->getOperations().size() != 1 ||
      body->getTerminator()->getOperands() != ValueRange(body->getArgument(0)))
    return std::nullopt;
  unsigned loop = cast<AffineDimExpr>(in.getResults().back()).getPosition();
  if (loop + 1 == in.getNumResults())
    return std::nullopt;
  return loop;
}

/// A transposing copy (transposedLoop) as square blocks of `lanes`: each
/// block is a 2-D `linalg.transpose` marked `einsum.transpose_block`, which
/// einsum-lower-copies turns into row loads, a shuffle network and row
/// stores. The block loops follow the input's layout, with the result's
/// innermost loop as the input has it and `c` innermost, so the `lanes`
/// input rows of a block column are read from start to end (through the
/// loops between, too: `ijk->kji` reads 16 rows of `i` from the first `j`
/// to the last, not 1 KiB of each for one `j`), and each block writes
/// `lanes` whole pieces of result rows: no line is read or written twice. Where
/// `lanes` does not divide a range, the last block overlaps the one before it
/// (rewriting the same values), so every block is whole. With `threads`,
/// the outermost block loop is an `scf.forall`. With `stream`, the blocks
/// are also marked `einsum.stream`: non-temporal stores.
static void buildTransposeBlocks(RewriterBase &rewriter, linalg::LinalgOp op,
                                 unsigned c, int64_t lanes, bool threads,
                                 bool stream) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned numLoops = ranges.size(), inner = numLoops - 1;
  AffineMap inMap = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
  Value input = op.getDpsInputs()[0];
  auto initType = cast<RankedTensorType>(op.getDpsInits()[0].getType());
  auto blockType =
      RankedTensorType::get({lanes, lanes}, initType.getElementType());
  auto size = [&](unsigned loop) -> int64_t {
    return loop == c || loop == inner ? lanes : 1;
  };
  // The loops in the input's layout, with `c` last: those before `inner`,
  // `inner`, those between (each block row then streams on through the
  // input), `c`.
  SmallVector<unsigned> order, between;
  bool afterInner = false;
  for (AffineExpr e : inMap.getResults()) {
    unsigned loop = cast<AffineDimExpr>(e).getPosition();
    if (loop == inner)
      afterInner = true;
    if (loop == c || loop == inner || ranges[loop] <= 1)
      continue;
    (afterInner ? between : order).push_back(loop);
  }
  order.push_back(inner);
  llvm::append_range(order, between);
  order.push_back(c);

  // Offsets of each loop's block, in the input and in the destination of
  // the loop being built (a forall's slice, or the whole result).
  SmallVector<OpFoldResult> inOffsets(numLoops, rewriter.getIndexAttr(0));
  SmallVector<OpFoldResult> outOffsets = inOffsets;
  auto blockStart = [&](OpBuilder &b, Location loc, unsigned loop,
                        Value iv) -> Value {
    if (size(loop) == 1 || ranges[loop] % lanes == 0)
      return iv;
    Value last = arith::ConstantIndexOp::create(b, loc, ranges[loop] - lanes);
    return arith::MinSIOp::create(b, loc, iv, last);
  };
  auto sizesAndStrides = [&](ArrayRef<unsigned> loops) {
    SmallVector<OpFoldResult> sizes, strides;
    for (unsigned loop : loops) {
      sizes.push_back(rewriter.getIndexAttr(size(loop)));
      strides.push_back(rewriter.getIndexAttr(1));
    }
    return std::make_pair(sizes, strides);
  };
  SmallVector<unsigned> inLoops, outLoops;
  for (AffineExpr e : inMap.getResults())
    inLoops.push_back(cast<AffineDimExpr>(e).getPosition());
  for (unsigned loop = 0; loop < numLoops; ++loop)
    outLoops.push_back(loop);

  std::function<Value(OpBuilder &, Location, unsigned, Value)> nest =
      [&](OpBuilder &b, Location loc, unsigned depth, Value dest) -> Value {
    if (depth == order.size()) {
      SmallVector<OpFoldResult> from, to;
      for (unsigned loop : inLoops)
        from.push_back(inOffsets[loop]);
      for (unsigned loop : outLoops)
        to.push_back(outOffsets[loop]);
      auto [inSizes, inStrides] = sizesAndStrides(inLoops);
      auto [outSizes, outStrides] = sizesAndStrides(outLoops);
      Value src = tensor::ExtractSliceOp::create(b, loc, blockType, input, from,
                                                 inSizes, inStrides);
      Value dst = tensor::ExtractSliceOp::create(b, loc, blockType, dest, to,
                                                 outSizes, outStrides);
      auto block = linalg::TransposeOp::create(b, loc, src, dst,
                                               ArrayRef<int64_t>{1, 0});
      block->setAttr(einsum::kTransposeBlockAttrName, b.getUnitAttr());
      if (stream)
        block->setAttr(einsum::kStreamAttrName, b.getUnitAttr());
      return tensor::InsertSliceOp::create(b, loc, block->getResult(0), dest,
                                           to, outSizes, outStrides);
    }
    unsigned loop = order[depth];
    Value lb = arith::ConstantIndexOp::create(b, loc, 0);
    Value ub = arith::ConstantIndexOp::create(b, loc, ranges[loop]);
    Value step = arith::ConstantIndexOp::create(b, loc, size(loop));
    auto forOp = scf::ForOp::create(
        b, loc, lb, ub, step, ValueRange{dest},
        [&](OpBuilder &b, Location loc, Value iv, ValueRange args) {
          Value start = blockStart(b, loc, loop, iv);
          inOffsets[loop] = outOffsets[loop] = start;
          scf::YieldOp::create(b, loc, nest(b, loc, depth + 1, args[0]));
        });
    return forOp.getResult(0);
  };

  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Value init = op.getDpsInits()[0];
  Value result;
  unsigned first = order.front();
  if (threads && ranges[first] > size(first)) {
    // Each iteration writes the slice of its block row (overlapping the one
    // before it only at the end of a range, with the same values).
    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(ranges[first])},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(size(first))},
        ValueRange{init}, std::nullopt);
    OpBuilder b = OpBuilder::atBlockBegin(forall.getBody());
    Value start = blockStart(b, loc, first, forall.getInductionVars()[0]);
    Value shared = forall.getRegionIterArgs()[0];
    SmallVector<OpFoldResult> offsets(numLoops, b.getIndexAttr(0)), sizes,
        strides(numLoops, b.getIndexAttr(1));
    for (unsigned loop = 0; loop < numLoops; ++loop)
      sizes.push_back(
          b.getIndexAttr(loop == first ? size(loop) : ranges[loop]));
    offsets[first] = start;
    Value slice =
        tensor::ExtractSliceOp::create(b, loc, shared, offsets, sizes, strides);
    inOffsets[first] = start;
    Value written = nest(b, loc, 1, slice);
    b.setInsertionPointToEnd(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(b, loc, written, shared, offsets,
                                          sizes, strides);
    result = forall.getResult(0);
  } else {
    result = nest(rewriter, loc, 0, init);
  }
  rewriter.replaceOp(op, result);
}

/// A reduction of one input whose result keeps its dims in another order
/// than the input lays them out (`ijk->ki`): computed in the input's order
/// (`ijk->ik`, column sums along the contiguous `k`), its init and result
/// transposed around it, rather than as a reduction that reads the input
/// across rows for each SIMD vector (`ijk->ki` at 200x300x100 on one Zen 4
/// core: 3.2 ms; numpy 0.8). Returns the new reduction and the transposes,
/// or nullopt where the result's order is the input's already.
static std::optional<
    std::pair<linalg::GenericOp, SmallVector<linalg::TransposeOp>>>
reduceInInputOrder(RewriterBase &rewriter, linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() == 0 || !op.hasPureTensorSemantics())
    return std::nullopt;
  AffineMap inMap = op.getIndexingMapsArray()[0];
  AffineMap outMap = op.getIndexingMapsArray()[1];
  if (!inMap.isPermutation() || !outMap.isProjectedPermutation() ||
      outMap.getNumResults() < 2)
    return std::nullopt;
  SmallVector<unsigned> outLoops, sorted;
  for (AffineExpr e : outMap.getResults())
    outLoops.push_back(cast<AffineDimExpr>(e).getPosition());
  sorted = outLoops;
  llvm::sort(sorted, [&](unsigned a, unsigned b) {
    return *inMap.getResultPosition(getAffineDimExpr(a, op.getContext())) <
           *inMap.getResultPosition(getAffineDimExpr(b, op.getContext()));
  });
  if (sorted == outLoops)
    return std::nullopt;
  // Temporary dim t holds loop sorted[t]; the result's dim d loop
  // outLoops[d].
  SmallVector<int64_t> toTemp, toResult;
  for (unsigned loop : sorted)
    toTemp.push_back(llvm::find(outLoops, loop) - outLoops.begin());
  for (unsigned loop : outLoops)
    toResult.push_back(llvm::find(sorted, loop) - sorted.begin());
  Value init = op.getDpsInits()[0];
  auto type = cast<RankedTensorType>(init.getType());
  SmallVector<int64_t> shape;
  for (int64_t d : toTemp)
    shape.push_back(type.getDimSize(d));
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Value temp =
      tensor::EmptyOp::create(rewriter, loc, shape, type.getElementType());
  SmallVector<linalg::TransposeOp> copies;
  // The copy back writes every element of the result: a fill used only
  // here fills the temporary instead.
  Value dest = init;
  if (auto fill = init.getDefiningOp<linalg::FillOp>()) {
    temp = linalg::FillOp::create(rewriter, loc, fill.getInputs()[0], temp)
               ->getResult(0);
    if (fill->hasOneUse())
      dest = fill.getOutputs()[0];
  } else {
    auto in = linalg::TransposeOp::create(rewriter, loc, init, temp, toTemp);
    copies.push_back(in);
    temp = in->getResult(0);
  }
  SmallVector<AffineExpr> exprs;
  for (unsigned loop : sorted)
    exprs.push_back(getAffineDimExpr(loop, op.getContext()));
  SmallVector<AffineMap> maps = {
      inMap, AffineMap::get(outMap.getNumDims(), 0, exprs, op.getContext())};
  auto reduced = linalg::GenericOp::create(rewriter, loc, temp.getType(),
                                           op.getDpsInputs(), temp, maps,
                                           op.getIteratorTypesArray());
  rewriter.inlineRegionBefore(op.getRegion(), reduced.getRegion(),
                              reduced.getRegion().begin());
  reduced->setDiscardableAttrs(op->getDiscardableAttrDictionary());
  auto out = linalg::TransposeOp::create(rewriter, loc, reduced.getResult(0),
                                         dest, toResult);
  copies.push_back(out);
  rewriter.replaceOp(op, out->getResult(0));
  return std::make_pair(reduced, copies);
}

/// A transposing copy (transposedLoop) as blocks (buildTransposeBlocks) of
/// one cache line per row (16 f32, 8 f64), or of the largest power of two
/// that both ranges hold, from 4. Threads from `parallelWork` / 8
/// elements; streaming stores from a result of `streamFrom` bytes (never
/// when 0: a packing copy, which the kernel reads next). Returns failure,
/// doing nothing, for any other op.
static LogicalResult tileTransposeBlocks(RewriterBase &rewriter,
                                         linalg::LinalgOp op,
                                         int64_t parallelWork,
                                         int64_t streamFrom) {
  std::optional<unsigned> c = einsum::transposedLoop(op);
  if (!c)
    return failure();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  Type element = getElementTypeOrSelf(op.getDpsInits()[0].getType());
  int64_t bytes = element.getIntOrFloatBitWidth() / 8;
  int64_t lanes =
      std::min<int64_t>({kCacheLineBytes / bytes, 16,
                         int64_t(llvm::bit_floor(
                             uint64_t(std::min(ranges[*c], ranges.back()))))});
  if (lanes < kMinTransposeBlock)
    return failure();
  int64_t elements = einjit::saturatingProduct(ranges);
  bool threads = parallelWork > 0 && elements >= parallelWork / 8;
  bool stream = streamFrom > 0 &&
                einjit::saturatingProduct({elements, bytes}) > streamFrom;
  buildTransposeBlocks(rewriter, op, *c, lanes, threads, stream);
  return success();
}

/// A copy (`linalg.transpose`). One that keeps the innermost dimension
/// innermost moves contiguous rows: it is tiled into row pieces of two SIMD
/// registers (or the row, when shorter), and the piece left at the end of
/// each row by a width that two registers do not divide is split off and
/// vectorized at its own width. A real transpose whose result rows are a
/// power of two long is tiled into register tiles of rows x width,
/// vectorized as blocks, with its remainders left to loop nests; any other
/// stays a loop nest.
static Value readWhole(OpBuilder &b, Location loc, Value t,
                       ArrayRef<int64_t> shape);

/// `op`, a copy, tiled to its `innerLoops` innermost loops (each tile
/// copies one row, or one panel row of groups); with enough work, inside
/// an `scf.forall` over chunks of its outermost loop above 1 when that
/// loop is outside them.
static FailureOr<linalg::TransposeOp> tileCopyRows(RewriterBase &rewriter,
                                                   linalg::TransposeOp op,
                                                   unsigned innerLoops,
                                                   int64_t parallelWork) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t rank = ranges.size();
  Operation *target = op;
  auto outer = llvm::find_if(ranges, [](int64_t r) { return r > 1; });
  if (outer - ranges.begin() < rank - int64_t(innerLoops)) {
    SmallVector<int64_t> chunks(rank, 0);
    chunks[outer - ranges.begin()] =
        llvm::divideCeil(*outer, std::min<int64_t>(*outer, kCopyChunks));
    // A copy does one move where a contraction step does one FMA per loop
    // iteration, and a packing copy left to one thread keeps the other
    // waiting: it pays off threads at 1/32 of the work (373^3 on two Zen 4
    // threads: 183-194 -> 193-200 GFLOP/s; 436^3 183-197 -> 200-205).
    if (worthThreads(ranges, chunks, parallelWork / 32)) {
      FailureOr<Operation *> threadTile = tile(rewriter, op, chunks, true);
      if (failed(threadTile))
        return failure();
      target = *threadTile;
    }
  }
  SmallVector<int64_t> sizes(rank, 1);
  for (int64_t d = rank - innerLoops; d < rank; ++d)
    sizes[d] = 0;
  FailureOr<Operation *> tiled = tile(rewriter, target, sizes);
  if (failed(tiled))
    return failure();
  return cast<linalg::TransposeOp>(*tiled);
}

/// The dot-product packing copy of einsum-pack-contractions, `[..., K/G,
/// NR, G]` from `[..., K/G, G, ..., NR]`: the last dimension, a group of
/// G = 2 or 4 (bf16 pairs, byte quads), comes from an outer one of the
/// input, and the next-to-last from the input's contiguous one. Each
/// panel row is G contiguous reads of NR elements, interleaved in
/// registers (`vector.interleave`: unpacks and permutes), and one
/// contiguous write of NR x G, instead of a loop nest of scalar moves.
/// Fails on another copy, and on rows longer than a panel's (up to 64
/// elements): a transpose of 2 or 4 long rows (an f32 left-hand side of 4
/// rows, packed whole) would become one vector as long as the rows, which
/// LLVM's instruction selection takes seconds to split.
static LogicalResult interleaveGroups(RewriterBase &rewriter,
                                      linalg::TransposeOp op,
                                      int64_t parallelWork) {
  ArrayRef<int64_t> perm = op.getPermutation();
  unsigned rank = perm.size();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (rank < 2 || perm[rank - 2] != int64_t(rank) - 1 ||
      perm.back() == int64_t(rank) - 1 ||
      (ranges.back() != 2 && ranges.back() != 4) || ranges[rank - 2] > 64 ||
      ShapedType::isDynamic(ranges[rank - 2]) || !op.hasPureTensorSemantics())
    return failure();
  int64_t group = ranges.back(), row = ranges[rank - 2];
  FailureOr<linalg::TransposeOp> tiled =
      tileCopyRows(rewriter, op, /*innerLoops=*/2, parallelWork);
  if (failed(tiled))
    return failure();
  linalg::TransposeOp rowCopy = *tiled;
  Location loc = rowCopy.getLoc();
  rewriter.setInsertionPoint(rowCopy);
  // The input tile is [1, ..., G, ..., 1, NR]: G rows of NR.
  Value rows = readWhole(rewriter, loc, rowCopy.getInput(), {group, row});
  SmallVector<Value> parts;
  for (int64_t g = 0; g < group; ++g)
    parts.push_back(vector::ExtractOp::create(rewriter, loc, rows, g));
  // interleave(a, b) alternates a and b; for four rows, interleaving the
  // interleaves of rows 0, 2 and of rows 1, 3 gives 0, 1, 2, 3, 0, ...
  Value joined =
      group == 2
          ? vector::InterleaveOp::create(rewriter, loc, parts[0], parts[1])
                .getResult()
          : vector::InterleaveOp::create(
                rewriter, loc,
                vector::InterleaveOp::create(rewriter, loc, parts[0], parts[2]),
                vector::InterleaveOp::create(rewriter, loc, parts[1], parts[3]))
                .getResult();
  Value init = rowCopy.getInit();
  auto initType = cast<RankedTensorType>(init.getType());
  ReassociationIndices all = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  Value flat = tensor::CollapseShapeOp::create(
      rewriter, loc, init, ArrayRef<ReassociationIndices>{all});
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value written =
      vector::TransferWriteOp::create(rewriter, loc, joined, flat,
                                      ValueRange{zero}, ArrayRef<bool>{true})
          .getResult();
  rewriter.replaceOp(rowCopy, tensor::ExpandShapeOp::create(
                                  rewriter, loc, initType, written,
                                  ArrayRef<ReassociationIndices>{all}));
  return success();
}

static LogicalResult tileAndVectorizeCopy(RewriterBase &rewriter,
                                          linalg::TransposeOp op,
                                          unsigned vectorBits,
                                          unsigned vectorRegisters,
                                          int64_t parallelWork) {
  ArrayRef<int64_t> perm = op.getPermutation();
  unsigned rank = perm.size();
  int64_t row = op.getStaticLoopRanges().back();
  if (succeeded(interleaveGroups(rewriter, op, parallelWork)))
    return success();
  if (rank > 0 && perm.back() != int64_t(rank) - 1) {
    // Square blocks; a transpose with a range below 4 stays a loop nest.
    (void)tileTransposeBlocks(rewriter, op, parallelWork, /*streamFrom=*/0);
    return success();
  }
  // One row at a time, as 1-D copies of whole registers or powers of two:
  // a row that they do not cover exactly takes two that overlap (31
  // columns: 0-15 and 15-30), as memcpy does with its tail, instead of
  // an odd-sized vector that legalizes into five pieces.
  // With enough work, threads take chunks of the outermost dimension.
  FailureOr<linalg::TransposeOp> tiled =
      tileCopyRows(rewriter, op, /*innerLoops=*/1, parallelWork);
  if (failed(tiled))
    return failure();
  linalg::TransposeOp rowCopy = *tiled;
  Location loc = rowCopy.getLoc();
  rewriter.setInsertionPoint(rowCopy);
  auto rowType = RankedTensorType::get(
      {row}, getElementTypeOrSelf(rowCopy.getInput().getType()));
  Value src = tensor::createCanonicalRankReducingExtractSliceOp(
      rewriter, loc, rowCopy.getInput(), rowType);
  Value init = rowCopy.getInit();
  Value dst = tensor::createCanonicalRankReducingExtractSliceOp(rewriter, loc,
                                                                init, rowType);
  int64_t lanes = simdLanes(rowCopy, vectorBits);
  SmallVector<std::pair<int64_t, int64_t>> pieces; // offset, size
  if (row % lanes == 0 || llvm::isPowerOf2_64(row)) {
    pieces.push_back({0, row});
  } else {
    int64_t width =
        row > lanes ? row / lanes * lanes : llvm::bit_floor(uint64_t(row));
    int64_t last = row > lanes ? lanes : width;
    pieces = {{0, width}, {row - last, last}};
  }
  for (auto [offset, size] : pieces) {
    OpFoldResult o = rewriter.getIndexAttr(offset),
                 n = rewriter.getIndexAttr(size),
                 one = rewriter.getIndexAttr(1);
    Value from =
        tensor::ExtractSliceOp::create(rewriter, loc, src, {o}, {n}, {one});
    Value to =
        tensor::ExtractSliceOp::create(rewriter, loc, dst, {o}, {n}, {one});
    auto copy = linalg::CopyOp::create(rewriter, loc, from, to);
    auto insert = tensor::InsertSliceOp::create(
        rewriter, loc, copy->getResult(0), dst, {o}, {n}, {one});
    dst = insert;
    (void)vectorizeIfPossible(rewriter, copy);
    rewriter.setInsertionPointAfter(insert);
  }
  rewriter.setInsertionPoint(rowCopy);
  Value written = tensor::createCanonicalRankReducingInsertSliceOp(
      rewriter, loc, dst, init);
  rewriter.replaceOp(rowCopy, written);
  return success();
}

/// Reads all of `t`, a static tensor, as one vector cast to `shape`.
static Value readWhole(OpBuilder &b, Location loc, Value t,
                       ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(t.getType());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  SmallVector<Value> indices(type.getRank(), zero);
  Value padding =
      arith::ConstantOp::create(b, loc, b.getZeroAttr(type.getElementType()));
  SmallVector<bool> inBounds(type.getRank(), true);
  Value whole = vector::TransferReadOp::create(
      b, loc, VectorType::get(type.getShape(), type.getElementType()), t,
      indices, padding, ArrayRef<bool>(inBounds));
  return vector::ShapeCastOp::create(
      b, loc, VectorType::get(shape, type.getElementType()), whole);
}

/// Lowers the register tile of a dot-product micro-kernel op (one K group:
/// loops of size 1 but the tile's rows, columns and group) to AVX512-BF16's
/// vdpbf16ps (bf16 pairs into f32) or AVX512-VNNI's vpdpbusd (four u8 x i8
/// into i32): each row's group of the left-hand side, broadcast as one
/// 32-bit word, times each SIMD register of the right-hand side's panel
/// row, whose groups lie next to each other, into that row's accumulators.
/// For integers the body's zero-extended input is vpdpbusd's unsigned
/// operand. Fails (for the vectorizer to take it) on another shape.
static LogicalResult lowerDotTile(RewriterBase &rewriter, linalg::GenericOp op,
                                  ArrayRef<int64_t> roles,
                                  unsigned vectorBits) {
  using einsum::GemmLoop;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  std::optional<unsigned> mTile, nTile, kPair;
  for (auto [loop, role] : llvm::enumerate(roles)) {
    if (GemmLoop(role) == GemmLoop::MTile)
      mTile = loop;
    else if (GemmLoop(role) == GemmLoop::NTile)
      nTile = loop;
    else if (GemmLoop(role) == GemmLoop::KPair)
      kPair = loop;
    else if (ranges[loop] != 1)
      return failure();
  }
  if (!mTile || !nTile || !kPair || !op.hasPureTensorSemantics())
    return failure();
  int64_t mr = ranges[*mTile], nr = ranges[*nTile], group = ranges[*kPair];
  int64_t lanes = vectorBits / 32;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto at = [&](unsigned operand, unsigned loop) {
    return maps[operand].getResultPosition(
        getAffineDimExpr(loop, op.getContext()));
  };
  Value a = op.getDpsInputs()[0], b = op.getDpsInputs()[1],
        c = op.getDpsInits()[0];
  Type narrow = getElementTypeOrSelf(a.getType()),
       acc = getElementTypeOrSelf(c.getType());
  bool bf16 = narrow.isBF16() && acc.isF32() && group == 2;
  bool int8 = narrow.isInteger(8) && acc.isInteger(32) && group == 4;
  // For integers, which input the body zero-extends.
  bool aUnsigned = true;
  if (int8) {
    Block &body = op.getRegion().front();
    auto extension = [&](unsigned arg) -> Operation * {
      Value v = body.getArgument(arg);
      return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
    };
    Operation *aExt = extension(0), *bExt = extension(1);
    if (!aExt || !bExt ||
        isa<arith::ExtUIOp>(aExt) == isa<arith::ExtUIOp>(bExt) ||
        !isa<arith::ExtUIOp, arith::ExtSIOp>(aExt) ||
        !isa<arith::ExtUIOp, arith::ExtSIOp>(bExt))
      return failure();
    aUnsigned = isa<arith::ExtUIOp>(aExt);
  }
  unsigned aRank = cast<RankedTensorType>(a.getType()).getRank();
  if ((!bf16 && !int8) || vectorBits != 512 || nr % lanes != 0 ||
      !at(0, *mTile) || at(0, *kPair) != std::optional<unsigned>(aRank - 1) ||
      !at(1, *nTile) || !at(1, *kPair) || *at(1, *nTile) > *at(1, *kPair) ||
      !at(2, *mTile) || !at(2, *nTile) ||
      getElementTypeOrSelf(b.getType()) != narrow)
    return failure();

  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Type i32 = rewriter.getI32Type();
  auto groups = VectorType::get({lanes * group}, narrow);
  auto words = VectorType::get({lanes}, i32);
  auto accumulators = VectorType::get({lanes}, acc);
  auto dot = [&](Value sums, Value aGroups, Value bGroups) -> Value {
    if (bf16)
      return x86vector::DotBF16Op::create(rewriter, loc, accumulators, sums,
                                          aGroups, bGroups);
    Value u = aUnsigned ? aGroups : bGroups, s = aUnsigned ? bGroups : aGroups;
    return einsum::DotU8I8Op::create(rewriter, loc, accumulators, sums, u, s);
  };
  // bf16 operands as vector<32xbf16>, integers as vector<16xi32>.
  VectorType operandType = bf16 ? groups : words;

  // The right-hand side's panel row, read as one contiguous vector (an
  // n-D read would be unrolled into reads of its innermost dimension, the
  // group).
  auto bType = cast<RankedTensorType>(b.getType());
  ReassociationIndices all =
      llvm::to_vector(llvm::seq<int64_t>(0, bType.getRank()));
  Value bFlat = tensor::CollapseShapeOp::create(
      rewriter, loc, b, ArrayRef<ReassociationIndices>{all});
  Value bRow = readWhole(rewriter, loc, bFlat, {nr * group});
  SmallVector<Value> bVectors;
  for (int64_t col = 0; col < nr; col += lanes) {
    Value part = vector::ExtractStridedSliceOp::create(
        rewriter, loc, bRow, {col * group}, {lanes * group}, {1});
    bVectors.push_back(
        vector::BitCastOp::create(rewriter, loc, operandType, part));
  }
  bool rowsFirst = *at(2, *mTile) < *at(2, *nTile);
  Value tile = readWhole(rewriter, loc, c,
                         rowsFirst ? ArrayRef<int64_t>{mr, nr}
                                   : ArrayRef<int64_t>{nr, mr});
  if (!rowsFirst)
    tile = vector::TransposeOp::create(rewriter, loc, tile, {1, 0});
  // Each row's group, one 32-bit word broadcast from memory; the group is
  // the left-hand side's innermost dimension.
  auto aType = cast<RankedTensorType>(a.getType());
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value narrowZero =
      arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(narrow));
  for (int64_t row = 0; row < mr; ++row) {
    SmallVector<Value> indices(aType.getRank(), zero);
    indices[*at(0, *mTile)] =
        arith::ConstantIndexOp::create(rewriter, loc, row);
    Value aGroup = vector::TransferReadOp::create(
        rewriter, loc, VectorType::get({group}, narrow), a, indices, narrowZero,
        ArrayRef<bool>{true});
    Value word = vector::ExtractOp::create(
        rewriter, loc,
        vector::BitCastOp::create(rewriter, loc, VectorType::get({1}, i32),
                                  aGroup),
        0);
    Value broadcast = vector::BroadcastOp::create(rewriter, loc, words, word);
    Value aGroups =
        vector::BitCastOp::create(rewriter, loc, operandType, broadcast);
    Value sums = vector::ExtractOp::create(rewriter, loc, tile, row);
    for (auto [i, bVector] : llvm::enumerate(bVectors)) {
      int64_t col = int64_t(i) * lanes;
      Value part = vector::ExtractStridedSliceOp::create(rewriter, loc, sums,
                                                         {col}, {lanes}, {1});
      part = dot(part, aGroups, bVector);
      sums = vector::InsertStridedSliceOp::create(rewriter, loc, part, sums,
                                                  {col}, {1});
    }
    tile = vector::InsertOp::create(rewriter, loc, sums, tile, row);
  }
  if (!rowsFirst)
    tile = vector::TransposeOp::create(rewriter, loc, tile, {1, 0});
  auto cType = cast<RankedTensorType>(c.getType());
  tile = vector::ShapeCastOp::create(
      rewriter, loc, VectorType::get(cType.getShape(), acc), tile);
  SmallVector<Value> indices(cType.getRank(), zero);
  SmallVector<bool> inBounds(cType.getRank(), true);
  Value written = vector::TransferWriteOp::create(
                      rewriter, loc, tile, c, indices, ArrayRef<bool>(inBounds))
                      .getResult();
  rewriter.replaceOp(op, written);
  return success();
}

/// Lanes up to which a padding fill's rows are one vector store each.
static constexpr int64_t kMaxFillRowLanes = 1024;

/// The zero padding of a packed operand's last panel (a linalg.fill of a
/// slice that einsum-pack-contractions inserts into the packed tensor), or
/// the fill of a micro-kernel's block of the result: one vector store per
/// row, in loops over the rest. Left to the loop lowering,
/// its scalar loops were unrolled by LLVM (attention scores at s = 100: a
/// 12 x 64 x 12 pad became 1536 stores in one block, over which the
/// post-RA scheduler spent 0.9 s of a 1.4 s compile).
static LogicalResult tileAndVectorizePadFill(RewriterBase &rewriter,
                                             linalg::FillOp fill) {
  SmallVector<int64_t> ranges =
      cast<linalg::LinalgOp>(fill.getOperation()).getStaticLoopRanges();
  if (ranges.size() < 2 || ranges.back() > kMaxFillRowLanes)
    return success();
  SmallVector<int64_t> rows(ranges.size(), 1);
  rows.back() = 0;
  FailureOr<Operation *> row = tile(rewriter, fill, rows);
  if (failed(row))
    return failure();
  (void)vectorizeIfPossible(rewriter, *row);
  return success();
}

/// Chunks per thread that a packed micro-kernel's panels are cut into at
/// most, when it is worth threads: at 2048^3 on two Zen 4 threads, 8
/// chunks of 32 M panels ran at 186-201 GFLOP/s, 2 of 128 at 177-182.
static constexpr int64_t kChunksPerThread = 4;

/// The share of an even split that the busiest thread gets, for `panels`
/// panels cut into chunks of `size` anew in each of `outer` iterations of
/// the loops outside them, whose iterations (outer loops outermost)
/// OpenMP's static schedule deals out to `threads` threads in order, the
/// first `n % threads` of them one more: 1 when perfectly even.
static double chunkBalance(int64_t panels, int64_t outer, int64_t threads,
                           int64_t size) {
  int64_t chunks = llvm::divideCeil(panels, size);
  int64_t n = einjit::saturatingProduct({outer, chunks});
  // The panels of iterations [0, i).
  auto before = [&](int64_t i) {
    return i / chunks * panels + std::min(i % chunks * size, panels);
  };
  int64_t busiest = 0, begin = 0;
  for (int64_t t = 0; t < threads && begin < n; ++t) {
    int64_t end = begin + n / threads + (t < n % threads ? 1 : 0);
    busiest = std::max(busiest, before(end) - before(begin));
    begin = end;
  }
  return double(outer) * double(panels) / double(threads) /
         double(std::max<int64_t>(busiest, 1));
}

/// K steps that a packed micro-kernel's K blocks should have at least: a
/// shorter block loads and stores the accumulator tile more often, and
/// the result from memory. 2048^3 on one Zen 4 core: 91-97 GFLOP/s with
/// KC = 64 (all 2048 columns in half the L2), 102-109 with 256 in blocks
/// of 512 columns.
static constexpr int64_t kKcWanted = 256;

/// The schedule of a micro-kernel op built by einsum-pack-contractions
/// (its loop roles in `roles`), BLIS' loops around the register tile:
/// 1. with enough work, an `scf.forall` over the outer loops and chunks of
///    the M panels or the N panels, whichever give `threadCount` threads
///    even shares (see EinsumTileAndVectorize in Passes.td);
/// 2. the innermost K loop in blocks of KC, chosen so that a block of the N
///    panels stays in half the L2 and a block of one M panel in half the
///    L1; N panels too wide for kKcWanted K steps go in blocks of NC
///    panels, outside the K blocks;
/// 3. loops over the outer loops, M panels, N panels and K;
/// 4. the register tile (MR x NR, one K step), vectorized.
static LogicalResult tileGemmKernel(RewriterBase &rewriter,
                                    linalg::GenericOp op,
                                    ArrayRef<int64_t> roles,
                                    unsigned vectorBits, int64_t l1Bytes,
                                    int64_t l2Bytes, int64_t l3Bytes,
                                    int64_t parallelWork, int64_t threadCount) {
  using einsum::GemmLoop;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned numLoops = ranges.size();
  auto role = [&](unsigned loop) { return GemmLoop(roles[loop]); };
  std::optional<unsigned> mPanel, nPanel, mTile, nTile, lastK, kPair;
  int64_t outerTiles = 1;
  for (unsigned loop = 0; loop < numLoops; ++loop) {
    switch (role(loop)) {
    case GemmLoop::Outer:
      outerTiles = einjit::saturatingProduct({outerTiles, ranges[loop]});
      break;
    case GemmLoop::MPanel:
      mPanel = loop;
      break;
    case GemmLoop::NPanel:
      nPanel = loop;
      break;
    case GemmLoop::K:
      lastK = loop;
      break;
    case GemmLoop::MTile:
      mTile = loop;
      break;
    case GemmLoop::NTile:
      nTile = loop;
      break;
    case GemmLoop::KPair:
      kPair = loop;
      break;
    }
  }
  if (!mPanel || !nPanel || !mTile || !nTile || !lastK)
    return op.emitOpError("einsum.gemm lacks a loop role");

  // The bytes of a K step (a K group of dot products) per panel row and
  // column.
  Type element = getElementTypeOrSelf(op.getDpsInputs()[1].getType());
  int64_t bytes = element.getIntOrFloatBitWidth() / 8 *
                  (kPair ? ranges[*kPair] : int64_t(1));
  // KC: a block of the N panels in half the L2 and a block of one M panel
  // in half the L1. Where the N panels are too wide for kKcWanted K steps
  // in half the L2, they go in blocks of NC panels that are not.
  int64_t kcL1 = l1Bytes / 2 / (ranges[*mTile] * bytes);
  int64_t kc =
      std::min(l2Bytes / 2 / (ranges[*nPanel] * ranges[*nTile] * bytes), kcL1);
  int64_t nc = 0;
  int64_t kcWanted = std::min(kKcWanted, kcL1);
  if (kc < kcWanted && ranges[*lastK] > kc) {
    nc =
        std::max<int64_t>(1, l2Bytes / 2 / (kcWanted * ranges[*nTile] * bytes));
    kc = kcWanted;
  }
  kc = std::max<int64_t>(kc, 64);

  // With one K block, each register tile is visited once: its
  // accumulators can start from the init's fill value instead of memory
  // that a fill wrote first (a whole pass over the result, and a read).
  std::optional<Value> fillValue;
  if (ranges[*lastK] <= kc)
    fillValue = dropInitFill(rewriter, op);
  // With several K blocks, each thread fills its own block of the result
  // before its K loop: in parallel, into its cache, and with no fill that
  // CSE could share between contractions (which would bufferize as a copy
  // of the whole filled result per contraction).
  std::optional<Value> blockFill;
  if (!fillValue)
    blockFill = dropInitFill(rewriter, op);

  Operation *target = op;
  SmallVector<int64_t> threads(numLoops, 0);
  for (unsigned loop = 0; loop < numLoops; ++loop)
    if (role(loop) == GemmLoop::Outer && ranges[loop] > 1)
      threads[loop] = 1;
  // Chunks of M panels or of N panels: about kChunksPerThread per thread,
  // or smaller ones down to one panel where the other operand's panels,
  // which each chunk reads anew, fit half the L3.
  int64_t kLength = 1;
  for (unsigned loop = 0; loop < numLoops; ++loop)
    if (role(loop) == GemmLoop::K)
      kLength = einjit::saturatingProduct({kLength, ranges[loop]});
  // Each option: the loop, the chunk size, its balance and the bytes its
  // chunks read of the other operand.
  struct Option {
    unsigned loop;
    int64_t size;
    double balance, bytes;
  };
  SmallVector<Option> options;
  for (unsigned loop : {*mPanel, *nPanel}) {
    // One thread takes chunks of M panels, or of N panels when there is
    // one M panel.
    if (ranges[loop] <= 1 ||
        (threadCount <= 1 && loop == *nPanel && ranges[*mPanel] > 1))
      continue;
    // One thread gets the chunks of two: they keep its blocks of the
    // result in the caches as well.
    int64_t wanted = llvm::divideCeil(
        kChunksPerThread * std::max<int64_t>(threadCount, 2), outerTiles);
    int64_t maxSize =
        llvm::divideCeil(ranges[loop], std::min(wanted, ranges[loop]));
    bool splitsM = loop == *mPanel;
    int64_t otherBytes = einjit::saturatingProduct(
        {ranges[splitsM ? *nPanel : *mPanel], ranges[splitsM ? *nTile : *mTile],
         kLength, bytes});
    int64_t minSize =
        otherBytes <= l3Bytes / 2 && threadCount > 1 ? 1 : maxSize;
    for (int64_t size = maxSize; size >= minSize; --size)
      options.push_back(
          {loop, size,
           chunkBalance(ranges[loop], outerTiles, threadCount, size),
           double(llvm::divideCeil(ranges[loop], size)) * double(otherBytes)});
  }
  // Within 1% of the most even split, the fewest bytes read anew; among
  // equals the first (M before N, larger chunks first).
  std::optional<Option> chosen;
  double mostEven = 0;
  for (const Option &option : options)
    mostEven = std::max(mostEven, option.balance);
  for (const Option &option : options)
    if (option.balance >= 0.99 * mostEven &&
        (!chosen || option.bytes < chosen->bytes))
      chosen = option;
  if (chosen && chosen->size < ranges[chosen->loop])
    threads[chosen->loop] = chosen->size;
  // On one thread the chunks only block the caches, which pays from the
  // whole threshold: from an eighth, 127³ lost 3% and attention scores at
  // 1 x 12 x 32 x 64 6% on one Zen 4 core.
  int64_t work = threadCount > 1
                     ? einsum::shareOf(parallelWork, einsum::kContractionShare)
                     : parallelWork;
  if (worthThreads(ranges, threads, work)) {
    FailureOr<Operation *> threadTile = tile(rewriter, target, threads, true);
    if (failed(threadTile))
      return failure();
    target = *threadTile;
  }
  // The fill of the thread's block, in rows of vector stores: as scalar
  // loops, LLVM turned each row into a memset and unrolled the loops
  // around them (`abcd,cdef->abef` at 24: 72 memsets in one block, whose
  // scheduling took over half of the code generator's instructions).
  if (blockFill) {
    auto fill =
        dyn_cast<linalg::FillOp>(fillInit(rewriter, target, *blockFill));
    if (fill && failed(tileAndVectorizePadFill(rewriter, fill)))
      return failure();
  }
  // Blocks of NC panels, in the thread's N panels.
  if (nc &&
      nc < cast<linalg::GenericOp>(target).getStaticLoopRanges()[*nPanel]) {
    SmallVector<int64_t> block(numLoops, 0);
    block[*nPanel] = nc;
    FailureOr<Operation *> nTileOp = tile(rewriter, target, block);
    if (failed(nTileOp))
      return failure();
    target = *nTileOp;
  }

  if (ranges[*lastK] > kc) {
    int64_t blocks = llvm::divideCeil(ranges[*lastK], kc);
    SmallVector<int64_t> block(numLoops, 0);
    block[*lastK] = llvm::divideCeil(ranges[*lastK], blocks);
    FailureOr<Operation *> kTile = tile(rewriter, target, block);
    if (failed(kTile))
      return failure();
    target = *kTile;
  }

  // Register tiles, then the K steps inside each, where the tile's fill
  // goes when the init's was dropped.
  SmallVector<int64_t> tiles(numLoops, 1), kSteps(numLoops, 0);
  tiles[*mTile] = tiles[*nTile] = 0;
  if (kPair)
    tiles[*kPair] = 0;
  for (unsigned loop = 0; loop < numLoops; ++loop) {
    if (role(loop) == GemmLoop::K) {
      tiles[loop] = 0;
      kSteps[loop] = 1;
    }
  }
  FailureOr<Operation *> regTile = tile(rewriter, target, tiles);
  if (failed(regTile))
    return failure();
  // A register tile of one and a half registers' columns (24 f32 lanes on
  // AVX-512) runs as a tile of whole registers and one of half a register,
  // each over the K steps: vectorized whole, LLVM would widen its 24-lane
  // vectors to two registers and scalarize their stores.
  SmallVector<Operation *, 2> parts{*regTile};
  int64_t lanes = simdLanes(cast<linalg::LinalgOp>(*regTile), vectorBits);
  int64_t nr = ranges[*nTile];
  if (!kPair && nr > lanes && nr % lanes != 0) {
    rewriter.setInsertionPoint(*regTile);
    auto [whole, half] =
        linalg::splitOp(rewriter, cast<TilingInterface>(*regTile), *nTile,
                        rewriter.getIndexAttr(nr - nr % lanes));
    if (!whole || !half)
      return failure();
    parts = {whole, half};
  }
  for (Operation *part : parts) {
    Operation *fill =
        fillValue ? fillInit(rewriter, part, *fillValue) : nullptr;
    FailureOr<Operation *> stepTile = tile(rewriter, part, kSteps);
    if (failed(stepTile))
      return failure();
    auto step = cast<linalg::GenericOp>(*stepTile);
    if (!kPair || failed(lowerDotTile(rewriter, step, roles, vectorBits)))
      (void)vectorizeIfPossible(rewriter, step);
    if (fill)
      (void)vectorizeIfPossible(rewriter, fill);
  }
  return success();
}

namespace {
struct EinsumTileAndVectorize
    : einsum::impl::EinsumTileAndVectorizeBase<EinsumTileAndVectorize> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    MLIRContext *ctx = &getContext();
    IRRewriter rewriter(ctx);

    SmallVector<linalg::GenericOp> generics;
    SmallVector<linalg::TransposeOp> transposes;
    // Empty loop nests (a size-0 label) have nothing to tile or vectorize.
    auto nonEmpty = [](linalg::LinalgOp op) {
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      return op.hasPureTensorSemantics() &&
             llvm::all_of(ranges, [](int64_t r) { return r > 0; });
    };
    func.walk([&](linalg::GenericOp op) {
      if (nonEmpty(op))
        generics.push_back(op);
    });
    // Packing copies of einsum-pack-contractions.
    func.walk([&](linalg::TransposeOp op) {
      if (nonEmpty(op))
        transposes.push_back(op);
    });
    // An op inside an scf.forall (einsum-fuse-rows' chunks) already runs
    // on a thread of its own: no threads within it.
    auto work = [&](Operation *op) -> int64_t {
      return op->getParentOfType<scf::ForallOp>() ? 0 : int64_t(parallelWork);
    };
    for (linalg::TransposeOp copy : transposes)
      if (failed(withoutLlvmUnrolling(func, [&] {
            return tileAndVectorizeCopy(rewriter, copy, vectorBits,
                                        vectorRegisters, work(copy));
          })))
        return signalPassFailure();

    for (linalg::GenericOp generic : generics) {
      int64_t opWork = work(generic);
      if (!generic->hasAttr(einsum::kGemmAttrName))
        generic = collapseElementwiseLoops(rewriter, generic);
      if (auto roles = generic->getAttrOfType<DenseI64ArrayAttr>(
              einsum::kGemmAttrName)) {
        if (failed(withoutLlvmUnrolling(func, [&] {
              return tileGemmKernel(rewriter, generic, roles.asArrayRef(),
                                    vectorBits, l1Bytes, l2Bytes, l3Bytes,
                                    opWork, threads);
            })))
          return signalPassFailure();
        continue;
      }
      // On one thread, no scf.forall for the other strategies (the packed
      // GEMM's chunks also block the caches): its OpenMP region only costs.
      // 'ij->j' f32:2048x768 (column sums) on one Zen 4 core: 0.136-0.144
      // ms in a region of one thread, 0.093-0.097 without.
      if (threads <= 1)
        opWork = 0;
      if (auto inOrder = reduceInInputOrder(rewriter, generic)) {
        generic = inOrder->first;
        for (linalg::TransposeOp copy : inOrder->second)
          if (failed(tileAndVectorizeCopy(rewriter, copy, vectorBits,
                                          vectorRegisters, opWork)))
            return signalPassFailure();
      }
      if (succeeded(tileTransposeBlocks(rewriter, generic, opWork,
                                        streamBytes(l2Bytes, l3Bytes))))
        continue;
      // Up to 4 registers of lanes per row, each row read in order (rows
      // side by side stream at a third of the speed: bench/reduction_order.c).
      auto splits = splitReductionsIntoLanes(
          rewriter, generic, simdLanes(generic, vectorBits), l1Bytes);
      if (failed(splits))
        return signalPassFailure();
      if (!splits->empty()) {
        for (auto [lanesOp, merge] : *splits)
          if (failed(tileAndVectorize(
                  rewriter, lanesOp, vectorBits, vectorRegisters, opWork,
                  /*restart=*/true, RowStream{threads, l2Bytes})) ||
              failed(tileForPartialReduction(rewriter, merge, vectorBits,
                                             l1Bytes, l2Bytes, opWork)))
            return signalPassFailure();
        continue;
      }
      SmallVector<unsigned> columns = columnSumLoops(generic, l2Bytes);
      if (!columns.empty()) {
        if (failed(tileForColumnSums(rewriter, generic, columns, vectorBits,
                                     l1Bytes, l2Bytes, l3Bytes, opWork)))
          return signalPassFailure();
        continue;
      }
      for (linalg::TransposeOp copy :
           transposeForSimd(rewriter, generic, vectorBits))
        if (failed(tileAndVectorize(rewriter, copy, vectorBits, vectorRegisters,
                                    opWork)))
          return signalPassFailure();
      auto direct = [&] {
        return tileAndVectorize(
            rewriter, generic, vectorBits, vectorRegisters, opWork,
            /*restart=*/false, std::nullopt,
            MemoryStream{l2Bytes, threads, streamBytes(l2Bytes, l3Bytes)});
      };
      LogicalResult done =
          prefersPartialReduction(generic)
              ? tileForPartialReduction(rewriter, generic, vectorBits, l1Bytes,
                                        l2Bytes, opWork)
          : reusesInputs(generic) ? withoutLlvmUnrolling(func, direct)
                                  : direct();
      if (failed(done))
        return signalPassFailure();
    }

    SmallVector<linalg::FillOp> padFills;
    func.walk([&](linalg::FillOp fill) {
      if (fill.hasPureTensorSemantics() && fill->hasOneUse() &&
          isa<tensor::InsertSliceOp>(*fill->user_begin()))
        padFills.push_back(fill);
    });
    for (linalg::FillOp fill : padFills)
      if (failed(withoutLlvmUnrolling(
              func, [&] { return tileAndVectorizePadFill(rewriter, fill); })))
        return signalPassFailure();

    RewritePatternSet patterns(ctx);
    vector::populateVectorReductionToContractPatterns(patterns);
    vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
    tensor::populateFoldTensorSubsetIntoVectorTransferPatterns(patterns);
    scf::ForOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExtractSliceOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::InsertSliceOp::getCanonicalizationPatterns(patterns, ctx);
    vector::TransferReadOp::getCanonicalizationPatterns(patterns, ctx);
    vector::TransferWriteOp::getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsGreedily(func, std::move(patterns))))
      return signalPassFailure();

    DominanceInfo dom(func);
    eliminateCommonSubExpressions(rewriter, dom, func);

    // Hoist accumulator reads/writes out of the reduction loops, innermost
    // loops first, so the accumulator stays in registers.
    SmallVector<scf::ForOp> loops;
    func.walk([&](scf::ForOp loop) { loops.push_back(loop); });
    for (scf::ForOp loop : loops)
      hoistLoopInvariantSubsets(rewriter, loop);
  }
};
} // namespace

std::string
einsum::describeDirectTiles(linalg::GenericOp op,
                            function_ref<std::string(unsigned)> name,
                            unsigned vectorBits, unsigned vectorRegisters,
                            int64_t l1Bytes, int64_t l2Bytes) {
  SmallVector<unsigned> parallel, reduction;
  op.getParallelDims(parallel);
  op.getReductionDims(reduction);
  if (parallel.empty() || reduction.empty())
    return "";
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t lanes = ::simdLanes(op, vectorBits);
  std::string copies;
  for (OpOperand *input : op.getDpsInputOperands())
    if (simdTransposePosition(op, input, vectorBits))
      copies += llvm::formatv("; input {0} is transposed once so that {1} is "
                              "its contiguous dimension",
                              input->getOperandNumber(), name(parallel.back()));
  // As tileForPartialReduction: dot products along the reduction, rows
  // side by side where an input is shared by them.
  if (copies.empty() && prefersPartialReduction(op)) {
    unsigned red = reduction.front();
    auto [rowLoop, shared, rows] = partialReductionTile(op, l1Bytes, l2Bytes);
    int64_t range = ranges[red];
    if (range > lanes && range % lanes != 0)
      range -= range % lanes;
    int64_t width = partialSumWidth(range, lanes, shared);
    // Rows of another loop in the tile too: "3x1x64 over i x k x j".
    std::string sizes, loops;
    for (unsigned p : parallel) {
      if (p != rowLoop && rows[p] <= 1)
        continue;
      sizes += std::to_string(rows[p]) + "x";
      loops += name(p) + " x ";
    }
    return llvm::formatv("dot products along {0}: register tile {1}{2} over "
                         "{3}{0}, partial sums in SIMD lanes",
                         name(red), sizes, width, loops);
  }
  // As tileAndVectorize: the remainders of the register tiles split off
  // into parts of their own, each tiled by chooseTiles' register tile.
  unsigned cols = parallel.back();
  std::optional<unsigned> rowsLoop;
  if (parallel.size() > 1)
    rowsLoop = parallel[parallel.size() - 2];
  SmallVector<std::string> tiles, splits;
  SmallVector<SmallVector<int64_t>> parts{ranges};
  while (!parts.empty()) {
    SmallVector<int64_t> part = parts.pop_back_val();
    if (auto split = remainderSplit(op, part, vectorBits, vectorRegisters)) {
      auto [dim, at] = *split;
      std::string where = llvm::formatv("{0} = {1}", name(dim), at);
      if (!llvm::is_contained(splits, where))
        splits.push_back(where);
      SmallVector<int64_t> second = part;
      second[dim] -= at;
      part[dim] = at;
      parts.push_back(second);
      parts.push_back(part);
      continue;
    }
    int64_t rows =
        rowsLoop ? tileRowsFor(op, part[*rowsLoop], vectorRegisters) : 1;
    std::string tile = llvm::formatv(
        "{0}x{1}", rows, tileColumnsFor(op, part, lanes, vectorRegisters));
    if (!llvm::is_contained(tiles, tile))
      tiles.push_back(tile);
  }
  std::string text =
      llvm::formatv("register tile {0} over {1} x {2}", tiles.front(),
                    rowsLoop ? name(*rowsLoop) : "(one row)", name(cols));
  if (!splits.empty())
    text += "; split at " + llvm::join(splits, " and ");
  if (tiles.size() > 1)
    text += ", edge tiles " + llvm::join(ArrayRef(tiles).drop_front(), ", ");
  return text + copies;
}
