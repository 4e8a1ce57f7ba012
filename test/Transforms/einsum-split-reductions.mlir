// RUN: einsum-opt %s --pass-pipeline='builtin.module(func.func(einsum-split-reductions))' --split-input-file | FileCheck %s

// A sum along the contiguous dimension: blocks of 64 x 16 lanes = 1024
// elements, one partial sum per block and one for the 784 left over, then
// the 10 partial sums are summed into the original init.
// CHECK-DAG: #[[BLOCKED:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[ALL:.*]] = affine_map<(d0) -> (d0)>
// CHECK-DAG: #[[SCALAR:.*]] = affine_map<(d0) -> ()>
// CHECK-LABEL: func @sum
// CHECK-SAME: (%[[X:.*]]: tensor<10000xf32>)
// CHECK: %[[INIT:.*]] = linalg.fill
// CHECK: %[[MAIN:.*]] = tensor.extract_slice %[[X]][0] [9216] [1]
// CHECK: %[[BLOCKS:.*]] = tensor.expand_shape %[[MAIN]] {{\[\[}}0, 1]] output_shape [9, 1024]
// CHECK: %[[ZERO:.*]] = linalg.fill {{.*}} -> tensor<10xf32>
// CHECK: %[[ROWS:.*]] = tensor.extract_slice %[[ZERO]][0] [9] [1]
// CHECK: %[[PARTIAL:.*]] = linalg.generic {indexing_maps = [#[[BLOCKED]], #[[ROW]]], iterator_types = ["parallel", "reduction"]} ins(%[[BLOCKS]] : tensor<9x1024xf32>) outs(%[[ROWS]] : tensor<9xf32>)
// CHECK: %[[P1:.*]] = tensor.insert_slice %[[PARTIAL]] into %[[ZERO]][0] [9] [1]
// CHECK: %[[REST:.*]] = tensor.extract_slice %[[X]][9216] [784] [1]
// CHECK: %[[LAST:.*]] = tensor.extract_slice %[[P1]][9] [1] [1] : tensor<10xf32> to tensor<f32>
// CHECK: %[[TAIL:.*]] = linalg.generic {{.*}} ins(%[[REST]] : tensor<784xf32>) outs(%[[LAST]] : tensor<f32>)
// CHECK: %[[P2:.*]] = tensor.insert_slice %[[TAIL]] into %[[P1]][9] [1] [1]
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[ALL]], #[[SCALAR]]], iterator_types = ["reduction"]} ins(%[[P2]] : tensor<10xf32>) outs(%[[INIT]] : tensor<f32>)
// CHECK: arith.addf
// CHECK: return %[[SUM]]
func.func @sum(%x: tensor<10000xf32>) -> tensor<f32> {
  %cst = arith.constant 0.000000e+00 : f32
  %e = tensor.empty() : tensor<f32>
  %init = linalg.fill ins(%cst : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%x : tensor<10000xf32>) outs(%init : tensor<f32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  return %r : tensor<f32>
}

// -----

// Column sums: the reduction is not contiguous, so each accumulator adds
// one term per row; blocks of 64 rows (1000 = 15 x 64 + 40), the block
// loop outermost.
// CHECK-DAG: #[[IN:.*]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func @columns
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2]] output_shape [15, 64, 3] : tensor<960x3xf32> into tensor<15x64x3xf32>
// CHECK: linalg.fill {{.*}} -> tensor<16x3xf32>
// CHECK: linalg.generic {indexing_maps = [#[[IN]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: tensor.extract_slice %{{.*}}[960, 0] [40, 3] [1, 1]
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<16x3xf32>) outs(%{{.*}} : tensor<3xf32>)
func.func @columns(%x: tensor<1000x3xf32>, %init: tensor<3xf32>) -> tensor<3xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<1000x3xf32>) outs(%init : tensor<3xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<3xf32>
  return %r : tensor<3xf32>
}

// -----

// Two adjacent reductions are collapsed into one, then blocked.
// CHECK-LABEL: func @collapse
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1]] : tensor<127x999xf32> into tensor<126873xf32>
// CHECK: tensor.expand_shape %{{.*}} output_shape [123, 1024]
func.func @collapse(%x: tensor<127x999xf32>, %init: tensor<f32>) -> tensor<f32> {
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>], iterator_types = ["reduction", "reduction"]} ins(%x : tensor<127x999xf32>) outs(%init : tensor<f32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  return %r : tensor<f32>
}

// -----

// A full reduction of 10^7 elements: 9765 blocks and a remainder, and the
// 9766 block sums, which a full reduction would add one by one, once more
// (9 blocks of 1024 and a remainder); the 10 sums of those are left alone.
// CHECK-LABEL: func @two_levels
// CHECK: tensor.expand_shape %{{.*}} output_shape [9765, 1024]
// CHECK: tensor.expand_shape %{{.*}} output_shape [9, 1024]
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<10xf32>) outs(%{{.*}} : tensor<f32>)
// CHECK-NOT: tensor.expand_shape
func.func @two_levels(%x: tensor<10000000xf32>, %init: tensor<f32>) -> tensor<f32> {
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%x : tensor<10000000xf32>) outs(%init : tensor<f32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  return %r : tensor<f32>
}

// -----

// Left alone: short row sums (4096 / 16 lanes = 256 terms per accumulator),
// an integer sum (exact in any order), a diagonal, and a broadcast operand
// beside two reductions.
// CHECK-LABEL: func @untouched
// CHECK-NOT: tensor.expand_shape
// CHECK-NOT: tensor.collapse_shape
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: linalg.generic
func.func @untouched(%short: tensor<8x4096xf32>, %int: tensor<100000xi32>, %sq: tensor<2000x2000xf64>, %a: tensor<1x30011xf32>, %b: tensor<7x30011xf32>, %rows: tensor<8xf32>, %f: tensor<f32>, %i: tensor<i32>, %d: tensor<f64>) -> (tensor<8xf32>, tensor<i32>, tensor<f64>, tensor<f32>) {
  %0 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%short : tensor<8x4096xf32>) outs(%rows : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%int : tensor<100000xi32>) outs(%i : tensor<i32>) {
  ^bb0(%in: i32, %out: i32):
    %s = arith.addi %out, %in : i32
    linalg.yield %s : i32
  } -> tensor<i32>
  %2 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0, d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]} ins(%sq : tensor<2000x2000xf64>) outs(%d : tensor<f64>) {
  ^bb0(%in: f64, %out: f64):
    %s = arith.addf %out, %in : f64
    linalg.yield %s : f64
  } -> tensor<f64>
  %3 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>], iterator_types = ["reduction", "reduction"]} ins(%a, %b : tensor<1x30011xf32>, tensor<7x30011xf32>) outs(%f : tensor<f32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %out, %p : f32
    linalg.yield %s : f32
  } -> tensor<f32>
  return %0, %1, %2, %3 : tensor<8xf32>, tensor<i32>, tensor<f64>, tensor<f32>
}
