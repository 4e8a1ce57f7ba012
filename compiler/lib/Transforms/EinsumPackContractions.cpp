//===- EinsumPackContractions.cpp - Contractions as GEMM on packed panels -===//
//
// Rewrites a contraction linalg.generic as packing, a micro-kernel op on the
// packed panels and unpacking; the algorithm is in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Limits.h"
#include "einjit/Transforms/InitFill.h"
#include "einjit/Transforms/KernelChoice.h"
#include "einjit/Transforms/Passes.h"
#include "einjit/Transforms/RegisterTile.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMPACKCONTRACTIONS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;
using einsum::GemmLoop;

namespace {
enum class Role { Batch, M, N, K };

/// A contraction packed for dot products of narrow types: AVX512-BF16's
/// vdpbf16ps (bf16 pairs into f32) or AVX512-VNNI's vpdpbusd (groups of
/// four u8 x i8 into i32).
struct PackedDot {
  int64_t group;    ///< K elements per dot-product group
  Type accumulator; ///< the micro-kernel's element type: f32 or i32
  /// int8: whether the op's first input is read as unsigned (vpdpbusd's
  /// unsigned operand); otherwise the second is.
  bool firstUnsigned = true;
};

/// The packed dot products the target has (AVX512-BF16, AVX512-VNNI).
struct DotTypes {
  bool bf16 = false, int8 = false;
};

/// The labels (loops) of a contraction by role, for one choice of which
/// input is the left-hand side (its own labels form the rows, M).
struct Gemm {
  unsigned lhs = 0; ///< input whose own labels are M; the other has N
  SmallVector<Role> roles;
  SmallVector<unsigned> batch, mOuter, nOuter, k;
  unsigned mTile = 0, nTile = 0; ///< the loops split into panels
  int64_t mr = 0, nr = 0;        ///< register-tile rows and columns
  int64_t lanes = 0;             ///< SIMD lanes of the accumulator type
  std::optional<PackedDot> dot;  ///< the dot products the tile runs on
};
} // namespace

/// Loop `loop` is a result of `map`.
static bool uses(AffineMap map, unsigned loop) {
  return map.getResultPosition(getAffineDimExpr(loop, map.getContext()))
      .has_value();
}

/// The result position of loop `loop` in `map` (which uses it).
static unsigned position(AffineMap map, unsigned loop) {
  return *map.getResultPosition(getAffineDimExpr(loop, map.getContext()));
}

/// The loop of result `d` of `map`, a projected permutation.
static unsigned loopAt(AffineMap map, unsigned d) {
  return cast<AffineDimExpr>(map.getResult(d)).getPosition();
}

/// How an input of a packed dot product reads its narrow elements: as
/// signed or unsigned integers, or either (an i8 product kept in 8 bits,
/// where both give the same bits).
enum class Sign { Any, Signed, Unsigned };

/// The narrow tensor (bf16 or 8-bit integers) whose elements `v` holds:
/// `v` itself when its elements are i8, or the input of an elementwise
/// conversion (`arith.extf` from bf16, `arith.extsi`/`extui` from i8, as
/// convert-einsum-to-linalg converts a GEMM-like step's operands), seen
/// through the views that label fusion and edge splits put between them.
/// Each view is rebuilt on the narrow tensor at `b`'s insertion point;
/// without `b`, the narrow tensor is found but not viewed. Null when `v` is
/// neither; `sign` says how the elements are read.
static Value narrowSource(OpBuilder *b, Value v, Sign &sign) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type)
    return {};
  sign = Sign::Any;
  if (type.getElementType().isInteger(8))
    return v;
  Operation *def = v.getDefiningOp();
  if (!def)
    return {};
  if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
          tensor::ExtractSliceOp>(def)) {
    Value source = narrowSource(b, def->getOperand(0), sign);
    if (!source || !b)
      return source;
    IRMapping mapping;
    mapping.map(def->getOperand(0), source);
    Operation *view = b->clone(*def, mapping);
    view->getResult(0).setType(
        type.clone(getElementTypeOrSelf(source.getType())));
    return view->getResult(0);
  }
  auto convert = dyn_cast<linalg::GenericOp>(def);
  if (!convert || convert.getNumDpsInputs() != 1 ||
      convert.getNumDpsInits() != 1 || !convert.hasPureTensorSemantics() ||
      convert.getNumReductionLoops() != 0 ||
      !llvm::all_of(convert.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return {};
  Value input = convert.getDpsInputs()[0];
  Type from = getElementTypeOrSelf(input.getType());
  Block &body = convert.getRegion().front();
  Operation *ext = &body.front();
  if (ext->getNumOperands() != 1 || ext->getOperand(0) != body.getArgument(0) ||
      body.getTerminator()->getOperand(0) != ext->getResult(0))
    return {};
  if (isa<arith::ExtFOp>(ext) && from.isBF16() && type.getElementType().isF32())
    return input;
  if (!from.isInteger(8))
    return {};
  if (isa<arith::ExtSIOp>(ext))
    sign = Sign::Signed;
  else if (isa<arith::ExtUIOp>(ext))
    sign = Sign::Unsigned;
  else
    return {};
  return input;
}

/// Whether `op`'s body is `acc + a * b` (floats or integers), in either
/// order.
static bool isMulAdd(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 3)
    return false;
  Operation *mul = &body.front(), *add = mul->getNextNode();
  if (!isa<arith::MulFOp, arith::MulIOp>(mul) ||
      !isa<arith::AddFOp, arith::AddIOp>(add) ||
      body.getTerminator()->getOperand(0) != add->getResult(0))
    return false;
  Value a = body.getArgument(0), bArg = body.getArgument(1),
        acc = body.getArgument(2), product = mul->getResult(0);
  auto either = [](Operation *op, Value x, Value y) {
    return (op->getOperand(0) == x && op->getOperand(1) == y) ||
           (op->getOperand(0) == y && op->getOperand(1) == x);
  };
  return either(mul, a, bArg) && either(add, acc, product);
}

/// The packed dot product that `op` runs on, when its inputs are bf16 or
/// 8-bit integers (`dots` says which the target has) and its body a
/// multiply-add: bf16 accumulates in f32, as the f32 product of the
/// converted operands; 8-bit integers in i32, exact for results of up to
/// 32 bits (an i8 or i16 result keeps the low bits, which do not depend on
/// the wider sum), one operand read as unsigned and the other as signed.
static std::optional<PackedDot> packedDot(linalg::GenericOp op, DotTypes dots) {
  if (op.getNumDpsInputs() != 2 || !isMulAdd(op))
    return std::nullopt;
  Type element = getElementTypeOrSelf(op.getDpsInits()[0].getType());
  Sign a, b;
  Value aSource = narrowSource(nullptr, op.getDpsInputs()[0], a);
  Value bSource = narrowSource(nullptr, op.getDpsInputs()[1], b);
  if (!aSource || !bSource)
    return std::nullopt;
  MLIRContext *ctx = op.getContext();
  Type aNarrow = getElementTypeOrSelf(aSource.getType()),
       bNarrow = getElementTypeOrSelf(bSource.getType());
  if (element.isF32())
    return dots.bf16 && aNarrow.isBF16() && bNarrow.isBF16()
               ? std::optional(PackedDot{2, Float32Type::get(ctx)})
               : std::nullopt;
  auto integer = dyn_cast<IntegerType>(element);
  if (!dots.int8 || !integer || integer.getWidth() > 32 ||
      !aNarrow.isInteger(8) || !bNarrow.isInteger(8) ||
      (a == Sign::Signed && b == Sign::Signed) ||
      (a == Sign::Unsigned && b == Sign::Unsigned))
    return std::nullopt;
  return PackedDot{4, IntegerType::get(ctx, 32), a != Sign::Signed};
}

/// Whether `op` is a contraction that the packed GEMM handles: two inputs
/// and one output, each indexed by distinct loops (no diagonal, no
/// broadcast dimension), static sizes, every loop in at least two operands
/// and at least one batch-free M, N and K label; f32 or f64, or a packed
/// dot product of `dots`.
static bool isPackable(linalg::GenericOp op, DotTypes dots) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.hasIndexSemantics() ||
      op->hasAttr(einsum::kGemmAttrName))
    return false;
  // Integers only on dot products (packedDot needs one K loop, which
  // label fusion may still make).
  Type element = getElementTypeOrSelf(op.getDpsInits()[0].getType());
  if (!element.isF32() && !element.isF64() && !packedDot(op, dots))
    return false;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation(/*allowZeroInResults=*/false))
      return false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  return llvm::all_of(ranges, [](int64_t r) { return r > 0; });
}

/// The role of each loop with input `lhs` as the left-hand side, or failure
/// when a loop appears in one operand only (a sum over one input) or some
/// role has no loop.
static FailureOr<Gemm> classify(linalg::GenericOp op, unsigned lhs) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap a = maps[lhs], b = maps[1 - lhs], c = maps[2];
  Gemm g;
  g.lhs = lhs;
  for (unsigned loop = 0; loop < op.getNumLoops(); ++loop) {
    bool inA = uses(a, loop), inB = uses(b, loop), inC = uses(c, loop);
    if (inA && inB && inC)
      g.roles.push_back(Role::Batch);
    else if (inA && inC && !inB)
      g.roles.push_back(Role::M);
    else if (inB && inC && !inA)
      g.roles.push_back(Role::N);
    else if (inA && inB && !inC)
      g.roles.push_back(Role::K);
    else
      return failure();
  }
  for (Role role : {Role::M, Role::N, Role::K})
    if (!llvm::is_contained(g.roles, role))
      return failure();
  return g;
}

/// Groups of consecutive loops of one role that are adjacent, in order, in
/// every operand, so that each group can be one loop (`cd` in
/// `abcd,cdef->abef`, and `ab` and `ef` too). The operands become views
/// (collapse_shape of contiguous dimensions), the result included, which
/// bufferization keeps in place. Batch loops stay apart: they are outer
/// loops either way.
static SmallVector<ReassociationIndices> fusibleGroups(linalg::GenericOp op,
                                                       ArrayRef<Role> roles) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<ReassociationIndices> groups;
  for (unsigned loop = 0; loop < roles.size();) {
    ReassociationIndices group{int64_t(loop)};
    while (roles[loop] != Role::Batch &&
           group.back() + 1 < int64_t(roles.size()) &&
           roles[group.back() + 1] == roles[loop]) {
      ReassociationIndices longer = group;
      longer.push_back(group.back() + 1);
      if (!linalg::areDimSequencesPreserved(maps, {longer}))
        break;
      group = std::move(longer);
    }
    loop = group.back() + 1;
    if (group.size() > 1)
      groups.push_back(std::move(group));
  }
  return groups;
}

/// The loop of `candidates` to split into panels of `tile`: the one whose
/// padding to a multiple of the tile wastes the least, the larger on ties;
/// `preferred` (the result's contiguous dimension) when it wastes at most
/// a quarter.
static unsigned pickTiled(ArrayRef<unsigned> candidates,
                          ArrayRef<int64_t> ranges, int64_t tile,
                          std::optional<unsigned> preferred) {
  auto waste = [&](unsigned loop) {
    int64_t padded = llvm::divideCeil(ranges[loop], tile) * tile;
    return double(padded) / double(ranges[loop]);
  };
  if (preferred && llvm::is_contained(candidates, *preferred) &&
      waste(*preferred) <= 1.25)
    return *preferred;
  unsigned best = candidates.front();
  for (unsigned loop : candidates)
    if (waste(loop) < waste(best) ||
        (waste(loop) == waste(best) && ranges[loop] > ranges[best]))
      best = loop;
  return best;
}

/// The packed kernel's rows for `g` (evenRows; packed dot products keep
/// theirs).
static void choosePackedRows(linalg::GenericOp op, Gemm &g,
                             unsigned vectorRegisters) {
  if (g.dot)
    return;
  g.mr =
      einsum::evenRows(op.getStaticLoopRanges()[g.mTile], g.mr,
                       llvm::divideCeilSigned(g.nr, g.lanes), vectorRegisters);
}

/// Splits the roles into the register tile's loops and the others, and
/// decides which input is the left-hand side: the result's contiguous
/// dimension should be an N label, the SIMD direction of the tile.
static FailureOr<Gemm> planGemm(linalg::GenericOp op, unsigned vectorBits,
                                unsigned vectorRegisters, DotTypes dots) {
  AffineMap c = op.getIndexingMapsArray()[2];
  std::optional<unsigned> contiguous;
  if (c.getNumResults() > 0)
    contiguous = loopAt(c, c.getNumResults() - 1);
  FailureOr<Gemm> g = classify(op, 0);
  if (failed(g))
    return failure();
  if (contiguous && g->roles[*contiguous] == Role::M)
    g = classify(op, 1);
  if (failed(g))
    return failure();

  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<unsigned> m, n;
  for (auto [loop, role] : llvm::enumerate(g->roles)) {
    if (role == Role::Batch)
      g->batch.push_back(loop);
    else if (role == Role::M)
      m.push_back(loop);
    else if (role == Role::N)
      n.push_back(loop);
    else
      g->k.push_back(loop);
  }
  // Dot products need their K in groups: one K loop.
  if (g->k.size() == 1)
    g->dot = packedDot(op, dots);
  Type element = g->dot ? g->dot->accumulator
                        : getElementTypeOrSelf(op.getDpsInits()[0].getType());
  g->mr = einsum::registerRows(vectorRegisters);
  g->nr = 2 * einsum::simdLanes(element, vectorBits);
  g->mTile = pickTiled(m, ranges, g->mr, std::nullopt);
  g->nTile = pickTiled(n, ranges, g->nr, contiguous);
  // Where two registers would pad the columns by more than 25%: one
  // register if that pads less (48 columns: 64 with 32-lane panels, none
  // with 16-lane ones), or one and a half (a register and a half register
  // per row, which einsum-tile-and-vectorize runs as two tiles) if that pads
  // less still with no more FMA instructions per row than one-register
  // panels. 20 columns: 24 lanes (a zmm and a ymm; 16-lane panels would
  // also pad to 32), 1.2x faster on Zen 4, whose 512-bit FMAs take two
  // 256-bit halves, and as many instructions as 32 lanes on CPUs with
  // 512-bit FMA units. Not for packed dot products.
  int64_t lanes = einsum::simdLanes(element, vectorBits);
  g->lanes = lanes;
  int64_t columns = ranges[g->nTile];
  auto padded = [&](int64_t tile) -> int64_t {
    return llvm::divideCeilSigned(columns, tile) * tile;
  };
  if (padded(g->nr) * 4 > columns * 5) {
    if (padded(lanes) < padded(g->nr))
      g->nr = lanes;
    int64_t half = lanes + lanes / 2;
    if (!g->dot && lanes % 2 == 0 && padded(half) < padded(g->nr) &&
        2 * llvm::divideCeilSigned(columns, half) <=
            llvm::divideCeilSigned(columns, lanes))
      g->nr = half;
  }
  for (unsigned loop : m)
    if (loop != g->mTile)
      g->mOuter.push_back(loop);
  for (unsigned loop : n)
    if (loop != g->nTile)
      g->nOuter.push_back(loop);
  return g;
}

/// Rows up to which the direct kernel, which reads a right input larger
/// than half the L2 from memory once per block of 64 rows (prefetched by
/// einsum-prefetch-strided-reads), beats packing it: 1.15-1.5x faster for
/// EinsumDense's 768x768 weight at 96-256 rows, even at 512 rows, 0.87x
/// for 1024^3 (Emerald Rapids, one thread).
static constexpr int64_t kDirectRows = 256;

/// Whether packing pays. The tile loops must fill a good part of a
/// register tile, and the contraction must have at least 8 K iterations.
/// Then it pays wherever einsum-tile-and-vectorize's direct kernel,
/// which reads the operands in place, would fall short: a column
/// remainder that is not a power of two; labels that stay apart (several
/// loops of one role) or a layout other than `[..., K, N]` for the right
/// input and `[..., M, N]` for the result, which it reads with strides; or a
/// right input too large for half the L2, whose rows it streams from memory
/// for every block of rows, when there are more rows than one block.
static bool worthPacking(linalg::GenericOp op, const Gemm &g, int64_t l2Bytes,
                         int64_t l3Bytes, bool edge,
                         std::string *why = nullptr) {
  auto because = [&](bool packs, const llvm::Twine &reason) {
    if (why)
      *why = reason.str();
    return packs;
  };
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<int64_t> k;
  for (unsigned loop : g.k)
    k.push_back(ranges[loop]);
  // The direct kernel's layout: the right input `[..., K, N]`, the result
  // `[..., M, N]` with its rows the next-to-last dimension.
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap rhs = maps[1 - g.lhs], result = maps[2];
  unsigned rank = result.getNumResults(), rhsRank = rhs.getNumResults();
  bool directLayout = rank >= 2 && loopAt(result, rank - 1) == g.nTile &&
                      loopAt(rhs, rhsRank - 1) == g.nTile &&
                      loopAt(result, rank - 2) == g.mTile &&
                      position(rhs, g.k.front()) + 2 == rhsRank;
  // A thin row edge (`bij,bjk->bik` at 27 = 24 + 3 rows) whose column
  // remainder is over a register and not a power of two: the direct kernel
  // would run those columns in pieces (27: 16 + 8 + 2 + 1), slower than
  // packing the edge with its rows padded (4 x 27³: 39 -> 64
  // GFLOP/s; 4 x 59³ 77 -> 92). Remainders under a register (35 = 32 + 3)
  // and transposed right inputs run faster direct.
  // The direct kernel's column remainder: it tiles columns by two
  // registers (a panel of one and a half would be one 24-lane vector).
  int64_t columnRest = ranges[g.nTile] % (2 * g.lanes);
  if (edge && !g.dot && ranges[g.mTile] * 2 < g.mr && directLayout &&
      einjit::saturatingProduct(k) >= 8 && columnRest > g.lanes &&
      llvm::popcount(uint64_t(columnRest)) > 1)
    return because(true, llvm::formatv("a thin edge of {0} rows whose column "
                                       "remainder {1} is over a register and "
                                       "not a power of two",
                                       ranges[g.mTile], columnRest));
  if (ranges[g.mTile] * 2 < g.mr || ranges[g.nTile] * 4 < g.nr ||
      einjit::saturatingProduct(k) < 8)
    return because(false, "too small for packing to pay: fewer than half "
                          "the tile's rows, a quarter of its columns or 8 "
                          "K iterations");
  // At most a register tile of rows against a right input `[..., N, K]`,
  // both inputs contiguous along K: the direct kernel's dot products read
  // the right input in place. Packing pays little here (one panel of rows
  // reuses each packed panel), and it costs a transposing copy of the
  // whole right input, which from memory is three passes over it.
  // - Up to half a tile of rows, beyond the L2: all rows are one tile of
  //   partial sums (tileForPartialReduction), which reads it once
  //   (`ij,kj->ik` at 4 x 4096 by 4096 x 4096 on one Zen 4 core: 10.4 ms
  //   packed, 5.3 direct).
  // - Up to a tile of rows, beyond the caches, each batch's slice in the
  //   L2: each row reads the slice again from the L2 (attention scores at
  //   b8 h16 q8 k1000 d64: 14.3 ms packed, 6.6 direct). A single slice
  //   that large (8 rows of `ij,kj->ik` at 4096) would be read from
  //   memory by each row: 9.6 ms packed, 17 direct.
  Type element = getElementTypeOrSelf(op.getDpsInits()[0].getType());
  int64_t elementBytes = element.getIntOrFloatBitWidth() / 8;
  int64_t rhsBytes =
      einjit::saturatingProduct({k.front(), ranges[g.nTile], elementBytes});
  AffineMap lhs = maps[g.lhs];
  int64_t rhsAllBytes = einjit::saturatingProduct(
      {cast<ShapedType>(op.getDpsInputs()[1 - g.lhs].getType())
           .getNumElements(),
       elementBytes});
  bool dots = !g.dot && g.k.size() == 1 && g.mOuter.empty() &&
              g.nOuter.empty() && loopAt(rhs, rhsRank - 1) == g.k.front() &&
              lhs.getNumResults() > 0 &&
              loopAt(lhs, lhs.getNumResults() - 1) == g.k.front();
  if (dots && ranges[g.mTile] * 2 <= g.mr && rhsAllBytes > l2Bytes)
    return because(false, llvm::formatv("{0} rows, at most half a register "
                                        "tile's, and a right input laid out "
                                        "[..., N, K] beyond the L2 ({1} "
                                        "KiB): dot products read it once",
                                        ranges[g.mTile], rhsAllBytes / 1024));
  if (dots && ranges[g.mTile] <= g.mr &&
      rhsAllBytes > einsum::streamBytes(l2Bytes, l3Bytes) &&
      rhsBytes <= l2Bytes)
    return because(false,
                   llvm::formatv("{0} rows, at most a register tile's, and a "
                                 "right input laid out [..., N, K] beyond the "
                                 "caches ({1} KiB) in slices that fit the L2 "
                                 "({2} KiB): dot products read it in place",
                                 ranges[g.mTile], rhsAllBytes / 1024,
                                 rhsBytes / 1024));
  // The thin edge of a split contraction reads its inputs with the large
  // strides of the whole: the direct kernel runs it at a few GFLOP/s.
  if (edge)
    return because(true, "the thin edge of a split contraction");
  // The direct kernel would multiply the operands converted to f32 (or
  // integers one lane per product): dot products of bf16 pairs do twice the
  // work per instruction, of 8-bit quads four times.
  if (g.dot && g.dot->group == 2)
    return because(true, "bf16 operands: packed in pairs for AVX512-BF16's "
                         "dot product (vdpbf16ps)");
  if (g.dot)
    return because(true, "8-bit integer operands: packed in groups of four "
                         "for AVX512-VNNI's dot product (vpdpbusd)");
  // A small product of at most 3/4 of a register's lanes of columns:
  // packing, its zero padding and the copy back cost more than the direct
  // kernel's strided reads (attention scores at s = 5-12, d = 64: 1.2-4.8x
  // faster direct; `ij,jk->ik` at 10-12: 1.2-1.4x). Wider ones take the
  // direct kernel's column remainders (18 = 16 + 2: 6x slower than packed).
  if (ranges[g.nTile] * 4 <= g.lanes * 3 && ranges[g.mTile] <= 2 * g.mr)
    return because(false, llvm::formatv("small: {0} rows (at most {1}) and "
                                        "{2} columns (at most 3/4 of {3} "
                                        "lanes), which packing would pad to "
                                        "{4}",
                                        ranges[g.mTile], 2 * g.mr,
                                        ranges[g.nTile], g.lanes, g.nr));
  if (!g.mOuter.empty() || !g.nOuter.empty() || g.k.size() != 1)
    return because(true, "several labels of one role stay apart, which the "
                         "direct kernel would read with strides");
  // The direct kernel runs a column remainder as one vector of its width,
  // which LLVM splits into power-of-two pieces (20 columns: 16 + 4): slow
  // to compile, and a cliff beyond one piece (52x52x52: 8 GFLOP/s direct,
  // 70 packed; 436^3: 46 against 156); a row remainder costs it little.
  if (llvm::popcount(uint64_t(columnRest)) > 1)
    return because(true,
                   llvm::formatv("the column remainder {0} % {1} = "
                                 "{2} is not a power of two",
                                 ranges[g.nTile], 2 * g.lanes, columnRest));
  if (!directLayout)
    return because(true, "the right input is not laid out [..., K, N] or "
                         "the result not [..., M, N]");
  // A right input beyond half the L2 is streamed from memory once per
  // block of rows: packing pays when there are many blocks, not for the
  // few rows of a small batch through a large weight (EinsumDense at
  // t = 37: the packing copy of the 768x768 weight took as long as the
  // product).
  if (rhsBytes > l2Bytes / 2 && ranges[g.mTile] > kDirectRows)
    return because(true, llvm::formatv("the right input ({0} KiB) is over "
                                       "half the L2 and there are over {1} "
                                       "rows",
                                       rhsBytes / 1024, kDirectRows));
  return because(false, "the operands are laid out [M, K] x [K, N] with "
                        "whole or power-of-two column tiles, and the right "
                        "input fits half the L2 or is read once");
}

/// Swaps the roles (uses and types) of a two-input body's first two
/// arguments, after its op's inputs were swapped.
static void swapBodyInputs(Block &body) {
  SmallVector<OpOperand *> first, second;
  for (OpOperand &use : body.getArgument(0).getUses())
    first.push_back(&use);
  for (OpOperand &use : body.getArgument(1).getUses())
    second.push_back(&use);
  for (OpOperand *use : first)
    use->set(body.getArgument(1));
  for (OpOperand *use : second)
    use->set(body.getArgument(0));
  // The arguments take each other's types too: with mixed dtypes
  // (`fW,fO->OW` on f64 and i64) the i64 input's conversion now reads the
  // first argument.
  Type firstType = body.getArgument(0).getType();
  body.getArgument(0).setType(body.getArgument(1).getType());
  body.getArgument(1).setType(firstType);
  // Products are commutative: name the left-hand side first, which is
  // the order the vectorizer gives vector.contract.
  body.walk([&](Operation *mul) {
    if (isa<arith::MulFOp>(mul) && mul->getOperand(0) == body.getArgument(1) &&
        mul->getOperand(1) == body.getArgument(0)) {
      Value lhs = mul->getOperand(0);
      mul->setOperand(0, mul->getOperand(1));
      mul->setOperand(1, lhs);
    }
  });
}

/// Makes the left-hand side the first input of a contraction left to the
/// direct kernel, which takes its rows from the first input and its SIMD
/// columns from the second (`lm,il->im` runs as `il,lm->im`).
static void putLhsFirst(RewriterBase &rewriter, linalg::GenericOp op) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  std::swap(maps[0], maps[1]);
  rewriter.setInsertionPoint(op);
  auto swapped = linalg::GenericOp::create(
      rewriter, op.getLoc(), op.getResultTypes(),
      ValueRange{op.getDpsInputs()[1], op.getDpsInputs()[0]}, op.getDpsInits(),
      maps, op.getIteratorTypesArray());
  rewriter.inlineRegionBefore(op.getRegion(), swapped.getRegion(),
                              swapped.getRegion().begin());
  swapBodyInputs(swapped.getRegion().front());
  rewriter.replaceOp(op, swapped->getResults());
}

static SmallVector<OpFoldResult> indexAttrs(OpBuilder &b,
                                            ArrayRef<int64_t> values) {
  return getAsIndexOpFoldResult(b.getContext(), values);
}

/// Packs `x` (indexed by `map`) into panels: the result's dimensions are
/// the loops of `order`, where loop `tiled` stands for its panel index,
/// followed by the `tile` elements of a panel. A last, partial panel is
/// zero-padded. With `pair` > 1, loop `paired` (a K loop) stands for its
/// groups of `pair` consecutive elements, the group's elements follow the
/// tile's (the innermost dimension), and a last, partial group is
/// zero-padded too. Copies are linalg.transpose ops of the whole panels
/// (groups) and of the last ones, reading `x` at its own strides.
static Value packOperand(OpBuilder &b, Location loc, Value x, AffineMap map,
                         ArrayRef<unsigned> order, unsigned tiled, int64_t tile,
                         unsigned paired = 0, int64_t pair = 1) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  bool grouped = pair > 1;
  unsigned t = position(map, tiled);
  unsigned p = grouped ? position(map, paired) : rank;
  // Element ranges of one split dimension: whole tiles, then the rest.
  struct Part {
    int64_t from, count, len, first;
  };
  auto parts = [](int64_t size, int64_t len) {
    SmallVector<Part> result;
    if (size / len > 0)
      result.push_back({0, size / len, len, 0});
    if (size % len > 0)
      result.push_back({size / len * len, 1, size % len, size / len});
    return result;
  };
  SmallVector<Part> tParts = parts(type.getDimSize(t), tile);
  SmallVector<Part> pParts{{0, 1, 1, 0}};
  if (grouped)
    pParts = parts(type.getDimSize(p), pair);

  // Dimension d of `x` is dimension e(d) of `x` with dimensions t (and p)
  // expanded to [count, len].
  auto e = [&](unsigned d) { return d + (d > t) + (grouped && d > p); };
  SmallVector<int64_t> perm, packedShape;
  unsigned panelDim = 0, groupDim = 0;
  for (auto [i, loop] : llvm::enumerate(order)) {
    unsigned d = position(map, loop);
    perm.push_back(e(d));
    int64_t size = type.getDimSize(d);
    if (d == t) {
      panelDim = i;
      size = llvm::divideCeil(size, tile);
    } else if (grouped && d == p) {
      groupDim = i;
      size = llvm::divideCeil(size, pair);
    }
    packedShape.push_back(size);
  }
  perm.push_back(e(t) + 1);
  packedShape.push_back(tile);
  if (grouped) {
    perm.push_back(e(p) + 1);
    packedShape.push_back(pair);
  }
  unsigned packedRank = packedShape.size();

  SmallVector<ReassociationIndices> expand;
  for (unsigned d = 0; d < rank; ++d) {
    expand.push_back({int64_t(e(d))});
    if (d == t || (grouped && d == p))
      expand.back().push_back(e(d) + 1);
  }
  Type element = type.getElementType();
  Value packed = tensor::EmptyOp::create(b, loc, packedShape, element);
  SmallVector<int64_t> zeros(packedRank, 0), ones(packedRank, 1);

  // The padding of the last, partial panel and group is zero-filled first:
  // only the elements past the copied ones, which the copies write.
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(element));
  auto zeroFill = [&](unsigned dim, const Part &last, unsigned inner) {
    SmallVector<int64_t> offsets(zeros), sizes(packedShape);
    offsets[dim] = last.first;
    sizes[dim] = 1;
    offsets[inner] = last.len;
    sizes[inner] -= last.len;
    Value slice = tensor::ExtractSliceOp::create(
        b, loc, packed, indexAttrs(b, offsets), indexAttrs(b, sizes),
        indexAttrs(b, ones));
    slice = linalg::FillOp::create(b, loc, zero, slice)->getResult(0);
    packed = tensor::InsertSliceOp::create(
        b, loc, slice, packed, indexAttrs(b, offsets), indexAttrs(b, sizes),
        indexAttrs(b, ones));
  };
  if (tParts.back().len != tile)
    zeroFill(panelDim, tParts.back(), order.size());
  if (grouped && pParts.back().len != pair)
    zeroFill(groupDim, pParts.back(), packedRank - 1);

  // Copies the panels (and groups) of parts `tp` (and `pp`).
  auto copyPanels = [&](const Part &tp, const Part &pp) {
    SmallVector<int64_t> xOffsets(rank, 0), xSizes(type.getShape());
    xOffsets[t] = tp.from;
    xSizes[t] = tp.count * tp.len;
    if (grouped) {
      xOffsets[p] = pp.from;
      xSizes[p] = pp.count * pp.len;
    }
    Value src = x;
    if (ArrayRef(xSizes) != type.getShape())
      src = tensor::ExtractSliceOp::create(
          b, loc, x, indexAttrs(b, xOffsets), indexAttrs(b, xSizes),
          indexAttrs(b, SmallVector<int64_t>(rank, 1)));
    SmallVector<int64_t> expandedShape;
    for (unsigned d = 0; d < rank; ++d) {
      if (d == t || (grouped && d == p)) {
        const Part &part = d == t ? tp : pp;
        expandedShape.push_back(part.count);
        expandedShape.push_back(part.len);
      } else {
        expandedShape.push_back(type.getDimSize(d));
      }
    }
    src = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(expandedShape, element), src, expand);
    SmallVector<int64_t> offsets(zeros), sizes(packedShape);
    offsets[panelDim] = tp.first;
    sizes[panelDim] = tp.count;
    sizes[order.size()] = tp.len;
    if (grouped) {
      offsets[groupDim] = pp.first;
      sizes[groupDim] = pp.count;
      sizes.back() = pp.len;
    }
    Value dest = tensor::ExtractSliceOp::create(
        b, loc, packed, indexAttrs(b, offsets), indexAttrs(b, sizes),
        indexAttrs(b, ones));
    Value copy =
        linalg::TransposeOp::create(b, loc, src, dest, perm)->getResult(0);
    packed = tensor::InsertSliceOp::create(
        b, loc, copy, packed, indexAttrs(b, offsets), indexAttrs(b, sizes),
        indexAttrs(b, ones));
  };
  for (const Part &tp : tParts)
    for (const Part &pp : pParts)
      copyPanels(tp, pp);
  return packed;
}

/// Writes the packed result `packed` (dimensions: the loops of `order`,
/// then a register tile of m.mr x m.nr) into `dest` (indexed by `map`),
/// dropping the padding: one transpose per combination of whole and last
/// panels along the two tiled loops.
static Value unpackResult(OpBuilder &b, Location loc, Value packed, Value dest,
                          AffineMap map, ArrayRef<unsigned> order,
                          const Gemm &g) {
  auto type = cast<RankedTensorType>(dest.getType());
  auto packedType = cast<RankedTensorType>(packed.getType());
  unsigned rank = type.getRank(), packedRank = packedType.getRank();
  Type element = type.getElementType();
  unsigned tm = position(map, g.mTile), tn = position(map, g.nTile);
  unsigned pm = llvm::find(order, g.mTile) - order.begin();
  unsigned pn = llvm::find(order, g.nTile) - order.begin();
  SmallVector<int64_t> ones(packedRank, 1);

  struct Part {
    int64_t firstPanel, panels, len;
  };
  auto parts = [](int64_t size, int64_t tile) {
    SmallVector<Part> result;
    if (size / tile > 0)
      result.push_back({0, size / tile, tile});
    if (size % tile > 0)
      result.push_back({size / tile, 1, size % tile});
    return result;
  };
  // The result's dimensions with tm and tn expanded to [panels, len], and
  // where each comes from in the packed tensor.
  SmallVector<ReassociationIndices> expand;
  SmallVector<int64_t> perm;
  for (unsigned d = 0, e = 0; d < rank; ++d) {
    expand.push_back({e++});
    unsigned loop = loopAt(map, d);
    if (d == tm || d == tn) {
      expand.back().push_back(e++);
      perm.push_back(d == tm ? pm : pn);
      perm.push_back(d == tm ? packedRank - 2 : packedRank - 1);
    } else {
      perm.push_back(llvm::find(order, loop) - order.begin());
    }
  }
  for (Part mp : parts(type.getDimSize(tm), g.mr)) {
    for (Part np : parts(type.getDimSize(tn), g.nr)) {
      SmallVector<int64_t> srcOffsets(packedRank, 0),
          srcSizes(packedType.getShape());
      srcOffsets[pm] = mp.firstPanel;
      srcSizes[pm] = mp.panels;
      srcOffsets[pn] = np.firstPanel;
      srcSizes[pn] = np.panels;
      srcSizes[packedRank - 2] = mp.len;
      srcSizes[packedRank - 1] = np.len;
      Value src = tensor::ExtractSliceOp::create(
          b, loc, packed, indexAttrs(b, srcOffsets), indexAttrs(b, srcSizes),
          indexAttrs(b, ones));

      SmallVector<int64_t> offsets(rank, 0), sizes(type.getShape()),
          expandedShape;
      offsets[tm] = mp.firstPanel * g.mr;
      sizes[tm] = mp.panels * mp.len;
      offsets[tn] = np.firstPanel * g.nr;
      sizes[tn] = np.panels * np.len;
      for (unsigned d = 0; d < rank; ++d) {
        if (d == tm || d == tn) {
          Part p = d == tm ? mp : np;
          expandedShape.push_back(p.panels);
          expandedShape.push_back(p.len);
        } else {
          expandedShape.push_back(type.getDimSize(d));
        }
      }
      SmallVector<OpFoldResult> strides = indexAttrs(b, ones);
      strides.resize(rank);
      Value slice = tensor::ExtractSliceOp::create(
          b, loc, dest, indexAttrs(b, offsets), indexAttrs(b, sizes), strides);
      Value target = tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get(expandedShape, element), slice, expand);
      Value copy =
          linalg::TransposeOp::create(b, loc, src, target, perm)->getResult(0);
      Value written = tensor::CollapseShapeOp::create(b, loc, copy, expand);
      dest = tensor::InsertSliceOp::create(b, loc, written, dest,
                                           indexAttrs(b, offsets),
                                           indexAttrs(b, sizes), strides);
    }
  }
  return dest;
}

/// The value that `init`, a linalg.fill seen through a collapse_shape, is
/// filled with.
static std::optional<Value> fillValue(Value init) {
  if (auto collapse = init.getDefiningOp<tensor::CollapseShapeOp>())
    init = collapse.getSrc();
  // A part of a split op reads a slice of the init (of a slice...), which
  // the other parts may have written elsewhere first: follow the slices
  // and the writes that miss them, keeping the box read in the
  // coordinates of the value at hand.
  auto type = dyn_cast<RankedTensorType>(init.getType());
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  SmallVector<int64_t> offsets(type.getRank(), 0), sizes(type.getShape());
  auto isStatic = [](auto op) {
    return op.hasUnitStride() &&
           !ShapedType::isDynamicShape(op.getStaticOffsets()) &&
           !ShapedType::isDynamicShape(op.getStaticSizes()) &&
           op.getSourceType().getRank() == op.getResultType().getRank();
  };
  while (true) {
    if (auto slice = init.getDefiningOp<tensor::ExtractSliceOp>()) {
      if (!isStatic(slice))
        return std::nullopt;
      for (auto [o, base] : llvm::zip(offsets, slice.getStaticOffsets()))
        o += base;
      init = slice.getSource();
      continue;
    }
    // A collapsed fill (the parts of an op fused first) fills every box.
    if (auto collapse = init.getDefiningOp<tensor::CollapseShapeOp>()) {
      init = collapse.getSrc();
      break;
    }
    if (auto insert = init.getDefiningOp<tensor::InsertSliceOp>()) {
      if (!isStatic(insert))
        return std::nullopt;
      bool disjoint = false;
      for (auto [o1, s1, o2, s2] :
           llvm::zip(insert.getStaticOffsets(), insert.getStaticSizes(),
                     offsets, sizes))
        disjoint |= o1 + s1 <= o2 || o2 + s2 <= o1;
      if (!disjoint)
        return std::nullopt;
      init = insert.getDest();
      continue;
    }
    break;
  }
  if (auto fill = init.getDefiningOp<linalg::FillOp>())
    return fill.getInputs()[0];
  return std::nullopt;
}

/// Where to split `op` so that one part has whole register-tile panels
/// only: the loop and the split point, when a tiled loop has both whole
/// panels and a partial one. The whole panels then need no padded result
/// and no copy back; the thin edge is a contraction of its own.
///
/// Not for dot products where that edge would be too thin to pack (half a
/// tile's rows, a quarter of its columns): it would run on the converted
/// operands, which then stay (a 768x768 bf16 weight converted to f32 for
/// one row, `btd,dhk->bthk` at t = 129); the whole op runs on padded panels
/// instead. Nor for 8-bit integers, whose i32 sums are packed and copied
/// back anyway.
static std::optional<std::pair<unsigned, int64_t>>
edgeSplit(linalg::GenericOp op, const Gemm &g) {
  if (g.dot && g.dot->group == 4)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  for (auto [loop, tile, thin] : {std::make_tuple(g.mTile, g.mr, g.mr / 2),
                                  std::make_tuple(g.nTile, g.nr, g.nr / 4)}) {
    int64_t edge = ranges[loop] % tile;
    if (ranges[loop] > tile && edge != 0 && (!g.dot || edge >= thin))
      return std::make_pair(loop, ranges[loop] - edge);
  }
  return std::nullopt;
}

/// Rewrites `op` (a contraction planned as `g`) as GEMM on packed panels.
static LogicalResult packContraction(RewriterBase &rewriter,
                                     linalg::GenericOp op, const Gemm &g) {
  // The result is unpacked into the init, whose fill then only makes the
  // result tensor (eliminate-empty-tensors turns its tensor.empty into the
  // kernel's output argument).
  Value init = op.getDpsInits()[0];
  std::optional<Value> fill = fillValue(init);
  if (!fill)
    return failure();
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<Value> inputs = op.getDpsInputs();

  // Packed operand layouts (loops; a tiled loop stands for its panels).
  SmallVector<unsigned> aOrder(g.batch), bOrder(g.batch), cOrder(g.batch);
  llvm::append_range(aOrder, g.mOuter);
  aOrder.push_back(g.mTile);
  llvm::append_range(aOrder, g.k);
  llvm::append_range(bOrder, g.nOuter);
  bOrder.push_back(g.nTile);
  llvm::append_range(bOrder, g.k);
  llvm::append_range(cOrder, g.mOuter);
  llvm::append_range(cOrder, g.nOuter);
  cOrder.push_back(g.mTile);
  cOrder.push_back(g.nTile);

  unsigned rhs = 1 - g.lhs;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  AffineMap aMap = maps[g.lhs];
  unsigned aRank = aMap.getNumResults();

  // Dot products read the narrow tensors (bf16, 8-bit integers) that the
  // inputs convert, K in groups of `pair`.
  int64_t pair = 1;
  if (g.dot) {
    Sign sign;
    inputs[g.lhs] = narrowSource(&rewriter, inputs[g.lhs], sign);
    inputs[rhs] = narrowSource(&rewriter, inputs[rhs], sign);
    pair = g.dot->group;
  }
  unsigned kLoop = g.k.front();
  // The left-hand side is read where it is when its rows are whole panels
  // and K is its contiguous dimension (`[..., M, K]`): the kernel then
  // broadcasts its elements straight from memory, and a pass over it
  // (the attention probabilities in `bhqk,bhkd->bqhd`) is saved.
  // With K pairs, [..., M, K] is viewed as [..., M panels, MR, K / 2, 2].
  // M need not be next to K: attention's queries `[b, q, h, d]` have the
  // heads between their rows and K, and are viewed as `[b, q panels, MR,
  // h, d]`.
  unsigned mPos = position(aMap, g.mTile);
  bool aInPlace = g.k.size() == 1 && ranges[g.mTile] % g.mr == 0 &&
                  ranges[kLoop] % pair == 0 && aRank >= 2 &&
                  loopAt(aMap, aRank - 1) == kLoop && mPos + 1 < aRank;
  Value a;
  if (aInPlace) {
    auto aType = cast<RankedTensorType>(inputs[g.lhs].getType());
    SmallVector<int64_t> shape(aType.getShape());
    SmallVector<ReassociationIndices> aExpand;
    shape[mPos] = ranges[g.mTile] / g.mr;
    shape.insert(shape.begin() + mPos + 1, g.mr);
    for (unsigned d = 0; d < aRank; ++d)
      aExpand.push_back({int64_t(d + (d > mPos ? 1 : 0))});
    aExpand[mPos].push_back(mPos + 1);
    if (pair > 1) {
      shape.back() = ranges[kLoop] / pair;
      shape.push_back(pair);
      aExpand.back().push_back(aRank + 1);
    }
    a = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(shape, aType.getElementType()),
        inputs[g.lhs], aExpand);
  } else {
    a = packOperand(rewriter, loc, inputs[g.lhs], aMap, aOrder, g.mTile, g.mr,
                    kLoop, pair);
  }
  Value b = packOperand(rewriter, loc, inputs[rhs], maps[rhs], bOrder, g.nTile,
                        g.nr, kLoop, pair);

  // Several K loops are consecutive, in one order, in both packed panels:
  // they become one loop there (`ijk,jil->kl`, whose K labels are in
  // opposite orders in the inputs). The micro-kernel then runs one long K
  // loop; with a unit vector.contract per K loop it would sum lane by
  // lane (40x50x60 by 50x40x70: 4.7 GFLOP/s).
  SmallVector<unsigned> kLoops(g.k);
  if (g.k.size() > 1) {
    auto collapseK = [&](Value &panel, SmallVector<unsigned> &order) {
      unsigned first = llvm::find(order, kLoop) - order.begin();
      auto type = cast<RankedTensorType>(panel.getType());
      SmallVector<ReassociationIndices> groups;
      for (unsigned d = 0; d < type.getRank(); ++d) {
        if (d > first && d < first + g.k.size())
          groups.back().push_back(d);
        else
          groups.push_back({int64_t(d)});
      }
      panel = tensor::CollapseShapeOp::create(rewriter, loc, panel, groups);
      order.erase(order.begin() + first + 1,
                  order.begin() + first + g.k.size());
    };
    assert(!aInPlace && pair == 1 && "several K loops are packed");
    collapseK(a, aOrder);
    collapseK(b, bOrder);
    kLoops.assign({kLoop});
  }

  // The micro-kernel's loops: cOrder, then the K loops (K pairs), then the
  // register tile's rows and columns (and the element of a K pair).
  SmallVector<unsigned> loops(cOrder);
  llvm::append_range(loops, kLoops);
  unsigned mrDim = loops.size(), nrDim = mrDim + 1, pairDim = mrDim + 2;
  unsigned numLoops = loops.size() + (pair > 1 ? 3 : 2);
  MLIRContext *ctx = op.getContext();
  auto dims = [&](ArrayRef<unsigned> order, unsigned tileLoop) {
    SmallVector<AffineExpr> exprs;
    for (unsigned loop : order)
      exprs.push_back(
          getAffineDimExpr(llvm::find(loops, loop) - loops.begin(), ctx));
    exprs.push_back(getAffineDimExpr(tileLoop, ctx));
    if (pair > 1)
      exprs.push_back(getAffineDimExpr(pairDim, ctx));
    return exprs;
  };
  SmallVector<AffineExpr> cExprs;
  for (unsigned loop : cOrder)
    cExprs.push_back(
        getAffineDimExpr(llvm::find(loops, loop) - loops.begin(), ctx));
  cExprs.push_back(getAffineDimExpr(mrDim, ctx));
  cExprs.push_back(getAffineDimExpr(nrDim, ctx));
  // The left-hand side comes first, so that the register tile's outer
  // product broadcasts its rows over the right-hand side's SIMD vectors.
  SmallVector<AffineExpr> aExprs;
  if (aInPlace) {
    for (unsigned d = 0; d < aRank; ++d) {
      unsigned loop = loopAt(aMap, d);
      aExprs.push_back(
          getAffineDimExpr(llvm::find(loops, loop) - loops.begin(), ctx));
      if (loop == g.mTile)
        aExprs.push_back(getAffineDimExpr(mrDim, ctx));
    }
    if (pair > 1)
      aExprs.push_back(getAffineDimExpr(pairDim, ctx));
  } else {
    aExprs = dims(aOrder, mrDim);
  }
  SmallVector<AffineMap> kernelMaps = {
      AffineMap::get(numLoops, 0, aExprs, ctx),
      AffineMap::get(numLoops, 0, dims(bOrder, nrDim), ctx),
      AffineMap::get(numLoops, 0, cExprs, ctx)};

  SmallVector<utils::IteratorType> iterators;
  SmallVector<int64_t> roles;
  for (unsigned loop : loops) {
    bool isK = llvm::is_contained(kLoops, loop);
    iterators.push_back(isK ? utils::IteratorType::reduction
                            : utils::IteratorType::parallel);
    GemmLoop role = isK               ? GemmLoop::K
                    : loop == g.mTile ? GemmLoop::MPanel
                    : loop == g.nTile ? GemmLoop::NPanel
                                      : GemmLoop::Outer;
    roles.push_back(int64_t(role));
  }
  iterators.append(2, utils::IteratorType::parallel);
  roles.push_back(int64_t(GemmLoop::MTile));
  roles.push_back(int64_t(GemmLoop::NTile));
  if (pair > 1) {
    iterators.push_back(utils::IteratorType::reduction);
    roles.push_back(int64_t(GemmLoop::KPair));
  }

  // Where the register tiles divide the result, the micro-kernel
  // accumulates straight into it, seen as [..., M panels, MR, ..., N
  // panels, NR, ...]; otherwise into a packed, padded result (filled with
  // the init's value) that is copied back. Integer dot products accumulate
  // in i32, always packed, and are truncated to the result's type after
  // the copy back.
  Type resultElement = getElementTypeOrSelf(init.getType());
  Type element = g.dot ? g.dot->accumulator : resultElement;
  bool widened = element != resultElement;
  if (widened)
    fill = arith::ExtSIOp::create(rewriter, loc, element, *fill);
  AffineMap cMap = maps[2];
  bool direct =
      !widened && ranges[g.mTile] % g.mr == 0 && ranges[g.nTile] % g.nr == 0;
  Value cInit;
  SmallVector<ReassociationIndices> cExpand;
  if (direct) {
    auto cType = cast<RankedTensorType>(init.getType());
    SmallVector<int64_t> shape;
    SmallVector<AffineExpr> exprs;
    auto loopExpr = [&](unsigned loop) {
      return getAffineDimExpr(llvm::find(loops, loop) - loops.begin(), ctx);
    };
    for (unsigned d = 0, e = 0; d < cType.getRank(); ++d) {
      unsigned loop = loopAt(cMap, d);
      cExpand.push_back({e++});
      if (loop == g.mTile || loop == g.nTile) {
        int64_t tile = loop == g.mTile ? g.mr : g.nr;
        cExpand.back().push_back(e++);
        shape.push_back(ranges[loop] / tile);
        shape.push_back(tile);
        exprs.push_back(loopExpr(loop));
        exprs.push_back(getAffineDimExpr(loop == g.mTile ? mrDim : nrDim, ctx));
      } else {
        shape.push_back(cType.getDimSize(d));
        exprs.push_back(loopExpr(loop));
      }
    }
    cInit = tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(shape, element), init, cExpand);
    kernelMaps[2] = AffineMap::get(numLoops, 0, exprs, ctx);
  } else {
    SmallVector<int64_t> cShape;
    for (unsigned loop : cOrder)
      cShape.push_back(loop == g.mTile   ? llvm::divideCeil(ranges[loop], g.mr)
                       : loop == g.nTile ? llvm::divideCeil(ranges[loop], g.nr)
                                         : ranges[loop]);
    cShape.push_back(g.mr);
    cShape.push_back(g.nr);
    cInit = tensor::EmptyOp::create(rewriter, loc, cShape, element);
    cInit = linalg::FillOp::create(rewriter, loc, *fill, cInit)->getResult(0);
  }

  // A dot product's body: `acc + ext(a) * ext(b)`; for integers, the
  // unsigned operand (vpdpbusd's first) is zero-extended and the other
  // sign-extended.
  linalg::GenericOp kernel;
  if (g.dot) {
    bool aUnsigned = (g.lhs == 0) == g.dot->firstUnsigned;
    kernel = linalg::GenericOp::create(
        rewriter, loc, cInit.getType(), ValueRange{a, b}, cInit, kernelMaps,
        iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value product;
          if (isa<FloatType>(element)) {
            Value x = arith::ExtFOp::create(nb, nloc, element, args[0]);
            Value y = arith::ExtFOp::create(nb, nloc, element, args[1]);
            product = arith::MulFOp::create(nb, nloc, x, y);
            product = arith::AddFOp::create(nb, nloc, args[2], product);
          } else {
            auto extend = [&](Value v, bool isUnsigned) -> Value {
              if (isUnsigned)
                return arith::ExtUIOp::create(nb, nloc, element, v);
              return arith::ExtSIOp::create(nb, nloc, element, v);
            };
            product =
                arith::MulIOp::create(nb, nloc, extend(args[0], aUnsigned),
                                      extend(args[1], !aUnsigned));
            product = arith::AddIOp::create(nb, nloc, args[2], product);
          }
          linalg::YieldOp::create(nb, nloc, product);
        });
  } else {
    kernel = linalg::GenericOp::create(rewriter, loc, cInit.getType(),
                                       ValueRange{a, b}, cInit, kernelMaps,
                                       iterators);
    rewriter.inlineRegionBefore(op.getRegion(), kernel.getRegion(),
                                kernel.getRegion().begin());
    if (g.lhs == 1) // the body's first argument is now the second input
      swapBodyInputs(kernel.getRegion().front());
  }
  kernel->setAttr(einsum::kGemmAttrName, rewriter.getDenseI64ArrayAttr(roles));

  // Unpacking writes every element of the init: its fill, if used only
  // here, is dead.
  Value unpackInto = init;
  auto initFill = init.getDefiningOp<linalg::FillOp>();
  if (!direct && initFill && initFill->hasOneUse())
    unpackInto = initFill.getOutputs()[0];
  else
    initFill = nullptr;
  Value result;
  if (direct) {
    result = tensor::CollapseShapeOp::create(rewriter, loc, kernel.getResult(0),
                                             cExpand);
  } else if (widened) {
    // Truncated in the packed layout (one pass over contiguous panels),
    // then copied back in the result's type.
    auto packedType = cast<RankedTensorType>(kernel.getResult(0).getType());
    unsigned rank = packedType.getRank();
    AffineMap id = rewriter.getMultiDimIdentityMap(rank);
    Value narrow = tensor::EmptyOp::create(rewriter, loc, packedType.getShape(),
                                           resultElement);
    narrow =
        linalg::GenericOp::create(
            rewriter, loc, narrow.getType(), kernel.getResult(0), narrow,
            {id, id},
            SmallVector<utils::IteratorType>(rank,
                                             utils::IteratorType::parallel),
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              linalg::YieldOp::create(nb, nloc,
                                      ValueRange{arith::TruncIOp::create(
                                          nb, nloc, resultElement, args[0])});
            })
            .getResult(0);
    result = unpackResult(rewriter, loc, narrow, unpackInto, cMap, cOrder, g);
  } else {
    result = unpackResult(rewriter, loc, kernel.getResult(0), unpackInto, cMap,
                          cOrder, g);
  }
  rewriter.replaceOp(op, result);
  if (initFill)
    rewriter.eraseOp(initFill);
  return success();
}

/// Collapses the fusible label groups of `op` (planned as `g`) into single
/// loops, replacing `op` and `g` by the collapsed op and its plan. Fails
/// only when the collapsed op cannot be planned.
static LogicalResult fuseGroups(RewriterBase &rewriter, linalg::GenericOp &op,
                                FailureOr<Gemm> &g, unsigned vectorBits,
                                unsigned vectorRegisters, DotTypes dots) {
  SmallVector<ReassociationIndices> groups = fusibleGroups(op, g->roles);
  if (groups.empty())
    return success();
  rewriter.setInsertionPoint(op);
  auto collapsed = linalg::collapseOpIterationDims(op, groups, rewriter);
  if (failed(collapsed))
    return success(); // planned as it is
  rewriter.replaceOp(op, collapsed->results);
  op = cast<linalg::GenericOp>(collapsed->collapsedOp.getOperation());
  g = planGemm(op, vectorBits, vectorRegisters, dots);
  return failure(failed(g));
}

namespace {
struct EinsumPackContractions
    : einsum::impl::EinsumPackContractionsBase<EinsumPackContractions> {
  using Base::Base;

  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    DotTypes dots{bf16Dot, int8Dot};
    SmallVector<linalg::GenericOp> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isPackable(op, dots))
        candidates.push_back(op);
    });
    llvm::SmallPtrSet<Operation *, 8> edges;
    while (!candidates.empty()) {
      linalg::GenericOp op = candidates.pop_back_val();
      // Taken out of the set now: `op` is replaced below, and a new op may
      // reuse its address.
      bool edge = edges.erase(op.getOperation());
      FailureOr<Gemm> g = planGemm(op, vectorBits, vectorRegisters, dots);
      if (failed(g))
        continue;
      // Labels of one role that stay adjacent in every operand become one
      // loop first (`cd` in `abcd,cdef->abef`, `bt` and `hk` in EinsumDense's
      // `btd,dhk->bthk`), so that the choice below, the edge split and the
      // K blocks see the contraction as the plain GEMM it is.
      if (failed(
              fuseGroups(rewriter, op, g, vectorBits, vectorRegisters, dots)))
        return signalPassFailure();
      // Integers take the packed GEMM on dot products only (one K loop).
      bool floats =
          isa<FloatType>(getElementTypeOrSelf(op.getDpsInits()[0].getType()));
      if (!floats && !g->dot)
        continue;
      if (!worthPacking(op, *g, l2Bytes, l3Bytes, edge)) {
        if (g->lhs == 1 && floats)
          putLhsFirst(rewriter, op);
        continue;
      }
      choosePackedRows(op, *g, vectorRegisters);
      if (auto split = edgeSplit(op, *g)) {
        rewriter.setInsertionPoint(op);
        // The parts cover disjoint boxes of the result, together all of
        // it: a fill of the whole init moves into each part, which fills
        // its own box (and later drops that fill for its register tiles)
        // instead of a serial pass over the whole result first.
        std::optional<Value> fill = einsum::dropInitFill(rewriter, op);
        auto [first, second] =
            linalg::splitOp(rewriter, cast<TilingInterface>(op.getOperation()),
                            split->first, rewriter.getIndexAttr(split->second));
        for (TilingInterface part : {first, second}) {
          if (auto generic = dyn_cast_or_null<linalg::GenericOp>(
                  part ? part.getOperation() : nullptr)) {
            if (fill)
              einsum::fillInit(rewriter, generic, *fill);
            candidates.push_back(generic);
            if (part == second || edge)
              edges.insert(generic);
          }
        }
        continue;
      }
      (void)packContraction(rewriter, op, *g);
    }
  }
};
} // namespace

einjit::KernelChoice
einsum::describeKernel(linalg::GenericOp op, ArrayRef<std::string> loopNames,
                       unsigned vectorBits, unsigned vectorRegisters,
                       int64_t l1Bytes, int64_t l2Bytes, int64_t l3Bytes,
                       bool bf16Dot, bool int8Dot) {
  auto name = [&](unsigned loop) {
    return loop < loopNames.size() ? loopNames[loop]
                                   : "d" + std::to_string(loop);
  };
  auto names = [&](ArrayRef<unsigned> loops) {
    std::string s = "{";
    for (auto [i, loop] : llvm::enumerate(loops))
      s += (i ? "," : "") + name(loop);
    return s + "}";
  };
  einjit::KernelChoice k;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  Type element = getElementTypeOrSelf(op.getDpsInits()[0].getType());
  FailureOr<Gemm> g = failure();
  DotTypes dots{bf16Dot, int8Dot};
  if (isPackable(op, dots))
    g = planGemm(op, vectorBits, vectorRegisters, dots);
  // Fused label groups, as the pass fuses them; a fused loop is named by
  // its labels in order (`bt`).
  std::string fused;
  std::vector<std::string> fusedNames;
  if (succeeded(g)) {
    SmallVector<ReassociationIndices> groups = fusibleGroups(op, g->roles);
    for (unsigned loop = 0; loop < op.getNumLoops(); ++loop) {
      auto group = llvm::find_if(groups, [&](const ReassociationIndices &r) {
        return llvm::is_contained(r, int64_t(loop));
      });
      if (group == groups.end()) {
        fusedNames.push_back(name(loop));
        continue;
      }
      if (group->front() != int64_t(loop))
        continue;
      SmallVector<unsigned> loops(group->begin(), group->end());
      fused += "; " + names(loops) + " run as one loop";
      std::string joined;
      for (unsigned l : loops)
        joined += name(l);
      fusedNames.push_back(joined);
    }
    IRRewriter rewriter(op.getContext());
    if (!groups.empty() &&
        failed(fuseGroups(rewriter, op, g, vectorBits, vectorRegisters, dots)))
      g = failure();
    // Integers take the packed GEMM on dot products only.
    if (succeeded(g) && !g->dot && !isa<FloatType>(element))
      g = failure();
    if (!groups.empty() && op.getNumLoops() == fusedNames.size()) {
      loopNames = fusedNames;
      ranges = op.getStaticLoopRanges();
    }
  }
  if (succeeded(g)) {
    std::string why;
    bool packed = worthPacking(op, *g, l2Bytes, l3Bytes, /*edge=*/false, &why);
    if (packed)
      choosePackedRows(op, *g, vectorRegisters);
    SmallVector<unsigned> m{g->mTile}, n{g->nTile};
    m.append(g->mOuter);
    n.append(g->nOuter);
    k.detail = llvm::formatv("batch {0} M {1} N {2} K {3}; ", names(g->batch),
                             names(m), names(n), names(g->k));
    // The direct kernel's tiles are einsum-tile-and-vectorize's.
    std::string direct =
        packed ? ""
               : describeDirectTiles(op, name, vectorBits, vectorRegisters,
                                     l1Bytes, l2Bytes);
    k.detail += direct.empty()
                    ? std::string(llvm::formatv("register tile {0}x{1} over "
                                                "{2} x {3}",
                                                g->mr, g->nr, name(g->mTile),
                                                name(g->nTile)))
                    : direct;
    k.kind = packed ? "GEMM, packed panels" : "GEMM, direct kernel";
    if (packed && g->dot)
      k.detail += g->dot->group == 2
                      ? "; K in bf16 pairs, dot products (vdpbf16ps)"
                      : "; K in groups of four 8-bit integers, dot products "
                        "(vpdpbusd) into i32";
    if (packed) {
      if (auto split = edgeSplit(op, *g))
        why += llvm::formatv("; split at {0} = {1}: whole panels, then an "
                             "edge of {2}",
                             name(split->first), split->second,
                             ranges[split->first] - split->second);
    } else if (g->lhs == 1) {
      why += "; the inputs are swapped so that the rows come first";
    }
    why += fused;
    k.why = why;
    return k;
  }
  if (op.getNumDpsInputs() == 1) {
    if (reductions.empty()) {
      if (std::optional<unsigned> c = transposedLoop(op)) {
        k.kind = "transpose";
        k.detail = llvm::formatv("{0} moves from innermost", name(*c));
        k.why = "one input permuted so that its contiguous label moves: "
                "square blocks of one cache line per row, transposed in "
                "registers";
      } else {
        k.kind = "copy";
        k.why = "one input and nothing summed (a diagonal, broadcast or "
                "type conversion): a vectorized loop nest";
      }
      return k;
    }
    k.kind = "reduction";
    k.detail = "sums over " + names(reductions);
    AffineMap in = op.getIndexingMapsArray().front();
    bool lanes =
        in.getNumResults() > 0 && reductions.size() >= 2 &&
        isa<FloatType>(element) &&
        llvm::is_contained(reductions, loopAt(in, in.getNumResults() - 1));
    k.why = lanes ? "its input's contiguous label " +
                        name(loopAt(in, in.getNumResults() - 1)) +
                        " is summed: partial sums in SIMD lanes, added at "
                        "the end"
                  : "one input with summed labels: tiled, vectorized loops";
    return k;
  }
  k.kind = "loop nest";
  k.detail = "tiled and vectorized";
  if (!element.isF32() && !element.isF64()) {
    k.why =
        "the packed GEMM takes f32 and f64 (and bf16 or 8-bit integers on "
        "dot products where the CPU has them); this step accumulates in " +
        std::string(isa<IntegerType>(element) ? "integers" : "another type");
    return k;
  }
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation(/*allowZeroInResults=*/false)) {
      k.why = "an operand repeats a label (a diagonal) or broadcasts a size-1 "
              "dimension";
      return k;
    }
  if (op.getNumDpsInputs() != 2) {
    k.why = "more than two inputs";
    return k;
  }
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  bool hasM = false, hasN = false, hasK = false;
  for (unsigned loop = 0; loop < op.getNumLoops(); ++loop) {
    bool inA = uses(maps[0], loop), inB = uses(maps[1], loop),
         inC = uses(maps[2], loop);
    if (!inC && inA != inB) {
      k.why = "label " + name(loop) + " is summed within one input";
      return k;
    }
    hasM |= inA && inC && !inB;
    hasN |= inB && inC && !inA;
    hasK |= inA && inB && !inC;
  }
  if (!hasK)
    k.why = "nothing is summed: an outer or elementwise (Hadamard) product, "
            "bound by memory";
  else if (!hasM || !hasN)
    k.why = "one input has no label of its own: a matrix-vector or dot "
            "product, bound by memory";
  else
    k.why = "not a GEMM the packed kernel takes";
  return k;
}
