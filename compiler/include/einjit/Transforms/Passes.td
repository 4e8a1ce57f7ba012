//===- Passes.td - Transformations of einsum kernels -------*- tablegen -*-===//

#ifndef EINJIT_TRANSFORMS_PASSES
#define EINJIT_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def EinsumPlanPaths : Pass<"einsum-plan-paths"> {
  let summary = "Plan the contraction path of each einsum.contract";
  let description = [{
    Gives every `einsum.contract` of three or more operands that has no
    `path` attribute one, planned by `einjit::planContraction` (the spec
    layer's planner, the one the runtime calls before it builds a kernel):
    `strategy` is auto, greedy, optimal or dp, and `memory-limit` caps the
    bytes of the largest intermediate (0: no cap). An op whose equation has
    no path under the cap fails the pass with the planner's message, which
    names the smallest limit that works. Ops that have a path keep it: the
    runtime plans once, and this pass never plans again.
  }];
  let options = [
    Option<"strategy", "strategy", "std::string", /*default=*/"\"auto\"",
           "Path strategy: auto, greedy, optimal or dp">,
    Option<"memoryLimit", "memory-limit", "int64_t", /*default=*/"0",
           "Bytes the largest intermediate may hold (0: no cap)">,
  ];
}

def EinsumGenerateGrads : Pass<"einsum-generate-grads", "mlir::ModuleOp"> {
  let summary = "Emit the reverse-mode gradient function of each function of "
                "einsum.contract ops";
  let description = [{
    For each `func.func @f` whose body is `einsum.contract` ops and a
    return, on float tensors, adds `func.func @f_grad` (marked
    `einsum.gradient_of = @f`): it takes f's arguments and one cotangent
    per result, and returns the gradient of each argument. The body
    recomputes the forward contractions, then walks them backwards: the
    gradient of each operand is another `einsum.contract`, the one
    `einjit::gradientEinsum` gives (Spec/Grad.h: the cotangent and the
    other operands; `arith.constant` vectors of ones for labels summed
    away and broadcast dims; a repeated output label for a diagonal).
    Where a value feeds several contractions, or one twice, the
    contributions add (`linalg.add`). An argument the results do not
    depend on gets zeros.

    Example: the gradient of `ij,jk->ik` is `ik,jk->ij` for the first
    operand and `ik,ij->jk` for the second.

    A function with another op in its body, or with integer tensors, is
    an error naming the op or the argument. Functions that are gradients
    already are skipped. Contractions of three or more operands get no
    path: `einsum-plan-paths` (in the CPU pipeline) plans them.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::func::FuncDialect",
                           "mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect"];
}

def EinsumTileAndVectorize
    : Pass<"einsum-tile-and-vectorize", "mlir::func::FuncOp"> {
  let summary = "Tile contraction loop nests for cache and registers, then "
                "vectorize the register tiles";
  let description = [{
    Works on every `linalg.generic` with static loop ranges (what
    `convert-einsum-to-linalg` produces):

    1. splits off remainders: where the register tile's rows or SIMD width
       does not divide its loop's range (1009 rows, 35 columns), or the
       innermost reduction has no divisor from 16 to 256 (a prime), the op
       is split (`linalg::splitOp`) into a part that covers a multiple of
       the tile and a remainder smaller than one tile, each handled alone;
    2. picks cache tiles (up to 64 x 128 over the two innermost parallel
       loops, 256 over the innermost reduction) and register tiles (rows x
       two SIMD registers, reductions 1; rows = min(8, (vector-registers -
       4) / 2): 8 with AVX-512's 32 registers, 6 with AVX2's 16; for a
       contraction whose rows these leave a remainder of, the count from
       3/4 to 3/2 of them nearest to them, within the registers, that
       divides the rows, if any: 10 for 20 rows, 9 for 999), each a
       divisor of the loop range so that every tile is static and needs no
       masks;
    3. tiles twice with `scf.for` loops; when the loop nest has at least
       `parallel-work` iterations and more than one cache tile, the cache
       tiles of the parallel loops form one `scf.forall` instead (the
       pipeline turns it into an OpenMP parallel loop). An op with a single
       parallel loop and no input that every loop indexes, which reuses no
       block of its inputs, runs its reductions' cache loops outermost, so
       that each row is read block after block, and threads take 8 chunks
       of the parallel loop. So does a contraction with one register tile
       of rows and a right input `[K, N]` beyond the L2 (a few rows times
       a matrix, `fewRowsBlocks`): its K loop in blocks of 8 or 16 rows
       outermost, each read across the whole width; threads take even
       chunks of the columns. An op with outer parallel loops (batches: all but the two innermost
       parallel loops) of at least 8 iterations that is worth threads
       takes them as one `scf.forall` before anything else, one batch per
       iteration, so that its remainder parts (step 1) run on the threads
       too;
    4. vectorizes the register tile when the vectorizer accepts it (ops with
       diagonal maps stay scalar loops);
    5. turns reductions into `vector.contract`, folds tensor slices into
       transfers and hoists loop-invariant transfer pairs, so accumulators
       stay in registers across the reduction loop.

    A `linalg.fill` of a slice that is inserted back (the zero padding of
    einsum-pack-contractions' partial panels) becomes one vector store per
    row in loops: left to the loop lowering, LLVM unrolled a 12 x 64 x 12
    padding into one block of 1536 stores, over which its post-RA
    scheduler spent 0.9 s.

    Tiles of whole SIMD registers come in power-of-two counts of them
    (`wholeRegisters`): LLVM halves a vector of 3 or 6 registers into
    pieces that are not whole registers and builds them lane by lane.

    A sum over one input whose result keeps its dims in another order than
    the input (`ijk->ki`) runs in the input's order into a temporary
    (`ijk->ik`), which is then copied transposed into the result
    (`reduceInInputOrder`). An input that carries the SIMD loop in a
    dimension but its last is copied transposed when it is reused 16
    times or more, unless another input carries that loop inside too and
    is not copied (`bnd,nd->bn`: dot products in SIMD lanes instead).

    Column sums: an op whose reductions are outer dims of an input that
    every loop indexes, with a parallel loop `c` as that input's (and every
    operand's) contiguous dimension (`i,ij->j`, `ijk->ik`, `ijk->k`,
    `ijk->jk`), reads that input once, row after row in memory order, and
    adds each row into a block of accumulators that stays in the L1: up
    to half the L1, whole rows of `c` where they fit. Rows are added one
    at a time while the block fills at most a quarter of the L1, 8 at a
    time into each register tile of 4 SIMD registers beyond it. Threads
    take the parallel loops outside the last reduction (the blocks of
    einsum-split-reductions) and the blocks inside it. An elementwise op
    whose result is larger than the L2 is tiled the same way along its
    result (rows of 4 registers in memory order, instead of 8-row register
    tiles that write 128 bytes of each row); above four L2 caches and half
    the L3 (`l3-bytes`: a smaller result is read from there next) its row
    tiles are left unvectorized and marked `einsum.stream`, and
    einsum-lower-copies vectorizes them after bufferization with
    non-temporal stores.

    The micro-kernel op of einsum-pack-contractions (attribute
    `einsum.gemm`) gets BLIS' loops instead: with `parallel-work`
    iterations or more, an `scf.forall` over its outer loops and chunks of
    its M panels or its N panels. About 4 chunks per thread (`threads`),
    or smaller ones down to single panels where the other operand's
    panels, which each chunk reads anew, fit half the L3 (`l3-bytes`):
    of these, the splits whose iterations, dealt out in order as OpenMP's
    static schedule does, give the busiest thread at most 1% more than
    the most even one, and of those the one that reads the fewest bytes
    anew (33 M panels and 24 N panels on 2 threads: 8 chunks of 3 N
    panels, where 8 chunks of 5 M panels gave 20 + 13); one thread keeps
    8 chunks of M panels. Then the innermost K loop in blocks of KC, sized
    so that a block of the N panels takes half the L2 (`l2-bytes`) and a
    block of one M panel half the L1 (`l1-bytes`); where the N panels are
    too wide for 256 K steps in half the L2, they go in blocks of NC
    panels that are not, outside the K loop; loops over the panels;
    then the K steps around one register tile, vectorized. A tile of one
    and a half registers' columns (24 f32 lanes on AVX-512) is split into
    a tile of whole registers and one of half a register, each with its
    own K steps (vectorized whole, LLVM would widen the 24 lanes to two
    registers and scalarize their stores). With a single K
    block, the op's init fill is dropped and each register tile starts
    from the fill value, so the result is written once and never read.

    Its packing copies (`linalg.transpose`) are moved as rows when they
    keep the innermost dimension innermost: 1-D copies of whole registers,
    two overlapping ones for a row they do not cover (31 columns: 0-15 and
    15-30), in an `scf.forall` over the outermost dimension from
    `parallel-work` / 32 elements (a copy left to one thread keeps the
    others waiting for it).

    Copies that move the input's contiguous dimension (real transposes:
    packing copies, and generics such as `ijk->kji` that only permute
    their input) run as square blocks of one 64-byte line per row (16 x 16
    f32, 8 x 8 f64; the largest power of two both ranges hold, from 4,
    when a range is shorter). Each block is a 2-D `linalg.transpose`
    marked `einsum.transpose_block`, which einsum-lower-copies lowers to
    row loads, a shuffle network and row stores. The block loops follow
    the input's layout: the loops before the result's contiguous loop,
    that loop, the loops between it and the input's contiguous loop, then
    the input's contiguous loop, so each block row streams through the
    input and every line is read and written whole, once. A range the
    block does not divide ends with a block that overlaps the one before
    it (rewriting the same values). From `parallel-work` / 8 elements the
    outermost block loop is an `scf.forall`. A result larger than four
    L2 caches (`l2-bytes`) and half the L3 (`l3-bytes`) is also marked
    `einsum.stream`: non-temporal stores, with no read for ownership. Ranges below 4 stay loop nests.

    An input that carries the SIMD loop (the innermost parallel one) in any
    dimension but its last, and that the other loops reuse at least 16
    times (`B` in `ij,kj->ik`, `bhkd` in `bhqd,bhkd->bhqk`), is first
    transposed once (a `linalg.transpose`, itself tiled and vectorized) so
    that the SIMD loop becomes its contiguous dimension.

    An op whose single reduction runs along the inputs' contiguous
    dimension while its innermost parallel loop does not (`ij,j->i`,
    `ij->i`) is instead split into partial sums per row
    (`tileReductionUsingScf`): contiguous loads, elementwise adds into up
    to 4 registers per row, one cross-lane reduction at the end. Rows are
    read one at a time in the order of an input that every loop indexes,
    or 8 side by side where an input that the reduction reads is the same
    for every row (the vector of `ij,j->i`, one load for 8 rows). Adds
    and maxima take this path. A reduction that one SIMD width does not
    divide is split within each row tile (`linalg::splitOp`) into the part
    it divides and the remainder (129 = 128 + 1), each reduced this way,
    so the remainder is read with its row. With `parallel-work` iterations
    or more, the groups of rows are the iterations of an `scf.forall`.

    The loops of the kernels whose register tiles are already unrolled
    vector code (the packed micro-kernel, direct contraction kernels,
    transposed and copied blocks, pad fills) carry a `loop_annotation`
    that disables LLVM's loop unrolling (the latch branch's
    `llvm.loop.unroll.disable`): it only unrolled them further, at the
    cost of compile time and not of speed (`ij,jk->ik` at 257³: 1092M ->
    602M instructions to compile, bench/compile_instructions.sh). Reductions along
    rows and elementwise loops keep it (a row max of 129 lost a third of
    its speed without it).

    Every strategy's threshold is a share of `parallel-work` where the op
    is cheap per byte or dear per iteration: a sixteenth for a nest that
    reads an input once (reductions along rows, elementwise ops), a
    128th for one that calls a math function (exp, erf), an eighth for
    a contraction that reuses its inputs (the direct kernel and the packed
    micro-kernel: `ij,jk->ik` from 64³; the micro-kernel's chunks on one
    thread keep the whole threshold) (ThreadWork.h).

    An elementwise op whose operands are whole contiguous buffers (tensors
    of identity-layout memrefs, new tensors) first has each run of loops
    that every operand reads contiguously, in order, collapsed into one
    loop (`linalg::collapseOpIterationDims`): exp of 4x12x129x129 is one
    loop of 798768, with no remainder of one element per row of 129.

    A floating-point sum over several reduction loops, one of which is an
    input's contiguous dimension `r` (`ijk->j`: `i` and `k`), splits `r`
    into `r'` and a new parallel loop of one SIMD width, innermost, whose
    loops follow the first input's dimensions: `partial[..., l]`
    accumulates whole vectors of each input row, reading the input in
    memory order. Its rows go in blocks as long as their accumulators fit
    half the L2, one block per thread (`threads`), since each block starts
    a new stream of rows for every index outside it (`ijk->j` reads all
    256 rows of each `i` in one run on one thread, 128 on two; blocks of
    64 were 7-8% slower). Each register tile sums one cache block of the
    reductions from zero and adds that sum to its accumulators, so no
    accumulator adds more terms in a row than one block. Then
    `out = init + sum over l of partial` (the partial-sum strategy above).
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "unsigned", /*default=*/"512",
           "SIMD register width in bits used to size register tiles">,
    Option<"vectorRegisters", "vector-registers", "unsigned",
           /*default=*/"32",
           "SIMD registers; the register tile's rows leave 4 of them free">,
    Option<"parallelWork", "parallel-work", "int64_t", /*default=*/"0",
           "Loop-nest size (product of loop ranges) from which the parallel "
           "cache tiles become an scf.forall for threads; 0 never">,
    Option<"threads", "threads", "unsigned", /*default=*/"2",
           "Threads that run an scf.forall (OpenMP's static schedule): "
           "packed GEMMs cut their panels into chunks that balance on them; "
           "with 1, no other strategy makes an scf.forall">,
    Option<"l1Bytes", "l1-bytes", "int64_t", /*default=*/"49152",
           "L1 data cache per core; sizes the K blocks of packed kernels">,
    Option<"l2Bytes", "l2-bytes", "int64_t", /*default=*/"2097152",
           "L2 cache per core; sizes the K blocks of packed kernels and "
           "sets the size from which transposes stream their result">,
    Option<"l3Bytes", "l3-bytes", "int64_t", /*default=*/"33554432",
           "L3 cache; packed GEMMs split panel by panel for threads only "
           "where the other operand's panels fit half of it">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect",
                           "mlir::affine::AffineDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::x86vector::X86VectorDialect",
                           "mlir::LLVM::LLVMDialect",
                           "mlir::einsum::EinsumDialect"];
}

def EinsumPackContractions
    : Pass<"einsum-pack-contractions", "mlir::func::FuncOp"> {
  let summary = "Rewrite contractions as GEMM on packed, padded panels";
  let description = [{
    The GEMM/GETT engine's data layout, as in BLIS and TBLIS: a contraction
    of any label grouping and any operand layout becomes packing, one
    micro-kernel op over packed panels, and unpacking. It works on
    `linalg.generic` ops on static tensors with two inputs and one output,
    each indexed by distinct loops (no diagonal, no broadcast dimension),
    whose init is a `linalg.fill`, and whose f32 or f64 loops are each in at
    least two operands:

    1. the loops are classified as batch (in both inputs and the result),
       M (left input and result), N (right input and result) and K (both
       inputs); the right input is the one that holds the result's
       contiguous dimension, the SIMD direction. Every role needs a loop;
    2. consecutive M, N or K loops that are adjacent and in order in
       every operand are collapsed into one (`bt` and `hk` in
       `btd,dhk->bthk`; `ab`, `cd` and `ef` in `abcd,cdef->abef`), so
       panels span them; the operands, the result included, become views;
    3. one M loop is split into panels of MR rows and one N loop into panels
       of NR columns: the register tile (MR = min(8, (vector-registers - 4)
       / 2), NR = two SIMD registers; where two would pad the loop by
       more than 25%, one if that pads less, or one and a half if that
       pads less still with no more FMA instructions per row than panels
       of one: 20 columns take 24, not 32), chosen as the loop whose
       padding wastes least (for N, the result's contiguous dimension when
       it wastes at most 25%). Where MR leaves a remainder of the M loop
       and the op is packed, MR becomes the row count from 3/4 to 3/2 of
       it, closest to it and within the registers (4 left free), that
       divides the loop, if there is one: 20 rows take two tiles of 10,
       not 16 and a split-off edge of 4 (below), 999 take 9, and 7 take 7
       instead of padding to 8;
    4. each input is copied (`linalg.transpose`, reading it at its own
       strides: no transpose is materialised first) into panels
       `[batch, other M (or N) loops, panel, K loops, MR (or NR)]`; a last,
       partial panel has its padding zero-filled first. The left-hand side
       is read in place instead, viewed as `[..., M panels, MR, ..., K]`,
       where its rows are whole panels and K is its contiguous dimension,
       with other dims between them or not (attention's queries `[b, q,
       h, d]` as `[b, q panels, MR, h, d]`): the kernel broadcasts its
       elements straight from memory;
    5. the micro-kernel op, a `linalg.generic` with the original body over
       loops `[batch, other M, other N, M panel, N panel, K, MR, NR]`,
       accumulates into the result (see below) or into a packed result
       filled with the init's value. Its
       attribute `einsum.gemm` gives each loop's role for
       einsum-tile-and-vectorize (0 outer, 1 M panel, 2 N panel, 3 K, 4
       tile row, 5 tile column);
    6. otherwise the packed result is copied into the result tensor, one
       transpose for whole panels and one for each partial edge, dropping
       the padding.

    So every register tile is whole, and sizes such as 999 or 1009 run the
    same micro-kernel as 1024. Before that, an op whose tiled loop has both
    whole panels and a partial one is split there (`linalg::splitOp`):
    the whole panels then accumulate straight into the result, and the
    thin edge, a contraction of its own, is packed too (into a padded
    result) whenever it fills half a tile's rows or a quarter of its
    columns, since the direct kernel would read it with the whole's
    strides; a thinner row edge too when the right input is `[..., K, N]`
    and its column remainder is more than a register and not a power of
    two (27 columns: 16 + 8 + 2 + 1 pieces direct). Contractions whose
    tiled loops fill less than half a tile's rows or a quarter of its
    columns, or with fewer than 8 K iterations, are left alone; so are
    small ones (up to 2 x MR rows and 3/4 of one register's lanes of
    columns, attention scores at s <= 12: the padding and the copy back
    cost more than the product); so are those that
    einsum-tile-and-vectorize's direct kernel runs as fast in place: one
    label per role, a column remainder (N mod NR) that is a power of two
    (one vector: 20 columns would be 16 + 4, a cliff), the right input
    `[..., K, N]` and the result `[..., M, N]`, and a right input that fits
    in half the L2 or at most 256 rows (the direct kernel then streams the
    right input from memory once per 64-row block, with
    einsum-prefetch-strided-reads' prefetches, faster than packing it).
    Labels are fused (step 2) before this choice, so `btd,dhk->bthk` is
    judged as the `[M, K] x [K, N]` product it is. Where the register tiles
    divide the result, the
    micro-kernel accumulates straight into it, viewed as `[..., M panels,
    MR, ..., N panels, NR, ...]` (no packed result, no copy back).

    With `bf16-dot`, a contraction whose two inputs are bf16 tensors
    converted to f32 (as convert-einsum-to-linalg converts a GEMM-like
    step's operands) is packed from the bf16 tensors instead, for AVX512-BF16's
    `vdpbf16ps` (`x86vector.avx512.dot`): the single K loop (after fusion)
    splits into pairs, `[K / 2, 2]`, padded with a zero when K is odd, and
    the pair becomes the innermost dimension of both packed panels
    (`[..., panel, K / 2, MR, 2]` and `[..., panel, K / 2, NR, 2]`). The
    micro-kernel op's body is `acc + extf(a) * extf(b)`, its pair loop
    has role 6 (pair) in `einsum.gemm`, and einsum-tile-and-vectorize
    lowers its register tile to one dot product per row and SIMD register
    per K pair. The conversions are then dead. The left-hand side is read in
    place only when K is even.

    With `int8-dot`, a contraction of 8-bit integers (i8 tensors, or i8
    tensors sign- or zero-extended to the result's type) whose result has
    at most 32 bits is packed the same way in groups of four K elements for
    AVX512-VNNI's `vpdpbusd`. The micro-kernel accumulates in i32 into a
    packed result, body `acc + extui(u) * extsi(s)` where `u` is the input
    read as unsigned (the zero-extended one; either for an 8-bit result,
    whose bits do not depend on it); that result is truncated to the
    result's type in the packed layout and copied back. Such contractions
    are never split at an edge (the result is packed anyway), and bf16 ones
    only where the edge is thick enough to pack.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "unsigned", /*default=*/"512",
           "SIMD register width in bits; NR is two registers">,
    Option<"bf16Dot", "bf16-dot", "bool", /*default=*/"false",
           "Pack bf16 contractions for AVX512-BF16 dot products">,
    Option<"int8Dot", "int8-dot", "bool", /*default=*/"false",
           "Pack 8-bit integer contractions for AVX512-VNNI dot products">,
    Option<"vectorRegisters", "vector-registers", "unsigned",
           /*default=*/"32", "SIMD registers; sets MR">,
    Option<"l2Bytes", "l2-bytes", "int64_t", /*default=*/"2097152",
           "L2 cache per core; a larger right input is always packed">,
    Option<"l3Bytes", "l3-bytes", "int64_t", /*default=*/"33554432",
           "L3 cache; beyond it (einsum::streamBytes) a right input "
           "streams from memory">,
  ];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect"];
}

def EinsumSplitReductions
    : Pass<"einsum-split-reductions", "mlir::func::FuncOp"> {
  let summary = "Split long floating-point reductions into blocks of short "
                "partial sums, for accuracy";
  let description = [{
    A sum of n numbers accumulated one after the other has a rounding error
    that grows with n; a sum of short blocks, whose block sums are summed
    again the same way, has an error that grows with the depth of that
    tree. This pass gives floating-point reductions that tree, so that long
    sums are as accurate as NumPy's blocked and pairwise ones. It works on
    `linalg.generic` ops on tensors whose body accumulates with `arith.addf`
    into the output (what `convert-einsum-to-linalg` emits):

    1. an op with several reduction loops that are adjacent in every
       indexing map (`ij->`, `ijk->i`) has them collapsed into one;
    2. an op with one reduction loop `r` over n iterations that streams an
       input (some input map is a permutation of all loops) and that would
       add more than 256 terms into each accumulator (n / lanes when `r` is
       the contiguous dimension of a streamed input and the op has a
       parallel loop, so that the tiling pass spreads the terms over the
       SIMD lanes; n otherwise) is split into blocks of
       B = 64 x lanes (contiguous) or 64 (otherwise) iterations, with
       q = n / B and n = q * B + rem:
       - `partial[b, ...] = sum over one block`: the op on the inputs' first
         q * B elements along `r`, expanded to `[q, B]`, with a new parallel
         loop `b` (outermost) over the blocks, into rows of a zero-filled
         tensor `partial`;
       - the last `rem` iterations: the original op on the inputs'
         remaining slices, summed into one more row of `partial` (so the
         remainder, too, enters the tree as a leaf);
       - `out = init + sum over b of partial[b, ...]`: a new reduction over
         the block sums, itself split again when it would add more than 4096
         of them into one accumulator (each is a sum already, and every
         split adds loop nests to compile).

    Integer reductions are exact in any order and are left alone. The new
    `b` loop is parallel, so a full reduction (`i->`) gains a parallel loop
    that threads can share.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "unsigned", /*default=*/"512",
           "SIMD register width in bits; sets the lanes of a block">,
  ];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect"];
}

def EinsumLowerCopies : Pass<"einsum-lower-copies", "mlir::func::FuncOp"> {
  let summary = "Rewrite memref.copy as linalg.copy";
  let description = [{
    Bufferization leaves `memref.copy` where a tile is moved unchanged (a
    transpose that only moves size-1 dimensions, say). Between strided
    memrefs, `finalize-memref-to-llvm` lowers it to a call of `memrefCopy`
    from MLIR's runner-utils library, which JIT kernels do not link. As a
    `linalg.copy` it becomes a plain loop nest instead.

    It also lowers the 2-D block transposes that einsum-tile-and-vectorize
    marks `einsum.stream` (results too large for the caches): each block's
    rows are read as vectors, transposed in registers, and written with
    non-temporal stores where the result rows are aligned to the vector (a
    runtime test; plain stores elsewhere), so writing the result costs no
    read for ownership. Row tiles of elementwise ops marked `einsum.stream`
    are vectorized here, their rows stored non-temporally where they start
    on a cache line.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::linalg::LinalgDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect"];
}

def EinsumFuseRows : Pass<"einsum-fuse-rows", "mlir::func::FuncOp"> {
  let summary = "Run row reductions and the elementwise op that reads them "
                "block of rows by block of rows";
  let description = [{
    A softmax lowers to three ops over its whole input: the rows' maxima,
    the sums of exp(x - max), and exp(x - max) / sum, each a pass over the
    tensor. On attention's 4 x 12 x 512 x 512 scores (48 MiB) each pass
    streams the tensor from memory again. This pass finds an elementwise
    `linalg.generic` (all loops parallel, rank 2 or more) that reads
    reductions along its innermost loop ("row reductions": loops 0 .. n-2
    parallel and the output indexed by them, loop n-1 a reduction), through
    unit-dim `tensor.expand_shape`s (keepdims), which it folds into the
    readers' maps. It tiles that op over its rows, a block of R rows per
    tile (R divides the rows, R rows take at most half the L1), and fuses
    the reductions and their fills into each tile
    (`tileConsumerAndFuseProducersUsingSCF`): each block of rows is read by
    all three steps while it is in L1, and the tensor is read from memory
    once. With at least `parallel-work` iterations, the tiles are an
    `scf.forall` for threads.

    Only reductions whose results nothing else reads are fused, so no
    reduction is computed twice. Where the op is a quotient x / s whose
    divisor s sums exactly those x (softmax: exp(x - max)), x is written
    once into the op's destination in each block, s summed from it and
    the division done in place, so the exps are computed once, not twice. einsum-tile-and-vectorize then vectorizes
    the ops of each tile as it would the whole ones.

    Attention's softmax sits between two contractions: the scores, which
    the softmax reads whole rows of, and the weighted sum, which reads the
    probabilities along its reduction loop. Where the op's input is a
    contraction that only it and its reductions read (the scores), or its
    result is read only by such a contraction (the weighted sum), both are
    fused too, block of rows by block of rows: the weighted sum is tiled
    into R rows of one head (its loops for the op's row dims; its own
    columns and reduction whole), and the quotient, the reductions, the
    scores and their fills are computed in each block. R divides the rows,
    R rows take at most an eighth of the L2, R is a multiple of 8 where 8
    divides the rows (1000 rows of 1000 keys: 8, not 25, whose blocks
    leave a register tile's remainder), and R is at least 8 (a register
    tile's rows) or all the rows. Where no such R divides the rows (509,
    a prime), R is the largest multiple of 8 under the cap and the rows'
    loop is peeled (`scf::peelForLoopAndSimplifyBounds`): whole blocks in
    the loop, the last, partial block after it, both with static shapes
    once canonicalization folds the blocks' sizes. Only with a cap under 8
    rows do the contractions stay whole. The scores and the probabilities
    then exist a block at a time,
    in allocations of a block (`bufferization.alloc_tensor`), never as
    whole tensors. The blocks' loops are sequential, heads outside rows,
    so that `loop-invariant-code-motion` hoists the packing of a head's
    keys and values out of its blocks. With at least `parallel-work`
    iterations and `threads` > 1, the blocks are split first into
    `threads` chunks, an `scf.forall`, along the first dim whose blocks
    they divide, never the rows of a partial block (contractions stay
    whole if there is none): each thread's
    allocations are then one block's, not one per block. Ops inside an
    scf.forall get no threads of their own in einsum-tile-and-vectorize.

    In each block, where the quotient divides by a value constant along
    each row (softmax's sum) and the weighted sum starts from zero, the
    weighted sum reads the numerator and its result is divided instead:
    sum_t (x_t / s) v_t = (sum_t x_t v_t) / s, d elements per row rather
    than one per key. Where the sum adds up that same numerator
    (exp(x - max)), it is summed from the block of numerators: softmax's
    exp is then computed once per score, not twice. Each of these
    divisions in place multiplies by 1 / s, computed once per row.
  }];
  let options = [
    Option<"parallelWork", "parallel-work", "int64_t", /*default=*/"0",
           "Loop-nest size from which the row blocks become an scf.forall "
           "for threads (without contractions, a 128th of it where the "
           "rows call exp, a sixteenth otherwise: ThreadWork.h); 0 never">,
    Option<"l1Bytes", "l1-bytes", "int64_t", /*default=*/"49152",
           "L1 data cache per core: a block of rows takes at most half">,
    Option<"l2Bytes", "l2-bytes", "int64_t", /*default=*/"2097152",
           "L2 cache per core: a block of rows fused with contractions "
           "takes at most an eighth">,
    Option<"threads", "threads", "int64_t", /*default=*/"2",
           "Threads: the chunks of blocks fused with contractions">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::linalg::LinalgDialect",
                           "mlir::bufferization::BufferizationDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::tensor::TensorDialect"];
}

def EinsumFuseElementwise
    : Pass<"einsum-fuse-elementwise", "mlir::func::FuncOp"> {
  let summary = "Fuse elementwise linalg ops into the ops that read them, "
                "except contractions";
  let description = [{
    A traced function's ops are separate linalg ops at first: a scale, a
    bias add, a max and a subtraction each read and write a whole tensor.
    This pass fuses every elementwise `linalg.generic` (all loops parallel)
    into each `linalg.generic` that reads it, as MLIR's elementwise fusion
    does: the producer's body is inlined at the consumer's indices
    (broadcast operands included), and a producer left without users
    disappears, so its tensor is never materialized. Softmax's
    `exp(x - max)` is computed inside its sum and inside its division,
    and a scale of attention scores inside both.

    Contractions (a multiply-accumulate of two inputs indexed by projected
    permutations, as `linalg::isaContractionOpInterface` sees them) never
    take a producer in: einsum-pack-contractions
    and the register-tile kernels need their plain multiply-add body, so an
    elementwise op before a contraction stays a pass over its tensor.
    A fill that initializes a generic's input is folded into it.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect"];
}

def EinsumApproximateMath
    : Pass<"einsum-approximate-math", "mlir::func::FuncOp"> {
  let summary = "Expand f32 math functions into vectorizable polynomials";
  let description = [{
    Eager ops (exp, log, tanh, gelu's erf) leave `math` ops on vectors.
    LLVM would lower each lane of a vector `exp` to a call of `expf`; this
    pass rewrites the f32 ones (and f16, which computes in f32) into MLIR's
    polynomial approximations, plain vector arithmetic accurate to a few
    ulps. Other types (f64) are left to `convert-math-to-libm`, which calls
    the C library lane by lane.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::vector::VectorDialect"];
}

def EinsumExpandBF16 : Pass<"einsum-expand-bf16", "mlir::func::FuncOp"> {
  let summary = "Round f32 to bf16 and widen bf16 with integer arithmetic";
  let description = [{
    Kernels on bf16 widen each element to f32 (`arith.extf`) and round
    results back (`arith.truncf`). On a host without AVX512-BF16, LLVM
    lowers the rounding to a call of `__truncsfbf2` per element, which the
    JIT cannot resolve. This pass rewrites both into integer operations on
    the bits (a shift to widen; round-to-nearest-even with NaN kept to
    narrow), as MLIR's BF16 expansion patterns do; they vectorize on every
    x86 target. Unlike `arith-expand{include-bf16}` it leaves the other
    arith ops (`maximumf` and the rest) to LLVM's native lowering.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect"];
}

def EinsumLowerReductions
    : Pass<"einsum-lower-reductions", "mlir::func::FuncOp"> {
  let summary = "Lower vector.multi_reduction to vector.reduction along its "
                "inner dim, with max and min that take -0 and +0 as equal";
  let description = [{
    The patterns of `lower-vector-multi-reduction{lowering-strategy=
    inner-reduction}`, with one difference: each `maximumf` or `minimumf`
    (a `vector.reduction` of that kind, or an arith op on its partial
    results) that they create is marked `nsz`. vector.multi_reduction has
    no fast-math flags, so the `nsz` of the reduction's body (the max op's,
    OpKernels.cpp) is lost on the way; and a float max or min reduction in
    einjit is numpy's max or min, which does not order -0 below +0 (NaN
    still propagates). Without `nsz`, LLVM lowers every step of a
    horizontal `llvm.vector.reduce.fmaximum` to five instructions that
    order the zeros; with it, to `vmaxps` and a NaN check. The max along
    the last axis of 4 x 12 x 129 x 129 f32, one Zen 4 core: 0.122 ->
    0.063 ms.

    Reductions over unit dims come first, as elementwise combines, and so
    do `vector.contract`s above rank 2 that sum only unit dims and whose
    other dims are in both operands (an FMA of whole vectors): the LLVM
    stage lowers contractions to outer products (the GEMM kernels'
    register tiles), and unrolled these lane by lane.
    `ijkl,jl->ik` at 64x128x64x128 f32 (partial sums in SIMD lanes, a
    contraction of `vector<1x1x1x1x64xf32>` by `vector<1x1x64xf32>`), one
    Zen 4 core: 29.0 -> 10.1 ms.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::vector::VectorDialect"];
}

def EinsumLowerDotProducts
    : Pass<"einsum-lower-dot-products", "mlir::func::FuncOp"> {
  let summary = "Turn einsum.dot_u8i8 into AVX512-VNNI's vpdpbusd intrinsic";
  let description = [{
    einsum-tile-and-vectorize builds 8-bit integer micro-kernels from
    `einsum.dot_u8i8`, a pure op that bufferization and loop hoisting move
    freely. After bufferization this pass replaces each with a call of
    `llvm.x86.avx512.vpdpbusd.512` (`llvm.call_intrinsic`, whose unknown
    memory effects bufferization would refuse), which LLVM selects as one
    `vpdpbusd` instruction.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

def EinsumNegativeStrides : Pass<"einsum-negative-strides", "mlir::ModuleOp"> {
  let summary = "Keep address arithmetic defined for inputs read with "
                "negative strides";
  let description = [{
    A view with a negative stride (`x[::-1]`) is read in place: its memref
    has that static stride, and the bare pointer is its first element, with
    the others below it. The memref-to-LLVM lowering marks index products
    and sums `nuw` and element addresses `getelementptr inbounds|nuw`,
    which is poison once an offset is negative, and LLVM then folds the
    reads away. On a module marked `einsum.negative_strides` (the kernel
    frame sets it when an input's stride is negative), this pass drops the
    unsigned-wrap flag from every integer operation and address
    computation, and keeps `nsw` and `inbounds`, which hold. Other modules
    are left alone.
  }];
}

def EinsumPrefetchStridedReads
    : Pass<"einsum-prefetch-strided-reads", "mlir::func::FuncOp"> {
  let summary = "Prefetch vector reads that step through memory with a "
                "stride the hardware prefetchers do not follow";
  let description = [{
    A loop that reads one short row segment per iteration from rows far
    apart (the direct GEMM kernel reading its right input `[K, N]` in place,
    one 32-column panel per K step, 3 KB apart for N = 768) misses in the
    caches on every row: the L2 streamer tracks accesses within a 4 KiB
    page and the L1 stride prefetcher strides up to 2 KiB, so each row is a
    demand miss, and the line fill buffers cap the bandwidth (about 12 GB/s
    from L3 on an Emerald Rapids core). This pass adds software prefetches
    `distance` iterations ahead for every `vector.transfer_read` directly in
    the body of an `scf.for` loop (after bufferization) that holds a
    register tile (a `vector.contract` whose accumulator has two
    dimensions of more than one element, rows and columns: `8x32`, or
    the packed micro-kernel's `[..., 8, 1, 32]`; a streaming loop such as
    `i,ij->j`'s, one vector of FMAs per row, ran 4-15% slower with
    prefetches), where:

    1. the source is a memref with static strides and a static shape
       larger than half the L2 (`l2-bytes`): a smaller one stays in the
       L2 after its first pass, and prefetching it made a 64-row K loop
       over a 256 KiB operand (the last step of `ij,jk,kl,lm->im`) 11%
       slower;
    2. exactly one index depends on the loop's induction variable, and its
       dimension's stride is at least `min-stride-bytes`; the innermost
       dimension's index does not depend on it;
    3. the read is in bounds, and its vector runs along the innermost
       dimension (a minor identity map);
    4. the loop has more than `distance` steps, or a trip count not known
       at compile time: a shorter one (a block of 8 rows read across the
       whole width by a few rows times a matrix) would prefetch past its
       end, rows it reads only after sweeping the row.

    The prefetched index is the read's index computed for the induction
    variable plus `distance` steps (so any affine index works), clamped to
    the dimension's last element, so every prefetch address is inside the
    memref; one `memref.prefetch` per cache line the vector covers, and
    one for its last element.

    The same loops' left input, read one element from each of R rows per
    step (`vector<1x8x1xf32>` of `[b, m, k]`, the innermost index walking
    K), streams each row in order, which the hardware follows; but the
    next register tile's rows start cold, a demand miss each. Where the
    source is as in (1), its innermost stride is 1, and the tile's rows
    are a cache line or more wide (an edge tile of a few columns does too
    little work per step to hide the prefetch), each step prefetches the
    element at the same K of row `first + R + (step mod R)`, clamped to the
    last row: every R steps touch each of the next tile's rows, every 16 R
    steps (f32) each of their lines. Where the rows are a whole dimension
    (a packed panel, `[b, panels, 8, k]`), the next tile's rows are the
    next panel's: row `step mod R` of panel `p + 1`, clamped to the last
    panel. Where more than 4 of the two tiles' 2R rows fall in one set of
    the L1 (x86's L1 caches are indexed by the page offset: rows 4 KiB
    apart share one set, and rows 4092 bytes apart put 15 of 16 in one),
    the next tile's rows would evict the current tile's, so they go into
    the L2 only (locality 2): matmul 1024³ read in place lost 24% with
    them in the L1, and K = 1023 14%; the direct kernel's rows of K =
    3072 or 4096 (12 or 16 KiB apart), `bi,io->bo` at 100x3072 by
    3072x768, 17% (90 against 109 GFLOP/s), and `ij,jk->ik` at 256x4096 by
    4096x256 11%.
    On one Zen 4 core: batch matmul 16 x 256³ 96 -> 108 GFLOP/s;
    attention's weighted sum at b4 h12 s512 98 -> 107.5; its scores +3%.
  }];
  let options = [
    Option<"distance", "distance", "int64_t", /*default=*/"16",
           "Iterations ahead to prefetch">,
    Option<"l2Bytes", "l2-bytes", "int64_t", /*default=*/"2097152",
           "L2 cache per core; operands up to half of it are not "
           "prefetched">,
    Option<"minStrideBytes", "min-stride-bytes", "int64_t",
           /*default=*/"2048",
           "Smallest stride (bytes) between iterations to prefetch; below "
           "it the hardware's stride prefetcher follows the reads">,
  ];
  let dependentDialects = ["mlir::affine::AffineDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect"];
}

def EinsumStreamTileStores
    : Pass<"einsum-stream-tile-stores", "mlir::func::FuncOp"> {
  let summary = "Write register tiles of results larger than the caches "
                "with non-temporal stores";
  let description = [{
    A register tile that sums all of K in registers (its K loop starts
    from a constant, so each element of the result is written once) and
    stores into a result too large for the caches makes the core read each
    result line before overwriting it (the read for ownership). Attention
    scores at b4 h12 s512 (a 48 MiB result, K = 64) on one Zen 4 core
    reach 99% of the FMA peak when the result fits the L2 and 82% when it
    does not. This pass runs after bufferization and rewrites the
    `vector.transfer_write` of such a tile (the only use of the K loop's
    result) into one non-temporal `vector.store` per row when:

    1. the root buffer of its destination (through views) is at least
       `max(4 L2, L3 / 2)` bytes (`l2-bytes`, `l3-bytes`), as for the
       streaming copies of einsum-tile-and-vectorize;
    2. the vector is a row of whole cache lines, or rows along one other
       dimension whose stride is whole cache lines, written in bounds
       without a mask along the destination's innermost, unit-stride
       dimension.

    The rows are stored non-temporally where the tile's first element
    starts a cache line (a runtime test), and by the original write
    elsewhere.
  }];
  let options = [
    Option<"l2Bytes", "l2-bytes", "int64_t", /*default=*/"1048576",
           "L2 cache per core">,
    Option<"l3Bytes", "l3-bytes", "int64_t", /*default=*/"33554432",
           "L3 cache">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect"];
}

def EinsumWorkspace : Pass<"einsum-workspace", "mlir::ModuleOp"> {
  let summary = "Place every buffer a kernel allocates in one workspace "
                "argument that the caller provides";
  let description = [{
    Runs after bufferization, before buffer deallocation. A JIT kernel must
    not call `malloc`: a failure there cannot be reported, and memory the
    kernel takes is memory the runtime cannot account for. This pass makes
    the runtime the only allocator:

    1. collects the `memref.alloc` ops of each function; each must have a
       static shape and the identity layout (anything else is an error). An
       allocation inside loops is made afresh by every iteration, whose code
       never reads what an earlier one left, so one buffer serves all the
       iterations of sequential loops; inside `scf.forall` loops, whose
       iterations may run at once on threads, the buffer holds one 64-byte
       aligned copy per iteration, picked by the linearized iteration
       number (the loops' bounds must be constant);
    2. computes each buffer's live range in the entry block, from the
       entry-block op that holds the allocation to the last use of it or of
       any memref derived from it (a use nested in a loop counts as its
       loop, and a memref a loop yields as the loop's result);
    3. assigns 64-byte aligned offsets, largest buffer first, to the lowest
       offset that overlaps no buffer live at the same time;
    4. appends an argument `%workspace: memref<Nxi8>` to the function and
       replaces each allocation by a `memref.view` into it at its offset,
       erasing any `memref.dealloc` of it;
    5. records the bytes needed, the largest N over the functions, as the
       module attribute `einsum.workspace_bytes` (an i64).

    The argument is added to every function, also one that needs no
    workspace (N = 0), so that every kernel has the same calling
    convention.

    Example:

    ```mlir
    %a = memref.alloc() {alignment = 64 : i64} : memref<31x33xf32>
    ```

    becomes, with `%ws: memref<4160xi8>` appended to the arguments,

    ```mlir
    %c0 = arith.constant 0 : index
    %a = memref.view %ws[%c0][] : memref<4160xi8> to memref<31x33xf32>
    ```
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect"];
}

def EinsumGpuMapLoops : Pass<"einsum-gpu-map-loops", "mlir::func::FuncOp"> {
  let summary = "Turn bufferized linalg ops into tiled parallel loops for "
                "GPU blocks and threads, contiguous dim on thread x";
  let description = [{
    The GPU pipeline's mapping step, after bufferization. Each linalg op
    becomes an `scf.parallel` over its parallel loops (reductions stay
    sequential loops inside it, one thread's), ordered so that the first
    parallel dim is the one that indexes the result's contiguous dim:
    `gpu-map-parallel-loops` puts the first on thread x, so that a warp's
    loads and stores of the result are coalesced. The loop is then tiled:
    `tile-x` by `tile-y` threads per block for two or more parallel dims,
    `tile-x` times `tile-y` for one; the outer loop becomes the grid.
    Intermediates (`memref.alloc`) become device memory (`gpu.alloc`), and
    copies between buffers (`memref.copy`) device copies (`gpu.memcpy`).

    With `tile-gemm`, a multiply-accumulate of two f32 or f64 operands
    whose loops group into batch, M, N and K (each of M, N, K at least 8)
    becomes a `gpu.launch` of its own instead: 16x16 threads compute a
    tile of results of one batch, in registers, from tiles of both
    operands staged in shared memory (workgroup attributions), with
    barriers between the steps: 128x128 results a block, 8x8 a thread,
    8 deep for f32 with M and N of 128 or more; else 64x64, 4x4, 16 deep. Each group runs as
    one linear index delinearized over its loops, so permuted operands,
    several contracted labels and permuted outputs take the same kernel;
    tiles are loaded along each operand's contiguous dim, and thread x runs
    along the result's.

    With `reduce-in-blocks`, a sum `out + X` of at least 128 terms per
    result that has fewer than 8192 results (`i->`, `ijk->j`) or an input
    contiguous along a summed label (`ij->i`) becomes a `gpu.launch` of one
    256-thread block per result: the threads take the terms in turn
    (consecutive threads along the first input's contiguous dim), then
    add their partial sums in a tree in shared memory, and thread 0 adds
    the total to the result. With fewer than 1024 results and at least
    8192 terms each, each result's terms are split between blocks (about
    1024 in all, 16 or more terms a thread), which write partial sums to a
    `gpu.alloc` buffer; a second launch of one block per result adds them
    up in a fixed order, so the sum does not depend on timing. Its inputs
    may read unit dims through the constant 0 (softmax's maxima, [r, 1]).

    A `linalg.fill` of exactly the result of a tiled multiply-accumulate, a
    block reduction or a reduction that runs a thread per result, earlier
    in the block with no op between them that uses a view of that buffer
    (and no input of the op that does), is no launch of its own: the
    kernel adds its sums to the fill value instead of to the result in
    memory, or each thread stores the fill value before its reductions (an
    einsum's zeros, a sum's, a maximum's -inf).
  }];
  let options = [
    Option<"tileX", "tile-x", "int64_t", /*default=*/"32",
           "Threads per block along the contiguous dim (a warp: 32)">,
    Option<"tileY", "tile-y", "int64_t", /*default=*/"8",
           "Threads per block along the next parallel dim">,
    Option<"tileGemm", "tile-gemm", "bool", /*default=*/"true",
           "Tile multiply-accumulates through shared memory and registers">,
    Option<"reduceInBlocks", "reduce-in-blocks", "bool", /*default=*/"true",
           "Sum long reductions with a block of threads per result">,
  ];
  let dependentDialects = ["mlir::scf::SCFDialect",
                           "mlir::gpu::GPUDialect",
                           "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::affine::AffineDialect"];
}

def EinsumGpuEmulate : Pass<"einsum-gpu-emulate", "mlir::ModuleOp"> {
  let summary = "Compile a GPU module's kernels for the host CPU, run by "
                "the runtime's emulator";
  let description = [{
    The GPU pipeline's last step for `format=host`, in place of
    `gpu-module-to-binary`: tests without a GPU run the very kernels that
    `einsum-gpu-map-loops` and `convert-gpu-to-nvvm` make (their block and
    thread indices, shared-memory tiles and barriers) on the CPU, against
    a driver whose device memory is host memory (test/fake-cuda).

    Each gpu.module's functions and globals move into the host module,
    renamed `__einjit_emu_<module>_<name>`. NVVM special registers become
    calls to `einjitEmuSreg(which)` (tid, ntid, ctaid, nctaid; x, y, z
    each: 0-11), and `nvvm.barrier0` a call to `einjitEmuBarrier()`;
    libdevice's `__nv_expf` becomes the C library's `expf`. Shared memory
    stays a global in address space 3, which the host treats as plain
    memory; each load and store of it first calls
    `einjitEmuShared(address, bytes, isWrite)`, the emulator's race check,
    and each load and store of device memory `einjitEmuGlobal`, its bounds
    check (not those of the stack or of module globals).
    Any other NVVM op is an error. Each kernel gets a thunk
    `<kernel>_thunk(void **params)` that takes CUDA's parameter array, and
    each `gpu.launch_func` becomes

    ```mlir
    llvm.call @einjitEmuLaunch(%thunk, %cooperative, %gx, %gy, %gz,
                               %bx, %by, %bz, %params)
    ```

    where `%cooperative` is 1 for kernels with barriers or shared memory
    (their threads must run at once) and 0 for the others. The input is
    the module after `gpu-to-llvm`: host code in the LLVM dialect.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

#endif // EINJIT_TRANSFORMS_PASSES
