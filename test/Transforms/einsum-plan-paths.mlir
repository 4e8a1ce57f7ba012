// RUN: einsum-opt %s --split-input-file --einsum-plan-paths | FileCheck %s
// RUN: einsum-opt %s --split-input-file --einsum-plan-paths=strategy=greedy | FileCheck %s --check-prefix=GREEDY
// RUN: einsum-opt %s --split-input-file --einsum-plan-paths=strategy=dp | FileCheck %s --check-prefix=DP
// RUN: not einsum-opt %s --split-input-file --einsum-plan-paths="strategy=optimal memory-limit=100" 2>/dev/null | FileCheck %s --check-prefix=CAPOK
// RUN: not einsum-opt %s --split-input-file --einsum-plan-paths="strategy=optimal memory-limit=100" 2>&1 >/dev/null | FileCheck %s --check-prefix=CAP
// RUN: not einsum-opt %s --einsum-plan-paths=strategy=best 2>&1 | FileCheck %s --check-prefix=BAD

// Paths worked by hand. A (1000x10) B (10x1000) v (1000): B v first costs
// 2*10*1000 + 2*1000*10 flops, A B first 2*1000*10*1000 + 2*1000*1000.
// CHECK-LABEL: func @chain
// CHECK: einsum.contract "ij,jk,k->i" {{.*}} {path = [array<i64: 1, 2>, array<i64: 0, 3>]}
// GREEDY-LABEL: func @chain
// GREEDY: {path = [array<i64: 1, 2>, array<i64: 0, 3>]}
// DP-LABEL: func @chain
// DP: {path = [array<i64: 1, 2>, array<i64: 0, 3>]}
// Under the CAP run's 100 bytes (25 f32), B v (10 elements) still fits.
// CAPOK-LABEL: func @chain
// CAPOK: {path = [array<i64: 1, 2>, array<i64: 0, 3>]}
func.func @chain(%a: tensor<1000x10xf32>, %b: tensor<10x1000xf32>, %v: tensor<1000xf32>) -> tensor<1000xf32> {
  %0 = einsum.contract "ij,jk,k->i" %a, %b, %v : (tensor<1000x10xf32>, tensor<10x1000xf32>, tensor<1000xf32>) -> tensor<1000xf32>
  return %0 : tensor<1000xf32>
}

// -----

// A path already there stays, even a worse one.
// CHECK-LABEL: func @kept
// CHECK: {path = [array<i64: 0, 1>, array<i64: 3, 2>]}
func.func @kept(%a: tensor<1000x10xf32>, %b: tensor<10x1000xf32>, %v: tensor<1000xf32>) -> tensor<1000xf32> {
  %0 = einsum.contract "ij,jk,k->i" %a, %b, %v {path = [array<i64: 0, 1>, array<i64: 3, 2>]} : (tensor<1000x10xf32>, tensor<10x1000xf32>, tensor<1000xf32>) -> tensor<1000xf32>
  return %0 : tensor<1000xf32>
}

// -----

// Two operands need no path.
// CHECK-LABEL: func @pair
// CHECK-NOT: path
func.func @pair(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// ab,bc,cd->ad with a=d=10, b=c=100. Every path has one intermediate:
// (A B) or (B C) or (C D) 10x100 = 1000 elements, 4000 bytes; (A D) is the
// 10x100x100x10 outer product. A cap of 100 bytes leaves none.
// CHECK-LABEL: func @capped
// CHECK: {path = [array<i64: 0, 1>, array<i64: 2, 3>]}
// CAP: error: 'einsum.contract' op no contraction path of 'ab,bc,cd->ad' keeps every intermediate within the memory limit of 100 bytes; the smallest limit that works is 3.9 KiB (4000 bytes), with the path ((0,1),2)
func.func @capped(%a: tensor<10x100xf32>, %b: tensor<100x100xf32>, %c: tensor<100x10xf32>) -> tensor<10x10xf32> {
  %0 = einsum.contract "ab,bc,cd->ad" %a, %b, %c : (tensor<10x100xf32>, tensor<100x100xf32>, tensor<100x10xf32>) -> tensor<10x10xf32>
  return %0 : tensor<10x10xf32>
}

// BAD: error: unknown path strategy 'best' (auto, greedy, optimal, dp)
