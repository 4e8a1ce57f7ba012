// RUN: einsum-opt %s --einsum-pack-contractions | FileCheck %s
// RUN: einsum-opt %s --einsum-pack-contractions=bf16-dot=true | FileCheck %s --check-prefix=BF16
// RUN: einsum-opt %s --einsum-pack-contractions=int8-dot=true | FileCheck %s --check-prefix=INT8
// RUN: einsum-opt %s --einsum-pack-contractions="l2-bytes=65536 l3-bytes=262144" | FileCheck %s --check-prefix=CACHES

// Contractions become GEMM on packed panels: MR = 8 rows (AVX-512's 32
// registers), NR = 32 columns (two 16-lane registers), or 16 or 24 where
// 32 would pad much more.

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>

// 19 rows are two whole panels of 8 and 3 rows more; 63 columns one panel
// of 32 and 31 more. The whole panels are split from the edges: here the
// 16x32 block is small and laid out for the direct kernel, which keeps it;
// the 31-column edge is packed (its right input into one zero-padded
// panel, the left read in place), runs the micro-kernel into a padded
// result and is copied back. The 3-row edge is split the same way: its
// first 32 columns run direct, and its 31 last ones, which the direct
// kernel would run in pieces (16 + 8 + 4 + 2 + 1), are packed, the 3 rows
// padded to 8. The whole result is never filled: each part fills its own
// box, and the packed edges' boxes not even that, as the copy back writes
// all of it.
// CHECK-LABEL: func @remainders
// CHECK-NOT: linalg.fill {{.*}} -> tensor<19x63xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<16x13xf32>, tensor<13x32xf32>)
// CHECK-NOT: einsum.gemm
// CHECK-NOT: linalg.fill {{.*}} -> tensor<16x31xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x13x1xf32>)
// CHECK: linalg.transpose ins({{.*}} : tensor<13x1x31xf32>) outs({{.*}} : tensor<1x13x31xf32>) permutation = [1, 0, 2]
// CHECK: %[[C:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x1x8x32xf32>)
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]
// CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<2x8x13xf32>, tensor<1x13x32xf32>) outs(%[[C]] : tensor<2x1x8x32xf32>)
// CHECK-SAME: einsum.gemm = array<i64: 1, 2, 3, 4, 5>
// CHECK: linalg.transpose ins({{.*}} : tensor<2x1x8x31xf32>) outs({{.*}} : tensor<2x8x1x31xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<3x13xf32>, tensor<13x32xf32>)
// CHECK-NOT: einsum.gemm
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x13x5xf32>)
// CHECK: linalg.transpose ins({{.*}} : tensor<1x3x13xf32>) outs({{.*}} : tensor<1x13x3xf32>)
// CHECK: linalg.generic
// CHECK-SAME: einsum.gemm
// CHECK: linalg.transpose ins({{.*}} : tensor<1x1x3x31xf32>) outs({{.*}} : tensor<1x3x1x31xf32>)
func.func @remainders(%a: tensor<19x13xf32>, %b: tensor<13x63xf32>) -> tensor<19x63xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<19x63xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<19x63xf32>) -> tensor<19x63xf32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<19x13xf32>, tensor<13x63xf32>) outs(%init : tensor<19x63xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<19x63xf32>
  return %r : tensor<19x63xf32>
}

// A transposed right input (`ij,kj->ik`) is packed; the left one, whose
// rows are whole panels and whose K is contiguous, is read where it is
// (only viewed as [M panels, MR, K]); where the tiles divide the result,
// the kernel accumulates straight into it, seen as [M panels, MR, N
// panels, NR].
// CHECK-LABEL: func @direct
// CHECK: %[[INIT:.*]] = linalg.fill
// CHECK: %[[A:.*]] = tensor.expand_shape %arg0 {{\[\[}}0, 1], [2]] output_shape [2, 8, 13]
// CHECK-NOT: linalg.transpose ins(%[[A]]
// CHECK: linalg.transpose ins({{.*}} : tensor<2x32x13xf32>) outs({{.*}} : tensor<2x13x32xf32>)
// CHECK: %[[VIEW:.*]] = tensor.expand_shape %[[INIT]] {{\[\[}}0, 1], [2, 3]] output_shape [2, 8, 2, 32]
// CHECK: %[[K:.*]] = linalg.generic {{.*}} ins(%[[A]], %{{.*}} : tensor<2x8x13xf32>, tensor<2x13x32xf32>) outs(%[[VIEW]] : tensor<2x8x2x32xf32>) {{.*}}einsum.gemm
// CHECK: tensor.collapse_shape %[[K]] {{\[\[}}0, 1], [2, 3]] : tensor<2x8x2x32xf32> into tensor<16x64xf32>
func.func @direct(%a: tensor<16x13xf32>, %b: tensor<64x13xf32>) -> tensor<16x64xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<16x64xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<16x64xf32>) -> tensor<16x64xf32>
  %r = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<16x13xf32>, tensor<64x13xf32>) outs(%init : tensor<16x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// Tiles that divide, a right input [K, N] and a result [M, N] that fit the
// caches: the direct kernel of einsum-tile-and-vectorize runs it in place.
// CHECK-LABEL: func @in_place
// CHECK-NOT: linalg.transpose
// CHECK-NOT: einsum.gemm
// CHECK: return
func.func @in_place(%a: tensor<16x32xf32>, %b: tensor<32x64xf32>) -> tensor<16x64xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<16x64xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<16x64xf32>) -> tensor<16x64xf32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<16x32xf32>, tensor<32x64xf32>) outs(%init : tensor<16x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// Labels of one role that stay adjacent, in order, in every operand fuse
// into one loop first: `ab` (M, 63), `ef` (N, 143) and `cd` (K, 30), a
// plain 63 x 143 x 30 GEMM on views of the operands, split like one into
// 128 + 15 columns. The rows take register tiles of 9, which divide 63
// (8 would leave an edge of 7). The 63 x 128 part, a plain
// [M, K] x [K, N] product of whole column tiles, is left to the direct
// kernel; the column edge is packed.
// CHECK-LABEL: func @fused_k
// CHECK: tensor.collapse_shape %arg0 {{\[\[}}0, 1], [2, 3]] : tensor<9x7x5x6xf32> into tensor<63x30xf32>
// CHECK: tensor.collapse_shape %arg1 {{\[\[}}0, 1], [2, 3]] : tensor<5x6x11x13xf32> into tensor<30x143xf32>
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2, 3]] : tensor<9x7x11x13xf32> into tensor<63x143xf32>
// CHECK-DAG: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<63x30xf32>, tensor<30x128xf32>) outs(%{{.*}} : tensor<63x128xf32>) {
// CHECK-DAG: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<7x9x30xf32>, tensor<1x30x16xf32>) outs(%{{.*}} : tensor<7x1x9x16xf32>) attrs = {einsum.gemm = array<i64: 1, 2, 3, 4, 5>}
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2, 3]] output_shape [9, 7, 11, 13] : tensor<63x143xf32> into tensor<9x7x11x13xf32>
func.func @fused_k(%a: tensor<9x7x5x6xf32>, %b: tensor<5x6x11x13xf32>) -> tensor<9x7x11x13xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<9x7x11x13xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<9x7x11x13xf32>) -> tensor<9x7x11x13xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(a, b, e, f, c, d) -> (a, b, c, d)>, affine_map<(a, b, e, f, c, d) -> (c, d, e, f)>, affine_map<(a, b, e, f, c, d) -> (a, b, e, f)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%a, %b : tensor<9x7x5x6xf32>, tensor<5x6x11x13xf32>) outs(%init : tensor<9x7x11x13xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<9x7x11x13xf32>
  return %r : tensor<9x7x11x13xf32>
}

// The same with the result's labels interleaved (`aebf`): M and N labels
// stay apart, only `cd` fuses. M takes the 7 of `b` (a register tile of 7
// rows, where 8 would pad), N the 13 of `f` (one 16-lane register); `a` and
// `e` stay outer loops.
// CHECK-LABEL: func @apart
// CHECK: tensor.collapse_shape %arg0 {{\[\[}}0], [1], [2, 3]] : tensor<9x7x5x6xf32> into tensor<9x7x30xf32>
// CHECK: tensor.collapse_shape %arg1 {{\[\[}}0, 1], [2], [3]] : tensor<5x6x11x13xf32> into tensor<30x11x13xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<9x1x7x30xf32>, tensor<11x1x30x16xf32>) outs(%{{.*}} : tensor<9x11x1x1x7x16xf32>) attrs = {einsum.gemm = array<i64: 0, 0, 1, 2, 3, 4, 5>}
func.func @apart(%a: tensor<9x7x5x6xf32>, %b: tensor<5x6x11x13xf32>) -> tensor<9x11x7x13xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<9x11x7x13xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<9x11x7x13xf32>) -> tensor<9x11x7x13xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(a, b, e, f, c, d) -> (a, b, c, d)>, affine_map<(a, b, e, f, c, d) -> (c, d, e, f)>, affine_map<(a, b, e, f, c, d) -> (a, e, b, f)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%a, %b : tensor<9x7x5x6xf32>, tensor<5x6x11x13xf32>) outs(%init : tensor<9x11x7x13xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<9x11x7x13xf32>
  return %r : tensor<9x11x7x13xf32>
}

// K labels in opposite orders (`ijk,jil->kl`) cannot fuse in the inputs,
// but the panels lay them out in one order: there they become one K loop
// of 13 x 11, so that the micro-kernel runs one long K loop.
// CHECK-LABEL: func @k_apart
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2], [3]] : tensor<4x13x11x8xf32> into tensor<4x143x8xf32>
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2], [3]] : tensor<1x13x11x32xf32> into tensor<1x143x32xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]} ins(%{{.*}}, %{{.*}} : tensor<4x143x8xf32>, tensor<1x143x32xf32>)
func.func @k_apart(%a: tensor<13x11x37xf32>, %b: tensor<11x13x29xf32>) -> tensor<37x29xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<37x29xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<37x29xf32>) -> tensor<37x29xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(k, l, i, j) -> (i, j, k)>, affine_map<(k, l, i, j) -> (j, i, l)>, affine_map<(k, l, i, j) -> (k, l)>], iterator_types = ["parallel", "parallel", "reduction", "reduction"]} ins(%a, %b : tensor<13x11x37xf32>, tensor<11x13x29xf32>) outs(%init : tensor<37x29xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<37x29xf32>
  return %r : tensor<37x29xf32>
}

// The result's contiguous `k` is an M label of the first input, so the
// second input (`lj`, read in place) is the left-hand side and the
// kernel's first input; the product in the body names it first too.
// CHECK-LABEL: func @mode_n
// CHECK: %[[L:.*]] = tensor.expand_shape %arg1 {{\[\[}}0, 1], [2]] output_shape [2, 8, 23]
// CHECK: linalg.transpose ins({{.*}} : tensor<9x23x2x32xf32>) outs({{.*}} : tensor<9x2x23x32xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[L]], %{{.*}} : tensor<2x8x23xf32>, tensor<9x2x23x32xf32>) outs(%{{.*}} : tensor<9x2x8x2x32xf32>) attrs = {einsum.gemm = array<i64: 0, 1, 2, 3, 4, 5>}
// CHECK-NEXT: ^bb0(%[[X:.*]]: f32, %[[Y:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK-NEXT: arith.mulf %[[X]], %[[Y]] : f32
func.func @mode_n(%a: tensor<9x23x64xf32>, %b: tensor<16x23xf32>) -> tensor<9x16x64xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<9x16x64xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<9x16x64xf32>) -> tensor<9x16x64xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, l, k, j) -> (i, j, k)>, affine_map<(i, l, k, j) -> (l, j)>, affine_map<(i, l, k, j) -> (i, l, k)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%a, %b : tensor<9x23x64xf32>, tensor<16x23xf32>) outs(%init : tensor<9x16x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<9x16x64xf32>
  return %r : tensor<9x16x64xf32>
}

// The in-place case with its inputs the other way round (`kn,mk->mn`):
// the direct kernel takes its rows from the first input, so the inputs
// are swapped, and the product names the left-hand side first.
// CHECK-LABEL: func @in_place_swapped
// CHECK-NOT: linalg.transpose
// CHECK: linalg.generic {indexing_maps = [#[[MK:.*]], #[[KN:.*]], #[[MN:.*]]], {{.*}} ins(%arg1, %arg0 : tensor<16x32xf32>, tensor<32x64xf32>)
// CHECK-NEXT: ^bb0(%[[X:.*]]: f32, %[[Y:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK-NEXT: arith.mulf %[[X]], %[[Y]] : f32
// CHECK-NOT: einsum.gemm
func.func @in_place_swapped(%b: tensor<32x64xf32>, %a: tensor<16x32xf32>) -> tensor<16x64xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<16x64xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<16x64xf32>) -> tensor<16x64xf32>
  %r = linalg.generic {indexing_maps = [#kn, #mk, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%b, %a : tensor<32x64xf32>, tensor<16x32xf32>) outs(%init : tensor<16x64xf32>) {
  ^bb0(%y: f32, %x: f32, %acc: f32):
    %p = arith.mulf %y, %x : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// 52 columns are a 32-column panel and 20 more, which the direct kernel
// would run as 16 + 4 lanes (a cliff): the whole panel stays direct, the
// 20-column edge is packed into one zero-padded panel of one and a half
// registers (24 columns: 32 would pad 12, and 16-column panels too).
// CHECK-LABEL: func @two_piece_remainder
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<16x52xf32>, tensor<52x32xf32>)
// CHECK-NOT: einsum.gemm
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x8x52xf32>, tensor<1x52x24xf32>) outs(%{{.*}} : tensor<2x1x8x24xf32>) attrs = {einsum.gemm
func.func @two_piece_remainder(%a: tensor<16x52xf32>, %b: tensor<52x52xf32>) -> tensor<16x52xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<16x52xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<16x52xf32>) -> tensor<16x52xf32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<16x52xf32>, tensor<52x52xf32>) outs(%init : tensor<16x52xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x52xf32>
  return %r : tensor<16x52xf32>
}

// 24 columns fill one panel of one and a half registers exactly; 32 would
// pad 8. The direct kernel would run them as one 24-lane vector (LLVM
// widens it to two registers and scalarizes its stores: 6 GFLOP/s), so
// the product is packed although the panel divides the columns.
// CHECK-LABEL: func @register_and_a_half
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<8x8x64xf32>, tensor<1x64x24xf32>) outs(%{{.*}} : tensor<8x8x1x24xf32>) attrs = {einsum.gemm
func.func @register_and_a_half(%a: tensor<64x64xf32>, %b: tensor<64x24xf32>) -> tensor<64x24xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<64x24xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<64x24xf32>) -> tensor<64x24xf32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<64x64xf32>, tensor<64x24xf32>) outs(%init : tensor<64x24xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<64x24xf32>
  return %r : tensor<64x24xf32>
}

// A right input beyond half the L2 (512x1024 f32, 2 MiB) with 256 rows or
// fewer: the direct kernel streams it from memory once per 64-row block,
// prefetched, faster than packing it. With more rows, it is packed.
// CHECK-LABEL: func @few_rows
// CHECK-NOT: einsum.gemm
// CHECK-LABEL: func @more_rows
// CHECK: einsum.gemm
func.func @few_rows(%a: tensor<64x512xf32>, %b: tensor<512x1024xf32>) -> tensor<64x1024xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<64x1024xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<64x1024xf32>) -> tensor<64x1024xf32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<64x512xf32>, tensor<512x1024xf32>) outs(%init : tensor<64x1024xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<64x1024xf32>
  return %r : tensor<64x1024xf32>
}
func.func @more_rows(%a: tensor<264x512xf32>, %b: tensor<512x1024xf32>) -> tensor<264x1024xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<264x1024xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<264x1024xf32>) -> tensor<264x1024xf32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<264x512xf32>, tensor<512x1024xf32>) outs(%init : tensor<264x1024xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<264x1024xf32>
  return %r : tensor<264x1024xf32>
}

// With bf16-dot (AVX512-BF16), a contraction of two bf16 tensors converted
// to f32 is packed from the bf16 tensors, K in pairs: 13 is 6 pairs and a
// last pair padded with a zero. The left-hand side, whose K is odd, is
// packed too ([M panels, K / 2, MR, 2]), the right one into [N panels,
// K / 2, NR, 2]; the micro-kernel's last loop (role 6) is the pair, its
// body `acc + extf(a) * extf(b)`, and the conversions are dead. Without
// bf16-dot the [M, K] x [K, N] product of whole tiles is left to the
// direct kernel, on the conversions.
// CHECK-LABEL: func @bf16_pairs
// CHECK-NOT: einsum.gemm
// BF16-LABEL: func @bf16_pairs
// BF16: %[[A:.*]] = tensor.empty() : tensor<2x7x8x2xbf16>
// BF16: tensor.extract_slice %[[A]][0, 6, 0, 1] [2, 1, 8, 1]
// BF16: linalg.fill ins(%{{.*}} : bf16) outs(%{{.*}} : tensor<2x1x8x1xbf16>)
// BF16: linalg.transpose ins(%{{.*}} : tensor<2x8x6x2xbf16>) outs(%{{.*}} : tensor<2x6x8x2xbf16>) permutation = [0, 2, 1, 3]
// BF16: linalg.transpose ins(%{{.*}} : tensor<2x8x1x1xbf16>) outs(%{{.*}} : tensor<2x1x8x1xbf16>) permutation = [0, 2, 1, 3]
// BF16: tensor.empty() : tensor<1x7x32x2xbf16>
// BF16: linalg.transpose ins(%{{.*}} : tensor<6x2x1x32xbf16>) outs(%{{.*}} : tensor<1x6x32x2xbf16>) permutation = [2, 0, 3, 1]
// BF16: linalg.generic
// BF16-SAME: iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel", "reduction"]
// BF16-SAME: ins(%{{.*}}, %{{.*}} : tensor<2x7x8x2xbf16>, tensor<1x7x32x2xbf16>) outs(%{{.*}} : tensor<2x8x1x32xf32>)
// BF16-SAME: einsum.gemm = array<i64: 1, 2, 3, 4, 5, 6>
// BF16: arith.extf %{{.*}} : bf16 to f32
// BF16: arith.extf %{{.*}} : bf16 to f32
// BF16: arith.mulf
// BF16: arith.addf
#id = affine_map<(i, j) -> (i, j)>
func.func @bf16_pairs(%a: tensor<16x13xbf16>, %b: tensor<13x32xbf16>) -> tensor<16x32xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %ea = tensor.empty() : tensor<16x13xf32>
  %fa = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<16x13xbf16>) outs(%ea : tensor<16x13xf32>) {
  ^bb0(%x: bf16, %o: f32):
    %y = arith.extf %x : bf16 to f32
    linalg.yield %y : f32
  } -> tensor<16x13xf32>
  %eb = tensor.empty() : tensor<13x32xf32>
  %fb = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<13x32xbf16>) outs(%eb : tensor<13x32xf32>) {
  ^bb0(%x: bf16, %o: f32):
    %y = arith.extf %x : bf16 to f32
    linalg.yield %y : f32
  } -> tensor<13x32xf32>
  %e = tensor.empty() : tensor<16x32xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<16x32xf32>) -> tensor<16x32xf32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%fa, %fb : tensor<16x13xf32>, tensor<13x32xf32>) outs(%init : tensor<16x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x32xf32>
  return %r : tensor<16x32xf32>
}

// Even K: the left-hand side is read in place, viewed as [M panels, MR,
// K / 2, 2].
// BF16-LABEL: func @bf16_in_place
// BF16: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2, 3]] output_shape [2, 8, 7, 2] : tensor<16x14xbf16> into tensor<2x8x7x2xbf16>
// BF16: linalg.generic
// BF16-SAME: ins(%{{.*}}, %{{.*}} : tensor<2x8x7x2xbf16>, tensor<1x7x32x2xbf16>)
// BF16-SAME: einsum.gemm = array<i64: 1, 2, 3, 4, 5, 6>
func.func @bf16_in_place(%a: tensor<16x14xbf16>, %b: tensor<14x32xbf16>) -> tensor<16x32xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %ea = tensor.empty() : tensor<16x14xf32>
  %fa = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<16x14xbf16>) outs(%ea : tensor<16x14xf32>) {
  ^bb0(%x: bf16, %o: f32):
    %y = arith.extf %x : bf16 to f32
    linalg.yield %y : f32
  } -> tensor<16x14xf32>
  %eb = tensor.empty() : tensor<14x32xf32>
  %fb = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<14x32xbf16>) outs(%eb : tensor<14x32xf32>) {
  ^bb0(%x: bf16, %o: f32):
    %y = arith.extf %x : bf16 to f32
    linalg.yield %y : f32
  } -> tensor<14x32xf32>
  %e = tensor.empty() : tensor<16x32xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<16x32xf32>) -> tensor<16x32xf32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%fa, %fb : tensor<16x14xf32>, tensor<14x32xf32>) outs(%init : tensor<16x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x32xf32>
  return %r : tensor<16x32xf32>
}

// With int8-dot (AVX512-VNNI), an 8-bit integer contraction is packed in
// groups of four K elements (13 = 3 groups and one padded with zeros) and
// accumulates in i32 (vpdpbusd's lanes): the first input is read as
// unsigned, the second as signed, which for an i8 result (products and sums
// wrapping in 8 bits) gives the same bits. The i32 result is always packed,
// truncated to i8 there and copied back. Without int8-dot the
// integer contraction is not packed.
// CHECK-LABEL: func @int8_quads
// CHECK-NOT: einsum.gemm
// INT8-LABEL: func @int8_quads
// INT8: tensor.empty() : tensor<2x4x8x4xi8>
// INT8: linalg.fill ins(%{{.*}} : i8) outs(%{{.*}} : tensor<2x1x8x3xi8>)
// INT8: linalg.transpose ins(%{{.*}} : tensor<2x8x3x4xi8>) outs(%{{.*}} : tensor<2x3x8x4xi8>) permutation = [0, 2, 1, 3]
// INT8: tensor.empty() : tensor<1x4x32x4xi8>
// INT8: linalg.transpose ins(%{{.*}} : tensor<3x4x1x32xi8>) outs(%{{.*}} : tensor<1x3x32x4xi8>) permutation = [2, 0, 3, 1]
// INT8: %[[ACC:.*]] = linalg.fill ins(%{{.*}} : i32) outs(%{{.*}} : tensor<2x1x8x32xi32>)
// INT8: linalg.generic
// INT8-SAME: ins(%{{.*}}, %{{.*}} : tensor<2x4x8x4xi8>, tensor<1x4x32x4xi8>) outs(%[[ACC]] : tensor<2x1x8x32xi32>)
// INT8-SAME: einsum.gemm = array<i64: 1, 2, 3, 4, 5, 6>
// INT8: ^bb0(%[[X:.*]]: i8, %[[Y:.*]]: i8, %{{.*}}: i32):
// INT8-DAG: arith.extui %[[X]] : i8 to i32
// INT8-DAG: arith.extsi %[[Y]] : i8 to i32
// INT8: linalg.generic
// INT8-SAME: ins(%{{.*}} : tensor<2x1x8x32xi32>) outs(%{{.*}} : tensor<2x1x8x32xi8>)
// INT8: arith.trunci %{{.*}} : i32 to i8
// INT8: linalg.transpose ins(%{{.*}} : tensor<2x1x8x32xi8>) outs(%{{.*}} : tensor<2x8x1x32xi8>)
func.func @int8_quads(%a: tensor<16x13xi8>, %b: tensor<13x32xi8>) -> tensor<16x32xi8> {
  %c0 = arith.constant 0 : i8
  %e = tensor.empty() : tensor<16x32xi8>
  %init = linalg.fill ins(%c0 : i8) outs(%e : tensor<16x32xi8>) -> tensor<16x32xi8>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<16x13xi8>, tensor<13x32xi8>) outs(%init : tensor<16x32xi8>) {
  ^bb0(%x: i8, %y: i8, %acc: i8):
    %p = arith.muli %x, %y : i8
    %s = arith.addi %acc, %p : i8
    linalg.yield %s : i8
  } -> tensor<16x32xi8>
  return %r : tensor<16x32xi8>
}

// u8 x i8 (as convert-einsum-to-linalg converts them to i16): the input
// that is zero-extended is vpdpbusd's unsigned operand, here the second.
// INT8-LABEL: func @int8_mixed_signs
// INT8: linalg.generic {{.*}}einsum.gemm
// INT8: ^bb0(%[[X:.*]]: i8, %[[Y:.*]]: i8, %{{.*}}: i32):
// INT8-DAG: arith.extsi %[[X]] : i8 to i32
// INT8-DAG: arith.extui %[[Y]] : i8 to i32
// INT8: arith.trunci %{{.*}} : i32 to i16
func.func @int8_mixed_signs(%a: tensor<16x12xi8>, %b: tensor<12x32xi8>) -> tensor<16x32xi16> {
  %c0 = arith.constant 0 : i16
  %ea = tensor.empty() : tensor<16x12xi16>
  %wa = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<16x12xi8>) outs(%ea : tensor<16x12xi16>) {
  ^bb0(%x: i8, %o: i16):
    %y = arith.extsi %x : i8 to i16
    linalg.yield %y : i16
  } -> tensor<16x12xi16>
  %eb = tensor.empty() : tensor<12x32xi16>
  %wb = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<12x32xi8>) outs(%eb : tensor<12x32xi16>) {
  ^bb0(%x: i8, %o: i16):
    %y = arith.extui %x : i8 to i16
    linalg.yield %y : i16
  } -> tensor<12x32xi16>
  %e = tensor.empty() : tensor<16x32xi16>
  %init = linalg.fill ins(%c0 : i16) outs(%e : tensor<16x32xi16>) -> tensor<16x32xi16>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%wa, %wb : tensor<16x12xi16>, tensor<12x32xi16>) outs(%init : tensor<16x32xi16>) {
  ^bb0(%x: i16, %y: i16, %acc: i16):
    %p = arith.muli %x, %y : i16
    %s = arith.addi %acc, %p : i16
    linalg.yield %s : i16
  } -> tensor<16x32xi16>
  return %r : tensor<16x32xi16>
}

// A small product of few columns (attention scores at s = 12, d = 64: up to
// 2 x MR rows and 3/4 of a 16-column tile) is left to the direct kernel:
// packing, its padding and the copy back cost more than the product. With
// 13 columns the padding is small enough and the transposed right input
// is packed; so it is with 18 (a 32-column tile, but more than one
// register of columns, which the direct kernel would run as 16 + 2).
// CHECK-LABEL: func @small_few_columns
// CHECK-NOT: einsum.gemm
// CHECK-LABEL: func @small_thirteen_columns
// CHECK: einsum.gemm
// CHECK-LABEL: func @small_eighteen_columns
// CHECK: einsum.gemm
func.func @small_few_columns(%a: tensor<12x64xf32>, %b: tensor<12x64xf32>) -> tensor<12x12xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<12x12xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<12x12xf32>) -> tensor<12x12xf32>
  %r = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<12x64xf32>, tensor<12x64xf32>) outs(%init : tensor<12x12xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<12x12xf32>
  return %r : tensor<12x12xf32>
}

func.func @small_thirteen_columns(%a: tensor<16x64xf32>, %b: tensor<13x64xf32>) -> tensor<16x13xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<16x13xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<16x13xf32>) -> tensor<16x13xf32>
  %r = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<16x64xf32>, tensor<13x64xf32>) outs(%init : tensor<16x13xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x13xf32>
  return %r : tensor<16x13xf32>
}

func.func @small_eighteen_columns(%a: tensor<16x64xf32>, %b: tensor<18x64xf32>) -> tensor<16x18xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<16x18xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<16x18xf32>) -> tensor<16x18xf32>
  %r = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<16x64xf32>, tensor<18x64xf32>) outs(%init : tensor<16x18xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x18xf32>
  return %r : tensor<16x18xf32>
}

// Attention's queries `[b, q, h, d]` have the heads between their rows
// and K: they are read in place too, viewed as [b, q panels, MR, h, d];
// only the keys are packed.
// CHECK-LABEL: func @queries
// CHECK: %[[Q:.*]] = tensor.expand_shape %arg0 {{\[\[}}0], [1, 2], [3], [4]] output_shape [2, 2, 8, 3, 13]
// CHECK-NOT: linalg.transpose ins(%[[Q]] :
// CHECK: linalg.generic {{.*}} ins(%[[Q]], %{{.*}} : tensor<2x2x8x3x13xf32>, {{.*}}) {{.*}}einsum.gemm
#bqhd = affine_map<(b, h, q, t, d) -> (b, q, h, d)>
#bthd = affine_map<(b, h, q, t, d) -> (b, t, h, d)>
#bhqt = affine_map<(b, h, q, t, d) -> (b, h, q, t)>
func.func @queries(%q: tensor<2x16x3x13xf32>, %k: tensor<2x64x3x13xf32>) -> tensor<2x3x16x64xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<2x3x16x64xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<2x3x16x64xf32>) -> tensor<2x3x16x64xf32>
  %r = linalg.generic {indexing_maps = [#bqhd, #bthd, #bhqt], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<2x16x3x13xf32>, tensor<2x64x3x13xf32>) outs(%init : tensor<2x3x16x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x3x16x64xf32>
  return %r : tensor<2x3x16x64xf32>
}

// A few rows against a right input `[N, K]` beyond the caches, both inputs
// contiguous along K, stay for the direct kernel's dot products, which
// read the right input in place: 4 rows (half a register tile) against 75
// KiB, beyond a 64 KiB L2; a register tile of 8 rows against 300 KiB,
// beyond the caches, in slices of 50 KiB that fit the L2. The same 8 rows
// against 100 KiB in all, within the caches, are packed.
// CACHES-LABEL: func @few_rows_nk
// CACHES-NOT: linalg.transpose
// CACHES-LABEL: func @queries_streamed
// CACHES-NOT: linalg.transpose
// CACHES-LABEL: func @queries_cached
// CACHES: linalg.transpose
// CACHES: einsum.gemm
func.func @few_rows_nk(%a: tensor<4x64xf32>, %b: tensor<300x64xf32>) -> tensor<4x300xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<4x300xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<4x300xf32>) -> tensor<4x300xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, k, j) -> (i, j)>, affine_map<(i, k, j) -> (k, j)>, affine_map<(i, k, j) -> (i, k)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %b : tensor<4x64xf32>, tensor<300x64xf32>) outs(%init : tensor<4x300xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x300xf32>
  return %r : tensor<4x300xf32>
}
func.func @queries_streamed(%q: tensor<6x8x64xf32>, %k: tensor<6x200x64xf32>) -> tensor<6x8x200xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<6x8x200xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<6x8x200xf32>) -> tensor<6x8x200xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(b, i, k, j) -> (b, i, j)>, affine_map<(b, i, k, j) -> (b, k, j)>, affine_map<(b, i, k, j) -> (b, i, k)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<6x8x64xf32>, tensor<6x200x64xf32>) outs(%init : tensor<6x8x200xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<6x8x200xf32>
  return %r : tensor<6x8x200xf32>
}
func.func @queries_cached(%q: tensor<2x8x64xf32>, %k: tensor<2x200x64xf32>) -> tensor<2x8x200xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<2x8x200xf32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<2x8x200xf32>) -> tensor<2x8x200xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(b, i, k, j) -> (b, i, j)>, affine_map<(b, i, k, j) -> (b, k, j)>, affine_map<(b, i, k, j) -> (b, i, k)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<2x8x64xf32>, tensor<2x200x64xf32>) outs(%init : tensor<2x8x200xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x8x200xf32>
  return %r : tensor<2x8x200xf32>
}
