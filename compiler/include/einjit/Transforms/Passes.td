//===- Passes.td - Transformations of einsum kernels -------*- tablegen -*-===//

#ifndef EINJIT_TRANSFORMS_PASSES
#define EINJIT_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def EinsumTileAndVectorize
    : Pass<"einsum-tile-and-vectorize", "mlir::func::FuncOp"> {
  let summary = "Tile contraction loop nests for cache and registers, then "
                "vectorize the register tiles";
  let description = [{
    Works on every `linalg.generic` with static loop ranges (what
    `convert-einsum-to-linalg` produces):

    1. splits off remainders: where the register tile's rows or SIMD width
       does not divide its loop's range (999 rows, 35 columns), or the
       innermost reduction has no divisor from 16 to 256 (a prime), the op
       is split (`linalg::splitOp`) into a part that covers a multiple of
       the tile and a remainder smaller than one tile, each handled alone;
    2. picks cache tiles (up to 64 x 128 over the two innermost parallel
       loops, 256 over the innermost reduction) and register tiles (rows x
       two SIMD registers, reductions 1; rows = min(8, (vector-registers -
       4) / 2): 8 with AVX-512's 32 registers, 6 with AVX2's 16), each a
       divisor of the loop range so that every tile is static and needs no
       masks;
    3. tiles twice with `scf.for` loops; when the loop nest has at least
       `parallel-work` iterations and more than one cache tile, the cache
       tiles of the parallel loops form one `scf.forall` instead (the
       pipeline turns it into an OpenMP parallel loop);
    4. vectorizes the register tile when the vectorizer accepts it (ops with
       diagonal maps stay scalar loops);
    5. turns reductions into `vector.contract`, folds tensor slices into
       transfers and hoists loop-invariant transfer pairs, so accumulators
       stay in registers across the reduction loop.

    An input that carries the SIMD loop (the innermost parallel one) in any
    dimension but its last, and that the other loops reuse at least 16
    times (`B` in `ij,kj->ik`, `bhkd` in `bhqd,bhkd->bhqk`), is first
    transposed once (a `linalg.transpose`, itself tiled and vectorized) so
    that the SIMD loop becomes its contiguous dimension.

    An op whose single reduction runs along the inputs' contiguous
    dimension while its innermost parallel loop does not (`ij,j->i`,
    `ij->i`) is instead tiled by 4 rows and split into one-SIMD-width
    partial sums per row (`tileReductionUsingScf`): contiguous loads,
    elementwise adds into a 4 x lanes accumulator, one cross-lane reduction
    at the end. With `parallel-work` iterations or more, the groups of rows
    are the iterations of an `scf.forall`.
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
  ];
  let dependentDialects = ["mlir::scf::SCFDialect",
                           "mlir::vector::VectorDialect",
                           "mlir::affine::AffineDialect",
                           "mlir::tensor::TensorDialect"];
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
       the contiguous dimension of an input and the op has a parallel loop,
       so that the tiling pass spreads the terms over the SIMD lanes; n
       otherwise) is split into blocks of
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
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
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

#endif // EINJIT_TRANSFORMS_PASSES
