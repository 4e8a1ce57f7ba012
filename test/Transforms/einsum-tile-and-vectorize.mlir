// RUN: einsum-opt %s --split-input-file --convert-einsum-to-linalg --einsum-tile-and-vectorize | FileCheck %s
// RUN: einsum-opt %s --split-input-file --convert-einsum-to-linalg --einsum-tile-and-vectorize=parallel-work=1000000 | FileCheck %s --check-prefix=THREADS
// RUN: einsum-opt %s --split-input-file --convert-einsum-to-linalg --einsum-tile-and-vectorize=parallel-work=4096 | FileCheck %s --check-prefix=ROWS
// RUN: einsum-opt %s --split-input-file --einsum-tile-and-vectorize="l1-bytes=32768 l2-bytes=1048576" | FileCheck %s --check-prefix=L2
// RUN: einsum-opt %s --split-input-file --einsum-tile-and-vectorize="parallel-work=1000 threads=2" | FileCheck %s --check-prefix=TWO
// RUN: einsum-opt %s --split-input-file --einsum-tile-and-vectorize="parallel-work=1000 threads=3" | FileCheck %s --check-prefix=THREE
// RUN: einsum-opt %s --split-input-file --einsum-tile-and-vectorize="parallel-work=1000 threads=1" | FileCheck %s --check-prefix=ONE
// RUN: einsum-opt %s --split-input-file --einsum-tile-and-vectorize | FileCheck %s --check-prefix=COLLAPSE
// RUN: einsum-opt %s --split-input-file --convert-einsum-to-linalg --einsum-tile-and-vectorize=parallel-work=2097152 | FileCheck %s --check-prefix=SHARE
// RUN: einsum-opt %s --split-input-file --convert-einsum-to-linalg --einsum-tile-and-vectorize | FileCheck %s --check-prefix=ANNOT

// A 128x512x256 matmul: cache tiles 64 x 128 over the parallel loops (the
// reduction fits in one 256 tile), register tiles 8 x 32 within them, and
// an outer-product step over the reduction. With the reduction in one
// block, the result's zero fill is dropped: each register tile starts from
// zeros (no pass over the whole result before the contraction).
// CHECK-LABEL: func @matmul
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8x32xf32>
// CHECK-DAG: %[[EMPTY:.*]] = tensor.empty() : tensor<128x512xf32>
// CHECK-NOT: linalg.fill
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c64 iter_args(%{{.*}} = %[[EMPTY]])
// CHECK: scf.for %{{.*}} = %c0 to %c512 step %c128
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c8
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c32
// CHECK: vector.transfer_write %[[ZERO]]
// The accumulator is read once per register tile, outside the k loop ...
// CHECK: %[[ACC:.*]] = vector.transfer_read {{.*}} vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c256 step %c1 iter_args({{.*}}, %[[ITER:.*]] = %[[ACC]])
// CHECK: vector.contract {{.*}} %[[ITER]] : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
// ... and written once after it.
// CHECK: vector.transfer_write {{.*}} : vector<8x32xf32>
// With parallel-work at most 128*512*256, the parallel cache tiles form one
// scf.forall (threads); the register tiles and the k loop stay inside.
// THREADS-LABEL: func @matmul
// THREADS: scf.forall (%{{.*}}, %{{.*}}) = (0, 0) to (128, 512) step (64, 128)
// THREADS: scf.for %{{.*}} = %c0 to %c64 step %c8
// THREADS: vector.contract {{.*}} into vector<8x32xf32>
// THREADS: scf.forall.in_parallel
// THREADS: tensor.parallel_insert_slice {{.*}} [64, 128] [1, 1] : tensor<64x128xf32> into tensor<128x512xf32>
// Below the threshold (8*3*48 iterations) nothing changes.
// THREADS-LABEL: func @f64_lanes
// THREADS-NOT: scf.forall
func.func @matmul(%a: tensor<128x256xf32>, %b: tensor<256x512xf32>) -> tensor<128x512xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<128x256xf32>, tensor<256x512xf32>) -> tensor<128x512xf32>
  return %0 : tensor<128x512xf32>
}

// -----

// f64 fills 8 lanes of a 512-bit register: a range of 48 takes two whole
// registers (16). 12 rows take two tiles of 6, not 8 and a remainder of 4
// split off into an op of its own (the row count nearest 8 from 6 to 12 that
// divides the rows).
// CHECK-LABEL: func @f64_lanes
// CHECK: vector.contract {{.*}} : vector<6x1xf64>, vector<1x16xf64> into vector<6x16xf64>
// CHECK-NOT: vector.contract
// CHECK: return
func.func @f64_lanes(%a: tensor<12x3xf64>, %b: tensor<3x48xf64>) -> tensor<12x48xf64> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<12x3xf64>, tensor<3x48xf64>) -> tensor<12x48xf64>
  return %0 : tensor<12x48xf64>
}

// -----

// Sizes no register tile divides: 13 rows are 8 + 5, 35 columns are 32 (two
// 16-lane registers) + 3, and a prime reduction of 1009 (no divisor from 16
// to 256) is 1008 + 1; every part is tiled by divisors of its own ranges,
// so no tile degrades to 1 row or to an odd vector of the whole range.
// CHECK-LABEL: func @remainders
// CHECK-DAG: into vector<8x32xf32>
// CHECK-DAG: into vector<8x3xf32>
// CHECK-DAG: into vector<5x32xf32>
// CHECK-DAG: into vector<5x3xf32>
// CHECK-DAG: scf.for %{{.*}} = %c0 to %c1008 step %c252 iter_args
// CHECK-NOT: vector<13x
// CHECK-NOT: vector<1x35x
func.func @remainders(%a: tensor<13x1009xf32>, %b: tensor<1009x35xf32>) -> tensor<13x35xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<13x1009xf32>, tensor<1009x35xf32>) -> tensor<13x35xf32>
  return %0 : tensor<13x35xf32>
}

// -----

// A diagonal is not a projected permutation: tiled, left for scalar loops.
// CHECK-LABEL: func @diagonal
// CHECK-NOT: vector.
// CHECK: linalg.generic
func.func @diagonal(%a: tensor<4x4xf32>) -> tensor<4xf32> {
  %0 = einsum.contract "ii->i" %a : (tensor<4x4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// A matrix-vector product sums along the rows' contiguous dimension: each
// group of 8 rows (one load of the vector for 8) keeps 8 x 16 partial sums in registers, fed by contiguous
// loads and reduced across lanes once at the end.
// CHECK-LABEL: func @matvec
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c8
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c16 iter_args(%{{.*}} = %{{.*}}, %[[P:.*]] = %{{.*}}) -> (tensor<8x16xf32>, vector<8x16xf32>)
// CHECK: vector.transfer_read {{.*}} : tensor<64x128xf32>, vector<8x16xf32>
// CHECK: %[[SUM:.*]] = arith.addf %[[P]], %{{.*}} : vector<8x16xf32>
// CHECK: scf.yield %{{.*}}, %[[SUM]]
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x16xf32> to vector<8xf32>
// With threads, the groups of 8 rows are the iterations of an scf.forall.
// ROWS-LABEL: func @matvec
// ROWS: scf.forall (%{{.*}}) = (0) to (64) step (8)
// ROWS: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x16xf32> to vector<8xf32>
// ROWS: scf.forall.in_parallel
func.func @matvec(%a: tensor<64x128xf32>, %x: tensor<128xf32>) -> tensor<64xf32> {
  %0 = einsum.contract "ij,j->i" %a, %x : (tensor<64x128xf32>, tensor<128xf32>) -> tensor<64xf32>
  return %0 : tensor<64xf32>
}

// -----

// A row length that 16 lanes do not divide (129 = 128 + 1) is split: the
// first 128 run as 16-lane partial sums, the last one on its own, instead
// of partial sums 3 lanes wide (the largest divisor of 129 under 16).
// CHECK-LABEL: func @matvec_odd
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c16 iter_args
// CHECK: vector.transfer_read {{.*}} : tensor<64x129xf32>, vector<8x16xf32>
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x16xf32> to vector<8xf32>
// CHECK: vector.transfer_read %{{.*}}[%{{.*}}, %c128]{{.*}} : tensor<64x129xf32>, vector<8x1xf32>
// CHECK-NOT: vector<8x3xf32>
func.func @matvec_odd(%a: tensor<64x129xf32>, %x: tensor<129xf32>) -> tensor<64xf32> {
  %0 = einsum.contract "ij,j->i" %a, %x : (tensor<64x129xf32>, tensor<129xf32>) -> tensor<64xf32>
  return %0 : tensor<64xf32>
}

// -----

// In A B^T the SIMD loop (k) is not contiguous in B, which 64 rows of A
// reuse: B is transposed once, then the outer-product kernel runs on it.
// CHECK-LABEL: func @transposed_operand
// CHECK-SAME: (%[[A:.*]]: tensor<64x32xf32>, %[[B:.*]]: tensor<64x32xf32>)
// CHECK: tensor.empty() : tensor<32x64xf32>
// CHECK: %[[BT:.*]] = scf.for {{.*}} -> (tensor<32x64xf32>)
// CHECK: vector.transfer_read %[[B]]{{.*}} : tensor<64x32xf32>, vector<32x8xf32>
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<32x8xf32> to vector<8x32xf32>
// CHECK: vector.transfer_read %[[BT]]{{.*}} : tensor<32x64xf32>, vector<1x32xf32>
// CHECK: vector.contract {{.*}} : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
func.func @transposed_operand(%a: tensor<64x32xf32>, %b: tensor<64x32xf32>) -> tensor<64x64xf32> {
  %0 = einsum.contract "ij,kj->ik" %a, %b : (tensor<64x32xf32>, tensor<64x32xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

// The same with one column (the 1-column edge of attention scores at
// s = 129): a SIMD loop narrower than a register is not worth the
// transpose, whose outer products would gather 8 rows per step. The rows'
// dot products along the common contiguous j run as 16-lane partial sums,
// 8 rows at a time (rows of i, the innermost parallel loop longer than 1).
// Each group of rows starts from zeros: no fill of the strided column is
// left behind (LLVM would scalarize it into scatters).
// CHECK-LABEL: func @one_column
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8x1xf32>
// CHECK-NOT: vector.transpose
// CHECK-NOT: linalg.fill
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c8
// CHECK: vector.transfer_read {{.*}} : tensor<64x32xf32>, vector<8x16xf32>
// CHECK: vector.multi_reduction <add>, %{{.*}}, %[[ZERO]] [2] : vector<8x1x16xf32> to vector<8x1xf32>
// CHECK-NOT: linalg.fill
func.func @one_column(%a: tensor<64x32xf32>, %b: tensor<1x32xf32>) -> tensor<64x1xf32> {
  %0 = einsum.contract "ij,kj->ik" %a, %b : (tensor<64x32xf32>, tensor<1x32xf32>) -> tensor<64x1xf32>
  return %0 : tensor<64x1xf32>
}

// -----

// A size-0 label leaves an empty loop nest: nothing to tile or vectorize.
// CHECK-LABEL: func @empty
// CHECK-NOT: scf.for
// CHECK: linalg.generic
func.func @empty(%a: tensor<0x3xf32>, %b: tensor<3x4xf32>) -> tensor<0x4xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<0x3xf32>, tensor<3x4xf32>) -> tensor<0x4xf32>
  return %0 : tensor<0x4xf32>
}

// -----

// A transposing copy runs as 16x16 blocks (one 64-byte line per row), in
// the input's layout: the result's contiguous `i`, then `j`, then the
// input's contiguous `k` (16 rows of `i` read from start to end). 20 and
// 40 are not multiples of 16: the last block of each starts at 4 and 24,
// overlapping the block before it.
// CHECK-LABEL: func @transpose_blocks
// CHECK: scf.for %[[I:.*]] = %c0 to %c20 step %c16
// CHECK: %[[I0:.*]] = arith.minsi %[[I]], %c4
// CHECK: scf.for %[[J:.*]] = %c0 to %c3 step %c1
// CHECK: scf.for %[[K:.*]] = %c0 to %c40 step %c16
// CHECK: %[[K0:.*]] = arith.minsi %[[K]], %c24
// CHECK: %[[SRC:.*]] = tensor.extract_slice %arg0[%[[I0]], %[[J]], %[[K0]]] [16, 1, 16] [1, 1, 1] : tensor<20x3x40xf32> to tensor<16x16xf32>
// CHECK: %[[DST:.*]] = tensor.extract_slice %{{.*}}[%[[K0]], %[[J]], %[[I0]]] [16, 1, 16] [1, 1, 1] : tensor<40x3x20xf32> to tensor<16x16xf32>
// CHECK: linalg.transpose ins(%[[SRC]] : tensor<16x16xf32>) outs(%[[DST]] : tensor<16x16xf32>) permutation = [1, 0] {einsum.transpose_block}
// THREADS-LABEL: func @transpose_blocks
// THREADS-NOT: scf.forall
func.func @transpose_blocks(%a: tensor<20x3x40xf32>) -> tensor<40x3x20xf32> {
  %0 = einsum.contract "ijk->kji" %a : (tensor<20x3x40xf32>) -> tensor<40x3x20xf32>
  return %0 : tensor<40x3x20xf32>
}

// -----

// A result of more than four L2 caches (8 MiB here) and half the L3 (16
// MiB) is streamed; with
// enough work, the block rows of the result's contiguous dimension are an
// scf.forall. f64 blocks are 8x8. Below 16 elements a range takes blocks
// of the largest power of two it holds (4 for the 6 rows of @narrow).
// THREADS-LABEL: func @stream_blocks
// THREADS: scf.forall (%[[I:.*]]) = (0) to (2048) step (8)
// THREADS: tensor.extract_slice %{{.*}}[0, %[[I]]] [1152, 8] [1, 1] : tensor<1152x2048xf64> to tensor<1152x8xf64>
// THREADS: scf.for %{{.*}} = %c0 to %c1152 step %c8
// THREADS: linalg.transpose ins(%{{.*}} : tensor<8x8xf64>) outs(%{{.*}} : tensor<8x8xf64>) permutation = [1, 0] {einsum.stream, einsum.transpose_block}
// THREADS: tensor.parallel_insert_slice
// THREADS-LABEL: func @narrow
// THREADS: linalg.transpose ins(%{{.*}} : tensor<4x4xf32>) outs(%{{.*}} : tensor<4x4xf32>) permutation = [1, 0] {einsum.transpose_block}
func.func @stream_blocks(%a: tensor<2048x1152xf64>) -> tensor<1152x2048xf64> {
  %0 = einsum.contract "ij->ji" %a : (tensor<2048x1152xf64>) -> tensor<1152x2048xf64>
  return %0 : tensor<1152x2048xf64>
}
func.func @narrow(%a: tensor<6x100xf32>) -> tensor<100x6xf32> {
  %0 = einsum.contract "ij->ji" %a : (tensor<6x100xf32>) -> tensor<100x6xf32>
  return %0 : tensor<100x6xf32>
}

// -----

// A sum over `i` and `k` whose contiguous `k` is a reduction: `k` splits
// into 2 x 32 lanes (two registers; four would be the whole row), a
// parallel loop, so each row of `a` is read as whole vectors into its two
// registers of accumulators, one row at a time in the memory order of `a`
// (i, j, k). For accuracy, each `i` sums its row from zero (SUM) and adds
// that to the accumulators (ACC); the 32 lane sums of each `j` are added
// at the end, one `j` at a time.
// CHECK-LABEL: func @lane_sums
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<1x32xf32>
// CHECK-DAG: %[[A:.*]] = tensor.expand_shape %arg0 {{\[\[}}0], [1], [2, 3]] output_shape [5, 6, 2, 32]
// CHECK: scf.for %[[I:.*]] = %c0 to %c5 step %c1 iter_args(
// CHECK: scf.for %[[J:.*]] = %c0 to %c6 step %c1 iter_args(
// CHECK: vector.transfer_write %[[ZERO]]
// CHECK: scf.for %[[K:.*]] = %c0 to %c2 step %c1 iter_args(%{{.*}} = %{{.*}}, %[[SUM:.*]] = %{{.*}}) -> (tensor<1x32xf32>, vector<1x32xf32>)
// CHECK: %[[V:.*]] = vector.transfer_read %[[A]][%[[I]], %[[J]], %[[K]], %c0]{{.*}} vector<1x1x1x32xf32>
// CHECK: vector.multi_reduction <add>, %[[V]], %[[SUM]] [0, 2] : vector<1x1x1x32xf32> to vector<1x32xf32>
// CHECK: %[[ACC:.*]] = vector.transfer_read %{{.*}}[%[[J]], %c0]
// CHECK: arith.addf %[[ACC]], %{{.*}} : vector<1x32xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c6 step %c1
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<1x32xf32> to vector<1xf32>
func.func @lane_sums(%a: tensor<5x6x64xf32>) -> tensor<6xf32> {
  %0 = einsum.contract "ijk->j" %a : (tensor<5x6x64xf32>) -> tensor<6xf32>
  return %0 : tensor<6xf32>
}

// -----

// Column sums (`i,ij->j`): whole rows of `b` are scaled and added into
// the accumulators in row order, one row at a time while the 2048
// accumulators fill at most a quarter of the L1 (48 KiB here).
// CHECK-LABEL: func @vecmat
// CHECK: scf.for %[[I:.*]] = %c0 to %c1024 step %c1
// CHECK-NEXT: scf.for %[[J:.*]] = %c0 to %c2048 step %c64
// CHECK: vector.transfer_read %{{.*}}[%[[I]], %[[J]]]{{.*}} vector<1x64xf32>
// CHECK: vector.contract {{.*}} : vector<1xf32>, vector<1x64xf32> into vector<64xf32>
func.func @vecmat(%a: tensor<1024xf32>, %b: tensor<1024x2048xf32>) -> tensor<2048xf32> {
  %0 = einsum.contract "i,ij->j" %a, %b : (tensor<1024xf32>, tensor<1024x2048xf32>) -> tensor<2048xf32>
  return %0 : tensor<2048xf32>
}

// -----

// Wider rows (4096 + 3 columns): 8 rows at a time go into each register
// tile of accumulators, kept in registers across them; the 3 columns left
// over are a part of their own.
// CHECK-LABEL: func @vecmat_wide
// CHECK: scf.for %[[I:.*]] = %c0 to %c64 step %c8
// CHECK-NEXT: scf.for %[[J:.*]] = %c0 to %c4096 step %c64
// CHECK: scf.for %{{.*}} = %c0 to %c8 step %c1 iter_args({{.*}}) -> (tensor<64xf32>, vector<64xf32>)
// CHECK: vector.contract {{.*}} : vector<1xf32>, vector<1x64xf32> into vector<64xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args({{.*}}) -> (tensor<3xf32>, vector<3xf32>)
// CHECK: vector.contract {{.*}} : vector<1xf32>, vector<1x3xf32> into vector<3xf32>
func.func @vecmat_wide(%a: tensor<64xf32>, %b: tensor<64x4099xf32>) -> tensor<4099xf32> {
  %0 = einsum.contract "i,ij->j" %a, %b : (tensor<64xf32>, tensor<64x4099xf32>) -> tensor<4099xf32>
  return %0 : tensor<4099xf32>
}

// -----

// A sum along the middle dimension (`ijk->ik`): threads take `i`, and each
// adds the rows of its slab, in order, into its row of accumulators.
// THREADS-LABEL: func @middle_sum
// THREADS: scf.forall (%[[I:.*]]) in (64)
// THREADS: scf.for %[[J:.*]] = %c0 to %c128 step %c1
// THREADS-NEXT: scf.for %[[K:.*]] = %c0 to %c256 step %c64
// THREADS: vector.transfer_read %{{.*}}[%[[I]], %[[J]], %[[K]]]{{.*}} vector<1x1x64xf32>
func.func @middle_sum(%a: tensor<64x128x256xf32>) -> tensor<64x256xf32> {
  %0 = einsum.contract "ijk->ik" %a : (tensor<64x128x256xf32>) -> tensor<64x256xf32>
  return %0 : tensor<64x256xf32>
}

// -----

// A batch of products with remainders (13 rows: 8 + 5; 35 columns: 32 +
// 3), worth threads: the batch loop is one scf.forall, one batch per
// iteration, and all four parts run inside it (no serial remainders after
// a parallel main part).
// ROWS-LABEL: func @batch_remainders
// ROWS: scf.forall (%[[B:.*]]) in (16)
// ROWS-NOT: scf.forall
// ROWS: into vector<1x8x32xf32>
// ROWS: into vector<1x5x32xf32>
// ROWS: into vector<1x8x3xf32>
// ROWS: into vector<1x5x3xf32>
// ROWS: scf.forall.in_parallel
// ROWS-NEXT: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%[[B]], 0, 0] [1, 13, 35] [1, 1, 1]
func.func @batch_remainders(%a: tensor<16x13x20xf32>, %b: tensor<16x20x35xf32>) -> tensor<16x13x35xf32> {
  %0 = einsum.contract "bij,bjk->bik" %a, %b : (tensor<16x13x20xf32>, tensor<16x20x35xf32>) -> tensor<16x13x35xf32>
  return %0 : tensor<16x13x35xf32>
}

// -----

// A bf16 micro-kernel op of einsum-pack-contractions (role 6: the element
// of a K pair) becomes AVX512-BF16 dot products: per K pair, the panel row
// of the right-hand side is read as one 64-element vector, each of the 8
// rows' pairs is read and broadcast as one 32-bit word, and each row's two
// 16-lane accumulators take one dot product each; the accumulators stay in
// registers across the K loop.
// CHECK-LABEL: func @bf16_dot_tile
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> ({{.*}}vector<1x8x1x32xf32>)
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1, 2, 3]] : tensor<1x1x32x2xbf16> into tensor<64xbf16>
// CHECK: vector.transfer_read {{.*}} : tensor<64xbf16>, vector<64xbf16>
// CHECK: vector.transfer_read {{.*}} : tensor<2x8x7x2xbf16>, vector<2xbf16>
// CHECK: vector.broadcast %{{.*}} : i32 to vector<16xi32>
// CHECK-COUNT-16: x86vector.avx512.dot %{{.*}} : vector<32xbf16> -> vector<16xf32>
// CHECK-NOT: vector.contract
func.func @bf16_dot_tile(%a: tensor<2x8x7x2xbf16>, %b: tensor<1x7x32x2xbf16>, %c: tensor<2x8x1x32xf32>) -> tensor<2x8x1x32xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d2, d5)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d1, d2, d4, d5)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d1, d4)>], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel", "reduction"]} ins(%a, %b : tensor<2x8x7x2xbf16>, tensor<1x7x32x2xbf16>) outs(%c : tensor<2x8x1x32xf32>) attrs = {einsum.gemm = array<i64: 1, 2, 3, 4, 5, 6>} {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %p = arith.mulf %xf, %yf : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x8x1x32xf32>
  return %0 : tensor<2x8x1x32xf32>
}

// -----

// An 8-bit micro-kernel op (role 6: a group of four K elements, i32
// accumulators) becomes einsum.dot_u8i8 (vpdpbusd): the panel row of 32
// columns x 4 bytes is one 128-byte read, two 16-lane registers; each row's
// four bytes are one broadcast 32-bit word. The zero-extended input (here
// the second) is the dot product's unsigned operand.
// CHECK-LABEL: func @int8_dot_tile
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> ({{.*}}vector<1x8x1x32xi32>)
// CHECK: vector.transfer_read {{.*}} : tensor<128xi8>, vector<128xi8>
// CHECK: %[[B0:.*]] = vector.bitcast %{{.*}} : vector<64xi8> to vector<16xi32>
// CHECK: vector.transfer_read {{.*}} : tensor<2x8x7x4xi8>, vector<4xi8>
// CHECK: %[[A0:.*]] = vector.broadcast %{{.*}} : i32 to vector<16xi32>
// CHECK: einsum.dot_u8i8 %{{.*}}, %[[B0]], %[[A0]] : vector<16xi32>
// CHECK-COUNT-15: einsum.dot_u8i8
// CHECK-NOT: vector.contract
func.func @int8_dot_tile(%a: tensor<2x8x7x4xi8>, %b: tensor<1x7x32x4xi8>, %c: tensor<2x8x1x32xi32>) -> tensor<2x8x1x32xi32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d2, d5)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d1, d2, d4, d5)>, affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3, d1, d4)>], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel", "reduction"]} ins(%a, %b : tensor<2x8x7x4xi8>, tensor<1x7x32x4xi8>) outs(%c : tensor<2x8x1x32xi32>) attrs = {einsum.gemm = array<i64: 1, 2, 3, 4, 5, 6>} {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xi = arith.extsi %x : i8 to i32
    %yi = arith.extui %y : i8 to i32
    %p = arith.muli %xi, %yi : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<2x8x1x32xi32>
  return %0 : tensor<2x8x1x32xi32>
}

// -----

// The dot products' packing copies put a group of K elements innermost
// (`[K/2, 32, 2]` from `[K/2, 2, 32]`): each panel row is two contiguous
// reads of 32, one vector.interleave and one contiguous write of 64; four
// rows (bytes) interleave twice.
// CHECK-LABEL: func @pack_pairs
// CHECK: scf.for
// CHECK: vector.transfer_read {{.*}} : tensor<6x2x1x32xbf16>, vector<1x2x1x32xbf16>
// CHECK: vector.interleave %{{.*}}, %{{.*}} : vector<32xbf16> -> vector<64xbf16>
// CHECK: vector.transfer_write %{{.*}} : vector<64xbf16>, tensor<64xbf16>
// CHECK-NOT: linalg.transpose
func.func @pack_pairs(%src: tensor<6x2x1x32xbf16>, %dst: tensor<1x6x32x2xbf16>) -> tensor<1x6x32x2xbf16> {
  %0 = linalg.transpose ins(%src : tensor<6x2x1x32xbf16>) outs(%dst : tensor<1x6x32x2xbf16>) permutation = [2, 0, 3, 1]
  return %0 : tensor<1x6x32x2xbf16>
}
// CHECK-LABEL: func @pack_quads
// CHECK: vector.interleave %{{.*}}, %{{.*}} : vector<32xi8> -> vector<64xi8>
// CHECK: vector.interleave %{{.*}}, %{{.*}} : vector<32xi8> -> vector<64xi8>
// CHECK: vector.interleave %{{.*}}, %{{.*}} : vector<64xi8> -> vector<128xi8>
// CHECK: vector.transfer_write %{{.*}} : vector<128xi8>, tensor<128xi8>
func.func @pack_quads(%src: tensor<3x4x1x32xi8>, %dst: tensor<1x3x32x4xi8>) -> tensor<1x3x32x4xi8> {
  %0 = linalg.transpose ins(%src : tensor<3x4x1x32xi8>) outs(%dst : tensor<1x3x32x4xi8>) permutation = [2, 0, 3, 1]
  return %0 : tensor<1x3x32x4xi8>
}

// -----

// A GEMM micro-kernel op whose K (1500) takes two blocks of 750: with
// threads, each thread fills its own block of the result before its K loop
// (in parallel, into its cache); on one thread, a fill of the whole result
// comes before the K blocks. The two ops share one fill (as CSE leaves the
// fills of same-shaped contractions): with threads, each takes it into its
// own blocks, and no whole-result fill is left for them to copy. A fill
// is written as rows of vector stores in loops LLVM does not unroll (left
// to the loop lowering, LLVM made each row a memset and unrolled the loops
// around them: 72 memsets in one block at `abcd,cdef->abef` 24⁴).
// CHECK-LABEL: func @shared_fill
// CHECK-DAG: %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : vector<1x1x1x32xf32>
// CHECK-DAG: %[[EMPTY:.*]] = tensor.empty() : tensor<64x8x4x32xf32>
// CHECK-NOT: linalg.fill
// CHECK: %[[FILLED:.*]] = scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args(%{{.*}} = %[[EMPTY]])
// CHECK: vector.transfer_write %[[ZEROS]]
// CHECK: } {loop_annotation =
// CHECK: scf.for %{{.*}} = %c0 to %c1500 step %c750 iter_args(%{{.*}} = %[[FILLED]])
// CHECK: scf.for %{{.*}} = %c0 to %c1500 step %c750 iter_args(%{{.*}} = %[[FILLED]])
// THREADS-LABEL: func @shared_fill
// THREADS-NOT: linalg.fill
// THREADS: scf.forall (%{{.*}}) = (0) to (64) step (8)
// THREADS-NEXT: tensor.extract_slice {{.*}} to tensor<8x8x4x32xf32>
// THREADS-NEXT: scf.for %{{.*}} = %c0 to %c8 step %c1
// THREADS: vector.transfer_write %{{.*}} : vector<1x1x1x32xf32>, tensor<8x8x4x32xf32>
// THREADS: scf.for %{{.*}} = %c0 to %c1500 step %c750
// THREADS: scf.forall (%{{.*}}) = (0) to (64) step (8)
// THREADS-NEXT: tensor.extract_slice {{.*}} to tensor<8x8x4x32xf32>
// THREADS-NEXT: scf.for %{{.*}} = %c0 to %c8 step %c1
// THREADS: vector.transfer_write %{{.*}} : vector<1x1x1x32xf32>, tensor<8x8x4x32xf32>
// THREADS: scf.for %{{.*}} = %c0 to %c1500 step %c750
func.func @shared_fill(%a: tensor<64x8x1500xf32>, %b: tensor<4x1500x32xf32>, %b2: tensor<4x1500x32xf32>) -> (tensor<64x8x4x32xf32>, tensor<64x8x4x32xf32>) {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<64x8x4x32xf32>
  %c = linalg.fill ins(%cst : f32) outs(%e : tensor<64x8x4x32xf32>) -> tensor<64x8x4x32xf32>
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3, d4) -> (d1, d2, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]} ins(%a, %b : tensor<64x8x1500xf32>, tensor<4x1500x32xf32>) outs(%c : tensor<64x8x4x32xf32>) attrs = {einsum.gemm = array<i64: 1, 2, 3, 4, 5>} {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<64x8x4x32xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3, d4) -> (d1, d2, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]} ins(%a, %b2 : tensor<64x8x1500xf32>, tensor<4x1500x32xf32>) outs(%c : tensor<64x8x4x32xf32>) attrs = {einsum.gemm = array<i64: 1, 2, 3, 4, 5>} {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<64x8x4x32xf32>
  return %0, %1 : tensor<64x8x4x32xf32>, tensor<64x8x4x32xf32>
}

// -----

// An elementwise op whose result is larger than the L2 is tiled by rows of
// 4 registers in memory order; larger than 4 L2 caches and half the L3 (an
// outer product of 32 MiB against 16), the row tiles are marked for
// non-temporal stores (einsum-lower-copies vectorizes them after
// bufferization). One of 16 MiB stays in the L3 for its reader: plain
// stores. A small one keeps 8 x 32 register tiles.
// CHECK-LABEL: func @outer_stream
// CHECK: scf.for %{{.*}} = %c0 to %c4096 step %c2
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1
// CHECK: scf.for %{{.*}} = %c0 to %c2048 step %c64
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x64xf32>) attrs = {{{.*}}einsum.stream}
// CHECK-LABEL: func @outer_cached
// CHECK: scf.for %{{.*}} = %c0 to %c2048 step %c64
// CHECK-NOT: einsum.stream
// CHECK-LABEL: func @outer_small
// CHECK-NOT: einsum.stream
// CHECK: vector.transfer_write {{.*}} : vector<8x32xf32>, tensor<64x128xf32>
func.func @outer_stream(%a: tensor<4096xf32>, %b: tensor<2048xf32>) -> tensor<4096x2048xf32> {
  %0 = einsum.contract "i,j->ij" %a, %b : (tensor<4096xf32>, tensor<2048xf32>) -> tensor<4096x2048xf32>
  return %0 : tensor<4096x2048xf32>
}
func.func @outer_cached(%a: tensor<2048xf32>, %b: tensor<2048xf32>) -> tensor<2048x2048xf32> {
  %0 = einsum.contract "i,j->ij" %a, %b : (tensor<2048xf32>, tensor<2048xf32>) -> tensor<2048x2048xf32>
  return %0 : tensor<2048x2048xf32>
}
func.func @outer_small(%a: tensor<256xf32>, %b: tensor<256xf32>) -> tensor<256x256xf32> {
  %0 = einsum.contract "i,j->ij" %a, %b : (tensor<256xf32>, tensor<256xf32>) -> tensor<256x256xf32>
  return %0 : tensor<256x256xf32>
}

// -----

// Threads take chunks of the micro-kernel's M panels or N panels: the most
// even shares as OpenMP's static schedule deals them out, then the fewest
// bytes of the other operand read anew. 33 M panels of 8 rows on 2
// threads: chunks of 5 (8 wanted) gave 20 panels to one thread and 13 to
// the other, and single panels 17 and 16; 8 chunks of 3 of the 24 N
// panels give 12 each. On 3 threads, 12 chunks of 2 N panels (33 single M
// panels would be as even, but read the right input 33 times). On one
// thread, the 8 chunks of 5 M panels that keep blocks of the result in
// the caches.
// TWO-LABEL: func @balanced_chunks
// TWO: scf.forall (%{{.*}}) = (0) to (24) step (3)
// THREE-LABEL: func @balanced_chunks
// THREE: scf.forall (%{{.*}}) = (0) to (24) step (2)
// ONE-LABEL: func @balanced_chunks
// ONE: scf.forall (%{{.*}}) = (0) to (33) step (5)
// A product of 3 M panels on 2 threads splits its 24 N panels.
// TWO-LABEL: func @few_m_panels
// TWO: scf.forall (%{{.*}}) = (0) to (24) step (3)
func.func @balanced_chunks(%a: tensor<33x8x96xf32>, %b: tensor<24x96x32xf32>, %c: tensor<33x8x24x32xf32>) -> tensor<33x8x24x32xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3, d4) -> (d1, d2, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]} ins(%a, %b : tensor<33x8x96xf32>, tensor<24x96x32xf32>) outs(%c : tensor<33x8x24x32xf32>) attrs = {einsum.gemm = array<i64: 1, 2, 3, 4, 5>} {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<33x8x24x32xf32>
  return %0 : tensor<33x8x24x32xf32>
}
func.func @few_m_panels(%a: tensor<3x8x96xf32>, %b: tensor<24x96x32xf32>, %c: tensor<3x8x24x32xf32>) -> tensor<3x8x24x32xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3, d4) -> (d1, d2, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]} ins(%a, %b : tensor<3x8x96xf32>, tensor<24x96x32xf32>) outs(%c : tensor<3x8x24x32xf32>) attrs = {einsum.gemm = array<i64: 1, 2, 3, 4, 5>} {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<3x8x24x32xf32>
  return %0 : tensor<3x8x24x32xf32>
}

// -----

// 2048 columns (64 N panels) leave 64 K steps in half a 1 MiB L2, so they go
// in blocks of 16 panels, whose 256 K steps fit there, outside the K loop;
// each K block loads and stores the accumulator tiles 4x less often.
// L2-LABEL: func @wide_n
// L2: scf.for %{{.*}} = %c0 to %c64 step %c16
// L2-NEXT: tensor.extract_slice
// L2-NEXT: scf.for %{{.*}} = %c0 to %c1024 step %c256
// L2: scf.for %{{.*}} = %c0 to %c2 step %c1
// L2-NEXT: scf.for %{{.*}} = %c0 to %c16 step %c1
func.func @wide_n(%a: tensor<2x8x1024xf32>, %b: tensor<64x1024x32xf32>, %c: tensor<2x8x64x32xf32>) -> tensor<2x8x64x32xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3, d4) -> (d1, d2, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]} ins(%a, %b : tensor<2x8x1024xf32>, tensor<64x1024x32xf32>) outs(%c : tensor<2x8x64x32xf32>) attrs = {einsum.gemm = array<i64: 1, 2, 3, 4, 5>} {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x8x64x32xf32>
  return %0 : tensor<2x8x64x32xf32>
}

// -----

// One row takes whole matrix rows in its tile, up to 8 registers, in a
// power-of-two count of them: 96 columns (6 registers) go in tiles of 32,
// which LLVM keeps whole; a vector of 96 or 48 it builds lane by lane.
// L2-LABEL: func @one_row_96
// L2: scf.for %{{.*}} = %c0 to %c96 step %c32
// L2: vector.contract {{.*}} : vector<1x1xf32>, vector<1x32xf32> into vector<1x32xf32>
func.func @one_row_96(%a: tensor<1x300xf32>, %b: tensor<300x96xf32>, %c: tensor<1x96xf32>) -> tensor<1x96xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(i, k, j) -> (i, j)>, affine_map<(i, k, j) -> (j, k)>, affine_map<(i, k, j) -> (i, k)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<1x300xf32>, tensor<300x96xf32>) outs(%c : tensor<1x96xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x96xf32>
  return %0 : tensor<1x96xf32>
}

// -----

// `bnd,nd->bn`: the SIMD loop `n` is inside both inputs. `nd` is reused
// 20 times, but a copy of it alone would leave `bnd` read across rows, so
// neither is copied: dot products along `d`, partial sums in SIMD lanes.
// L2-LABEL: func @dots_inside
// L2-NOT: transpose
// L2: vector.multi_reduction <add>
func.func @dots_inside(%x: tensor<20x33x100xf32>, %w: tensor<33x100xf32>, %c: tensor<20x33xf32>) -> tensor<20x33xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(b, n, d) -> (b, n, d)>, affine_map<(b, n, d) -> (n, d)>, affine_map<(b, n, d) -> (b, n)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<20x33x100xf32>, tensor<33x100xf32>) outs(%c : tensor<20x33xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<20x33xf32>
  return %0 : tensor<20x33xf32>
}

// -----

// `ijk->ki`: the result's dims in another order than the input's. The sum
// runs in the input's order, into a filled 20x64 temporary (`ijk->ik`, rows
// of `k` read in order), which is then copied transposed, in 16x16 blocks,
// into the 64x20 result.
// L2-LABEL: func @sum_transposed
// L2: %[[T:.*]] = tensor.empty() : tensor<20x64xf32>
// L2: linalg.fill ins(%{{.*}} : f32) outs(%[[T]] : tensor<20x64xf32>)
// L2: scf.for %{{.*}} = %c0 to %c20 step %c1
// L2: scf.for %{{.*}} = %c0 to %c20 step %c16 iter_args(%{{.*}}) -> (tensor<64x20xf32>)
func.func @sum_transposed(%x: tensor<20x30x64xf32>) -> tensor<64x20xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<64x20xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<64x20xf32>) -> tensor<64x20xf32>
  %0 = linalg.generic {indexing_maps = [affine_map<(k, i, j) -> (i, j, k)>, affine_map<(k, i, j) -> (k, i)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<20x30x64xf32>) outs(%init : tensor<64x20xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  } -> tensor<64x20xf32>
  return %0 : tensor<64x20xf32>
}

// -----

// Four rows (one register tile) times a right input larger than the L2
// (4000 KB): blocks of 8 of its rows, each read across the whole width,
// rather than cache blocks of 250 rows by 128 columns. Two threads take
// half the columns each.
// TWO-LABEL: func @few_rows_streamed
// TWO: scf.forall (%{{.*}}) = (0) to (1024) step (512)
// TWO: scf.for %{{.*}} = %c0 to %c1000 step %c8
// L2-LABEL: func @few_rows_streamed
// L2: scf.for %{{.*}} = %c0 to %c1000 step %c8
// L2-NEXT: scf.for %{{.*}} = %c0 to %c1024 step %c32
// L2: scf.for %{{.*}} = %c0 to %c8 step %c1
// L2: vector.contract {{.*}} : vector<4x1xf32>, vector<1x32xf32> into vector<4x32xf32>
func.func @few_rows_streamed(%a: tensor<4x1000xf32>, %b: tensor<1000x1024xf32>, %c: tensor<4x1024xf32>) -> tensor<4x1024xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(i, k, j) -> (i, j)>, affine_map<(i, k, j) -> (j, k)>, affine_map<(i, k, j) -> (i, k)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<4x1000xf32>, tensor<1000x1024xf32>) outs(%c : tensor<4x1024xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x1024xf32>
  return %0 : tensor<4x1024xf32>
}

// -----

// Partial sums of rows read one at a time (`ijk->j`): a block of `j` reads
// one run of rows per `i`, and the next block starts another stream, so
// the blocks are as long as their accumulators allow: one per thread (two
// of 128 rows), or all 256 rows in one block on one thread.
// TWO-LABEL: func @row_blocks
// TWO: scf.forall (%{{.*}}) = (0) to (256) step (128)
// TWO: scf.for %{{.*}} = %c0 to %c16 step %c1
// TWO-NEXT: scf.for %{{.*}} = %c0 to %c128 step %c1
// ONE-LABEL: func @row_blocks
// ONE-NOT: scf.forall
// ONE: scf.for %{{.*}} = %c0 to %c16 step %c1
// ONE-NEXT: scf.for %{{.*}} = %c0 to %c256 step %c1
func.func @row_blocks(%a: tensor<16x256x256xf32>) -> tensor<256xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<256xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<256xf32>) -> tensor<256xf32>
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d1, d0, d2)>, affine_map<(d0, d1, d2) -> (d0)>], iterator_types = ["parallel", "reduction", "reduction"]} ins(%a : tensor<16x256x256xf32>) outs(%init : tensor<256xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  } -> tensor<256xf32>
  return %0 : tensor<256xf32>
}

// -----

// A micro-kernel of one and a half registers' columns (24 f32 lanes) runs
// as a tile of 16 columns and one of 8, each over the K steps: vectorized
// whole, LLVM widens 24-lane vectors to two registers and scalarizes
// their stores.
// CHECK-LABEL: func @register_and_a_half
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args({{.*}}) -> (tensor<1x8x1x16xf32>, vector<1x8x1x16xf32>)
// CHECK: vector.contract {{.*}} into vector<1x8x1x16xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args({{.*}}) -> (tensor<1x8x1x8xf32>, vector<1x8x1x8xf32>)
// CHECK: vector.contract {{.*}} into vector<1x8x1x8xf32>
func.func @register_and_a_half(%a: tensor<2x8x64xf32>, %b: tensor<1x64x24xf32>, %c: tensor<2x8x1x24xf32>) -> tensor<2x8x1x24xf32> {
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d2)>, affine_map<(d0, d1, d2, d3, d4) -> (d1, d2, d4)>, affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d1, d4)>], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]} ins(%a, %b : tensor<2x8x64xf32>, tensor<1x64x24xf32>) outs(%c : tensor<2x8x1x24xf32>) attrs = {einsum.gemm = array<i64: 1, 2, 3, 4, 5>} {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x8x1x24xf32>
  return %0 : tensor<2x8x1x24xf32>
}

// -----

// The zero padding of a packed panel (a fill of a slice, inserted back):
// one vector store per row, in loops, not a loop nest that LLVM unrolls
// into one block of stores.
// CHECK-LABEL: func @pad_fill
// CHECK: scf.for
// CHECK: scf.for
// CHECK: vector.transfer_write {{.*}} : vector<1x1x12xf32>, tensor<12x64x12xf32>
// CHECK-NOT: linalg.fill
// CHECK: return
func.func @pad_fill(%packed: tensor<12x64x16xf32>) -> tensor<12x64x16xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %slice = tensor.extract_slice %packed[0, 0, 4] [12, 64, 12] [1, 1, 1] : tensor<12x64x16xf32> to tensor<12x64x12xf32>
  %filled = linalg.fill ins(%zero : f32) outs(%slice : tensor<12x64x12xf32>) -> tensor<12x64x12xf32>
  %r = tensor.insert_slice %filled into %packed[0, 0, 4] [12, 64, 12] [1, 1, 1] : tensor<12x64x12xf32> into tensor<12x64x16xf32>
  return %r : tensor<12x64x16xf32>
}

// -----

// An elementwise op whose operands are whole contiguous buffers runs as one
// loop over the runs of dims that every operand reads contiguously: exp of
// 2x3x5x7 is one loop of 210 (register tiles and an 18-lane remainder at
// the end, not a remainder in every row of 7); a bias add over the last
// dim is 30 rows of 7. A transposed result, or an input read through
// strides, keeps its loops.
// COLLAPSE-LABEL: func @exp_whole
// COLLAPSE: tensor.collapse_shape %{{.*}} {{\[}}[0, 1, 2, 3]] : tensor<2x3x5x7xf32> into tensor<210xf32>
// COLLAPSE: math.exp %{{.*}} : vector<32xf32>
// COLLAPSE: math.exp %{{.*}} : vector<18xf32>
// COLLAPSE: tensor.expand_shape %{{.*}} {{\[}}[0, 1, 2, 3]] output_shape [2, 3, 5, 7]
// COLLAPSE-LABEL: func @bias_add
// COLLAPSE: tensor.collapse_shape %{{.*}} {{\[}}[0, 1, 2], [3]] : tensor<2x3x5x7xf32> into tensor<30x7xf32>
// COLLAPSE: tensor.expand_shape %{{.*}} {{\[}}[0, 1, 2], [3]] output_shape [2, 3, 5, 7]
// COLLAPSE-LABEL: func @transposed
// COLLAPSE-NOT: tensor.collapse_shape
// COLLAPSE-LABEL: func @strided
// COLLAPSE-NOT: tensor.collapse_shape
// COLLAPSE: return
#id = affine_map<(a, b, c, d) -> (a, b, c, d)>
#last = affine_map<(a, b, c, d) -> (d)>
#swap = affine_map<(a, b, c, d) -> (a, c, b, d)>
func.func @exp_whole(%xm: memref<2x3x5x7xf32>, %om: memref<2x3x5x7xf32>) {
  %x = bufferization.to_tensor %xm restrict : memref<2x3x5x7xf32> to tensor<2x3x5x7xf32>
  %o = bufferization.to_tensor %om restrict writable : memref<2x3x5x7xf32> to tensor<2x3x5x7xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
    ins(%x : tensor<2x3x5x7xf32>) outs(%o : tensor<2x3x5x7xf32>) {
  ^bb0(%a: f32, %b: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<2x3x5x7xf32>
  bufferization.materialize_in_destination %r in restrict writable %om : (tensor<2x3x5x7xf32>, memref<2x3x5x7xf32>) -> ()
  return
}
func.func @bias_add(%xm: memref<2x3x5x7xf32>, %bm: memref<7xf32>, %om: memref<2x3x5x7xf32>) {
  %x = bufferization.to_tensor %xm restrict : memref<2x3x5x7xf32> to tensor<2x3x5x7xf32>
  %bias = bufferization.to_tensor %bm restrict : memref<7xf32> to tensor<7xf32>
  %o = tensor.empty() : tensor<2x3x5x7xf32>
  %r = linalg.generic {indexing_maps = [#id, #last, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
    ins(%x, %bias : tensor<2x3x5x7xf32>, tensor<7xf32>) outs(%o : tensor<2x3x5x7xf32>) {
  ^bb0(%a: f32, %c: f32, %b: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<2x3x5x7xf32>
  bufferization.materialize_in_destination %r in restrict writable %om : (tensor<2x3x5x7xf32>, memref<2x3x5x7xf32>) -> ()
  return
}
func.func @transposed(%xm: memref<2x3x5x7xf32>, %om: memref<2x5x3x7xf32>) {
  %x = bufferization.to_tensor %xm restrict : memref<2x3x5x7xf32> to tensor<2x3x5x7xf32>
  %o = tensor.empty() : tensor<2x5x3x7xf32>
  %r = linalg.generic {indexing_maps = [#id, #swap], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
    ins(%x : tensor<2x3x5x7xf32>) outs(%o : tensor<2x5x3x7xf32>) {
  ^bb0(%a: f32, %b: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<2x5x3x7xf32>
  bufferization.materialize_in_destination %r in restrict writable %om : (tensor<2x5x3x7xf32>, memref<2x5x3x7xf32>) -> ()
  return
}
func.func @strided(%xm: memref<2x3x5x7xf32, strided<[240, 80, 8, 1]>>, %om: memref<2x3x5x7xf32>) {
  %x = bufferization.to_tensor %xm restrict : memref<2x3x5x7xf32, strided<[240, 80, 8, 1]>> to tensor<2x3x5x7xf32>
  %o = tensor.empty() : tensor<2x3x5x7xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
    ins(%x : tensor<2x3x5x7xf32>) outs(%o : tensor<2x3x5x7xf32>) {
  ^bb0(%a: f32, %b: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<2x3x5x7xf32>
  bufferization.materialize_in_destination %r in restrict writable %om : (tensor<2x3x5x7xf32>, memref<2x3x5x7xf32>) -> ()
  return
}

// -----

// At the runtime's parallel-work (2^21), a contraction takes threads from
// an eighth of it: a 96³ matmul (884736 iterations) runs on both cores
// (116 -> 184 GFLOP/s on two Zen 4 cores). An outer product of as many
// iterations, two inputs but nothing summed, does not.
// SHARE-LABEL: func @contraction_share
// SHARE: scf.forall
// SHARE: vector.contract
// SHARE-LABEL: func @outer_share
// SHARE-NOT: scf.forall
// SHARE: return
func.func @contraction_share(%a: tensor<96x96xf32>, %b: tensor<96x96xf32>) -> tensor<96x96xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<96x96xf32>, tensor<96x96xf32>) -> tensor<96x96xf32>
  return %0 : tensor<96x96xf32>
}
func.func @outer_share(%a: tensor<96x96xf32>, %b: tensor<96xf32>) -> tensor<96x96x96xf32> {
  %0 = einsum.contract "ij,k->ijk" %a, %b : (tensor<96x96xf32>, tensor<96xf32>) -> tensor<96x96x96xf32>
  return %0 : tensor<96x96x96xf32>
}

// -----

// A contraction's loops (register tiles unrolled already) tell LLVM not to
// unroll them again; a matrix-vector product's row reductions keep LLVM's
// unrolling.
// ANNOT: #[[DIS:.*]] = #llvm.loop_unroll<disable = true>
// ANNOT: #[[LA:.*]] = #llvm.loop_annotation<unroll = #[[DIS]]>
// ANNOT-LABEL: func @annotated_matmul
// ANNOT: vector.contract
// ANNOT: } {loop_annotation = #[[LA]]}
// ANNOT-LABEL: func @unannotated_matvec
// ANNOT-NOT: loop_annotation
// ANNOT: return
func.func @annotated_matmul(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}
func.func @unannotated_matvec(%a: tensor<64x129xf32>, %x: tensor<129xf32>) -> tensor<64xf32> {
  %0 = einsum.contract "ij,j->i" %a, %x : (tensor<64x129xf32>, tensor<129xf32>) -> tensor<64xf32>
  return %0 : tensor<64xf32>
}

// -----

// Split ops start from the fill value too: 100 columns run as 96 (tiles of
// 8 x 32) and a 4-column edge, and each part's register tiles start from
// zeros; no fill of the whole result is left to write it once more before
// the parts read it back.
// CHECK-LABEL: func @split_columns
// CHECK-DAG: %[[EDGE_ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8x4xf32>
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8x32xf32>
// CHECK-NOT: linalg.fill
// CHECK: vector.transfer_write %[[ZERO]]
// CHECK: vector.contract {{.*}} into vector<8x32xf32>
// CHECK: vector.transfer_write %[[EDGE_ZERO]]
// CHECK: vector.contract {{.*}} into vector<8x4xf32>
func.func @split_columns(%a: tensor<40x100xf32>, %b: tensor<100x100xf32>) -> tensor<40x100xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<40x100xf32>, tensor<100x100xf32>) -> tensor<40x100xf32>
  return %0 : tensor<40x100xf32>
}

// -----

// A split along the reduction (K = 1009: 1008 in blocks of 252, then 1):
// the first part fills its result, blocks add to it, and the part split
// off reads that result and adds its one step. A single row takes all 64
// columns in one register tile (tileColumnsFor), whose sums stay in
// registers across the blocks.
// CHECK-LABEL: func @split_k
// CHECK: %[[FILL:.*]] = linalg.fill
// CHECK: %[[FIRST:.*]]:2 = scf.for %{{.*}} = %c0 to %c1008 step %c252 iter_args(%{{.*}} = %[[FILL]], %{{.*}} = %{{.*}})
// CHECK: vector.contract {{.*}} : vector<1x1xf32>, vector<1x64xf32> into vector<1x64xf32>
// CHECK: %[[PART:.*]] = vector.transfer_write %[[FIRST]]#1, %[[FIRST]]#0
// CHECK: vector.transfer_read %arg0[%c0, %c1008]
// CHECK: vector.transfer_read %arg1[%c1008, %c0]
// CHECK: %[[SUM:.*]] = vector.transfer_read %[[PART]]
// CHECK: vector.contract {{.*}}, %[[SUM]] : vector<1x1xf32>, vector<1x64xf32> into vector<1x64xf32>
func.func @split_k(%a: tensor<1x1009xf32>, %b: tensor<1009x64xf32>) -> tensor<1x64xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<1x1009xf32>, tensor<1009x64xf32>) -> tensor<1x64xf32>
  return %0 : tensor<1x64xf32>
}
