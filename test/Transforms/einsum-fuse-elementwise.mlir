// RUN: einsum-opt %s --pass-pipeline='builtin.module(func.func(einsum-fuse-elementwise))' | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#bcast = affine_map<(d0, d1) -> (d0, 0)>
#lhs = affine_map<(d0, d1, d2) -> (d0, d2)>
#rhs = affine_map<(d0, d1, d2) -> (d2, d1)>
#out = affine_map<(d0, d1, d2) -> (d0, d1)>

// A scale read by a max and by a subtraction is computed inside both and
// disappears; so does the subtraction, inside the exp that reads it.
// CHECK-LABEL: func.func @softmax_head
// CHECK-COUNT-2: linalg.generic
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @softmax_head(%s: tensor<5x7xf32>, %m: tensor<5x1xf32>) -> (tensor<5xf32>, tensor<5x7xf32>) {
  %c = arith.constant 0.125 : f32
  %init = tensor.empty() : tensor<5x7xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s : tensor<5x7xf32>) outs(%init : tensor<5x7xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.mulf %x, %c : f32
    linalg.yield %y : f32
  } -> tensor<5x7xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %rinit = tensor.empty() : tensor<5xf32>
  %fill = linalg.fill ins(%ninf : f32) outs(%rinit : tensor<5xf32>) -> tensor<5xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%scaled : tensor<5x7xf32>) outs(%fill : tensor<5xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %y = arith.maximumf %x, %acc : f32
    linalg.yield %y : f32
  } -> tensor<5xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #bcast, #id], iterator_types = ["parallel", "parallel"]}
      ins(%scaled, %m : tensor<5x7xf32>, tensor<5x1xf32>) outs(%init : tensor<5x7xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %d = arith.subf %x, %y : f32
    linalg.yield %d : f32
  } -> tensor<5x7xf32>
  %e = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted : tensor<5x7xf32>) outs(%init : tensor<5x7xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = math.exp %x : f32
    linalg.yield %y : f32
  } -> tensor<5x7xf32>
  return %max, %e : tensor<5xf32>, tensor<5x7xf32>
}

// A bias add read by a contraction stays a pass of its own: the GEMM
// kernels need the contraction's plain multiply-add body.
// CHECK-LABEL: func.func @bias_before_matmul
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel"]
// CHECK: arith.addf
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: arith.addf
// CHECK-NEXT: linalg.yield
func.func @bias_before_matmul(%a: tensor<5x7xf32>, %b: tensor<5x7xf32>, %w: tensor<7x3xf32>, %acc: tensor<5x3xf32>) -> tensor<5x3xf32> {
  %init = tensor.empty() : tensor<5x7xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<5x7xf32>, tensor<5x7xf32>) outs(%init : tensor<5x7xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<5x7xf32>
  %r = linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%sum, %w : tensor<5x7xf32>, tensor<7x3xf32>) outs(%acc : tensor<5x3xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<5x3xf32>
  return %r : tensor<5x3xf32>
}
