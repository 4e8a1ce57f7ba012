// RUN: einsum-opt %s --split-input-file --einsum-fuse-rows=l1-bytes=240 | FileCheck %s
// RUN: einsum-opt %s --split-input-file --einsum-fuse-rows="l1-bytes=240 parallel-work=1" | FileCheck %s --check-prefix=THREADS
// RUN: einsum-opt %s --split-input-file --einsum-fuse-rows="l1-bytes=240 parallel-work=15000" | FileCheck %s --check-prefix=SHARE
// RUN: einsum-opt %s --split-input-file --einsum-fuse-rows="l1-bytes=240 parallel-work=15616" | FileCheck %s --check-prefix=NOSHARE
// RUN: einsum-opt %s --split-input-file --einsum-fuse-rows="l1-bytes=240 l2-bytes=4096 parallel-work=1" | FileCheck %s --check-prefix=BLOCKS

// Softmax as eager and traced kernels emit it: the rows' maxima, the sums
// of exp(x - max), the quotient, each reading the keepdims reductions
// through a unit expand_shape. Rows of 10 f32 are 40 bytes, half the L1 of
// 240 bytes holds 3 of them: the quotient is tiled by 1 x 3 rows and both
// reductions are computed in each tile, the max once. In each tile
// exp(x - max) is written once into the result's tile, summed from there
// and multiplied in place by 1 / sum, one division per row: one exp per
// element, not two. Only the reductions' fills stay whole.
// CHECK-LABEL: func @softmax
// CHECK-NOT: tensor.expand_shape
// CHECK: scf.for %[[I:.*]] = %c0 to %c2 step %c1
// CHECK: scf.for %[[J:.*]] = %c0 to %c6 step %c3
// CHECK: %[[X:.*]] = tensor.extract_slice %arg0[%[[I]], %[[J]], 0] [1, 3, 10]
// CHECK: %[[M:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]] : tensor<1x3x10xf32>) outs(%{{.*}} : tensor<1x3xf32>)
// CHECK: arith.maximumf
// CHECK: %[[OUT:.*]] = tensor.extract_slice %arg{{.*}} [1, 3, 10]
// CHECK: %[[E:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[X]], %[[M]] : tensor<1x3x10xf32>, tensor<1x3xf32>) outs(%[[OUT]] : tensor<1x3x10xf32>)
// CHECK: math.exp
// CHECK-NOT: arith.divf
// CHECK: %[[S:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[E]] : tensor<1x3x10xf32>)
// CHECK-NOT: math.exp
// CHECK: %[[R:.*]] = linalg.generic {{.*}} outs(%[[S]] : tensor<1x3xf32>)
// CHECK-NEXT: ^bb0(%[[SUM:.*]]: f32)
// CHECK-NEXT: arith.divf %{{.*}}, %[[SUM]]
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[R]] : tensor<1x3xf32>) outs(%[[E]] : tensor<1x3x10xf32>)
// CHECK-NOT: math.exp
// CHECK-NOT: arith.divf
// CHECK: arith.mulf
// CHECK: tensor.insert_slice %[[P]]
// CHECK-NOT: linalg.generic
// THREADS-LABEL: func @softmax
// THREADS: scf.forall (%{{.*}}, %{{.*}}) = (0, 0) to (2, 6) step (1, 3)
// Its rows call exp: threads from a 128th of parallel-work (120
// iterations: from 15000, not from 15616).
// SHARE-LABEL: func @softmax
// SHARE: scf.forall
// NOSHARE-LABEL: func @softmax
// NOSHARE-NOT: scf.forall
// NOSHARE: return
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d0, d1)>
#keep = affine_map<(d0, d1, d2) -> (d0, d1, 0)>
func.func @softmax(%x: tensor<2x6x10xf32>) -> tensor<2x6x10xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<2x6xf32>
  %f0 = linalg.fill ins(%ninf : f32) outs(%e0 : tensor<2x6xf32>) -> tensor<2x6xf32>
  %m = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : tensor<2x6x10xf32>) outs(%f0 : tensor<2x6xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<2x6xf32>
  %mk = tensor.expand_shape %m [[0], [1, 2]] output_shape [2, 6, 1] : tensor<2x6xf32> into tensor<2x6x1xf32>
  %e1 = tensor.empty() : tensor<2x6xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x6xf32>) -> tensor<2x6xf32>
  %s = linalg.generic {indexing_maps = [#id, #keep, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %mk : tensor<2x6x10xf32>, tensor<2x6x1xf32>) outs(%f1 : tensor<2x6xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %r = arith.addf %acc, %e : f32
    linalg.yield %r : f32
  } -> tensor<2x6xf32>
  %sk = tensor.expand_shape %s [[0], [1, 2]] output_shape [2, 6, 1] : tensor<2x6xf32> into tensor<2x6x1xf32>
  %e2 = tensor.empty() : tensor<2x6x10xf32>
  %p = linalg.generic {indexing_maps = [#id, #keep, #keep, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x, %mk, %sk : tensor<2x6x10xf32>, tensor<2x6x1xf32>, tensor<2x6x1xf32>) outs(%e2 : tensor<2x6x10xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %q = arith.divf %e, %c : f32
    linalg.yield %q : f32
  } -> tensor<2x6x10xf32>
  return %p : tensor<2x6x10xf32>
}

// -----

// The rows' maxima are also a result: fusing them would compute them
// twice, so nothing changes.
// CHECK-LABEL: func @max_also_returned
// CHECK-NOT: scf.for
// CHECK: return
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @max_also_returned(%x: tensor<6x10xf32>) -> (tensor<6x10xf32>, tensor<6xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  %e0 = tensor.empty() : tensor<6xf32>
  %f0 = linalg.fill ins(%ninf : f32) outs(%e0 : tensor<6xf32>) -> tensor<6xf32>
  %m = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<6x10xf32>) outs(%f0 : tensor<6xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<6xf32>
  %e2 = tensor.empty() : tensor<6x10xf32>
  %p = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %m : tensor<6x10xf32>, tensor<6xf32>) outs(%e2 : tensor<6x10xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<6x10xf32>
  return %p, %m : tensor<6x10xf32>, tensor<6xf32>
}

// -----

// Integer products scaled by their rows' sums (an einsum step,
// `Xaa,bX,Xa,->Xb`, once crashed here): tiled by rows with the sums in
// each tile; there is no quotient, so no exp or division is rewritten.
// CHECK-LABEL: func @scaled_by_row_sums
// CHECK: scf.for
// CHECK: arith.addi
// CHECK: arith.muli
// CHECK-NOT: divf
// CHECK: return
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @scaled_by_row_sums(%x: tensor<6x10xi64>) -> tensor<6x10xi64> {
  %zero = arith.constant 0 : i64
  %e0 = tensor.empty() : tensor<6xi64>
  %f0 = linalg.fill ins(%zero : i64) outs(%e0 : tensor<6xi64>) -> tensor<6xi64>
  %s = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<6x10xi64>) outs(%f0 : tensor<6xi64>) {
  ^bb0(%a: i64, %acc: i64):
    %r = arith.addi %acc, %a : i64
    linalg.yield %r : i64
  } -> tensor<6xi64>
  %e2 = tensor.empty() : tensor<6x10xi64>
  %p = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %s : tensor<6x10xi64>, tensor<6xi64>) outs(%e2 : tensor<6x10xi64>) {
  ^bb0(%a: i64, %b: i64, %o: i64):
    %m = arith.muli %a, %b : i64
    linalg.yield %m : i64
  } -> tensor<6x10xi64>
  return %p : tensor<6x10xi64>
}

// -----

// Sums down the columns (reduced along loop 0, not along the row): every
// block of rows would need all of them, so nothing changes.
// CHECK-LABEL: func @column_sums
// CHECK-NOT: scf.for
// CHECK: return
#id = affine_map<(d0, d1) -> (d0, d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @column_sums(%x: tensor<6x10xf32>) -> tensor<6x10xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<10xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<10xf32>) -> tensor<10xf32>
  %c = linalg.generic {indexing_maps = [#tr, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<6x10xf32>) outs(%f0 : tensor<10xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<10xf32>
  %e2 = tensor.empty() : tensor<6x10xf32>
  %p = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %c : tensor<6x10xf32>, tensor<10xf32>) outs(%e2 : tensor<6x10xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.divf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<6x10xf32>
  return %p : tensor<6x10xf32>
}

// -----

// Attention's core as a traced function emits it: the scores (b, h, q, t)
// of q and k ([b, q, h, d], [b, t, h, d]), their softmax, and the weighted
// sum of v that reads the probabilities along their rows. The scores and
// the weighted sum are contractions: with blocks of at least 8 rows (here
// all 16, or 8 where the L2 holds 8 rows 8 times), the weighted sum is
// tiled into blocks of rows of one head, and the scores, the reductions and
// the quotient are computed in each block: the scores and probabilities
// exist a block at a time, in allocations of a block. With threads, the
// blocks are first split into one chunk per thread (an scf.forall of 2,
// along the batch), whose blocks are sequential loops. In each block the
// weighted sum reads exp(s - max), not the quotient, and its result is
// multiplied by 1 / the row's sum (one division per row, not 16), which is
// summed from that block of exponentials: one exp per score, not two.
// CHECK-LABEL: func @attention
// CHECK-NOT: tensor<2x2x16x16xf32>
// CHECK: scf.for %[[B:.*]] = %c0 to %c2 step %c1
// CHECK: scf.for %[[H:.*]] = %c0 to %c2 step %c1
// CHECK: bufferization.alloc_tensor() : tensor<1x1x16x16xf32>
// CHECK: linalg.fill
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x16x1x8xf32>, tensor<1x16x1x8xf32>) outs(%{{.*}} : tensor<1x1x16x16xf32>)
// CHECK: %[[M:.*]] = linalg.generic {{.*}} ins(%[[S]] : tensor<1x1x16x16xf32>)
// CHECK: arith.maximumf
// CHECK: %[[E:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[M]] : tensor<1x1x16x16xf32>, tensor<1x1x16xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.subf
// CHECK-NEXT: math.exp
// CHECK-NEXT: linalg.yield
// CHECK: %[[L:.*]] = linalg.generic {{.*}} ins(%[[E]] : tensor<1x1x16x16xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.addf
// CHECK-NEXT: linalg.yield
// CHECK: %[[O:.*]] = linalg.generic {{.*}} ins(%[[E]], %{{.*}} : tensor<1x1x16x16xf32>, tensor<1x16x1x8xf32>) outs(%{{.*}} : tensor<1x16x1x8xf32>)
// CHECK: %[[R:.*]] = linalg.generic {{.*}} outs(%[[L]] : tensor<1x1x16xf32>)
// CHECK-NEXT: ^bb0(%[[SUM:.*]]: f32)
// CHECK-NEXT: arith.divf %{{.*}}, %[[SUM]]
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[R]] : tensor<1x1x16xf32>) outs(%[[O]] : tensor<1x16x1x8xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f32, %[[OUT:.*]]: f32)
// CHECK-NEXT: arith.mulf %[[OUT]], %[[IN]]
// CHECK: tensor.insert_slice
// CHECK-NOT: linalg.generic
// CHECK: return
// THREADS-LABEL: func @attention
// THREADS-NOT: tensor<2x2x16x16xf32>
// THREADS: scf.forall (%{{.*}}) in (2)
// THREADS: scf.for
// THREADS: scf.for
// THREADS: bufferization.alloc_tensor() : tensor<1x1x16x16xf32>
// THREADS: tensor.parallel_insert_slice
// BLOCKS-LABEL: func @attention
// BLOCKS: scf.forall (%{{.*}}) in (2)
// BLOCKS: scf.for %{{.*}} = %c0 to %c16 step %c8
// BLOCKS: bufferization.alloc_tensor() : tensor<1x1x8x16xf32>
// BLOCKS: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x8x1x8xf32>)
#q = affine_map<(b, h, q, t, d) -> (b, q, h, d)>
#k = affine_map<(b, h, q, t, d) -> (b, t, h, d)>
#s = affine_map<(b, h, q, t, d) -> (b, h, q, t)>
#id = affine_map<(b, h, q, t) -> (b, h, q, t)>
#row = affine_map<(b, h, q, t) -> (b, h, q)>
#keep = affine_map<(b, h, q, t) -> (b, h, q, 0)>
#p = affine_map<(b, q, h, d, t) -> (b, h, q, t)>
#v = affine_map<(b, q, h, d, t) -> (b, t, h, d)>
#o = affine_map<(b, q, h, d, t) -> (b, q, h, d)>
func.func @attention(%q: tensor<2x16x2x8xf32>, %k: tensor<2x16x2x8xf32>, %v: tensor<2x16x2x8xf32>) -> tensor<2x16x2x8xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %a0 = bufferization.alloc_tensor() : tensor<2x2x16x16xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%a0 : tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32>
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<2x16x2x8xf32>, tensor<2x16x2x8xf32>) outs(%f0 : tensor<2x2x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x2x16x16xf32>
  %a1 = bufferization.alloc_tensor() : tensor<2x2x16xf32>
  %f1 = linalg.fill ins(%ninf : f32) outs(%a1 : tensor<2x2x16xf32>) -> tensor<2x2x16xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s : tensor<2x2x16x16xf32>) outs(%f1 : tensor<2x2x16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<2x2x16xf32>
  %maxk = tensor.expand_shape %max [[0], [1], [2, 3]] output_shape [2, 2, 16, 1] : tensor<2x2x16xf32> into tensor<2x2x16x1xf32>
  %a2 = bufferization.alloc_tensor() : tensor<2x2x16xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%a2 : tensor<2x2x16xf32>) -> tensor<2x2x16xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s, %maxk : tensor<2x2x16x16xf32>, tensor<2x2x16x1xf32>) outs(%f2 : tensor<2x2x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %r = arith.addf %acc, %e : f32
    linalg.yield %r : f32
  } -> tensor<2x2x16xf32>
  %sumk = tensor.expand_shape %sum [[0], [1], [2, 3]] output_shape [2, 2, 16, 1] : tensor<2x2x16xf32> into tensor<2x2x16x1xf32>
  %a3 = bufferization.alloc_tensor() : tensor<2x2x16x16xf32>
  %prob = linalg.generic {indexing_maps = [#id, #keep, #keep, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %maxk, %sumk : tensor<2x2x16x16xf32>, tensor<2x2x16x1xf32>, tensor<2x2x16x1xf32>) outs(%a3 : tensor<2x2x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %r = arith.divf %e, %c : f32
    linalg.yield %r : f32
  } -> tensor<2x2x16x16xf32>
  %a4 = bufferization.alloc_tensor() : tensor<2x16x2x8xf32>
  %f4 = linalg.fill ins(%zero : f32) outs(%a4 : tensor<2x16x2x8xf32>) -> tensor<2x16x2x8xf32>
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%prob, %v : tensor<2x2x16x16xf32>, tensor<2x16x2x8xf32>) outs(%f4 : tensor<2x16x2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x16x2x8xf32>
  return %out : tensor<2x16x2x8xf32>
}

// -----

// The same, with the weighted sum added to %init rather than to zeros:
// init + sum_t (e_t / s) v_t is not (init + sum_t e_t v_t) / s, so the
// blocks keep the quotient (two exps, a division per score) and divide
// nothing after the weighted sum.
// CHECK-LABEL: func @attention_accumulates
// CHECK: scf.for
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[L:.*]] : tensor<1x1x16x16xf32>, tensor<1x1x16xf32>, tensor<1x1x16xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.subf
// CHECK-NEXT: math.exp
// CHECK-NEXT: arith.divf
// CHECK: arith.mulf
// CHECK-NOT: arith.divf
// CHECK: tensor.insert_slice
#q = affine_map<(b, h, q, t, d) -> (b, q, h, d)>
#k = affine_map<(b, h, q, t, d) -> (b, t, h, d)>
#s = affine_map<(b, h, q, t, d) -> (b, h, q, t)>
#id = affine_map<(b, h, q, t) -> (b, h, q, t)>
#row = affine_map<(b, h, q, t) -> (b, h, q)>
#keep = affine_map<(b, h, q, t) -> (b, h, q, 0)>
#p = affine_map<(b, q, h, d, t) -> (b, h, q, t)>
#v = affine_map<(b, q, h, d, t) -> (b, t, h, d)>
#o = affine_map<(b, q, h, d, t) -> (b, q, h, d)>
func.func @attention_accumulates(%q: tensor<2x16x2x8xf32>, %k: tensor<2x16x2x8xf32>, %v: tensor<2x16x2x8xf32>, %init: tensor<2x16x2x8xf32>) -> tensor<2x16x2x8xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %a0 = bufferization.alloc_tensor() : tensor<2x2x16x16xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%a0 : tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32>
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<2x16x2x8xf32>, tensor<2x16x2x8xf32>) outs(%f0 : tensor<2x2x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x2x16x16xf32>
  %a1 = bufferization.alloc_tensor() : tensor<2x2x16xf32>
  %f1 = linalg.fill ins(%ninf : f32) outs(%a1 : tensor<2x2x16xf32>) -> tensor<2x2x16xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s : tensor<2x2x16x16xf32>) outs(%f1 : tensor<2x2x16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<2x2x16xf32>
  %maxk = tensor.expand_shape %max [[0], [1], [2, 3]] output_shape [2, 2, 16, 1] : tensor<2x2x16xf32> into tensor<2x2x16x1xf32>
  %a2 = bufferization.alloc_tensor() : tensor<2x2x16xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%a2 : tensor<2x2x16xf32>) -> tensor<2x2x16xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s, %maxk : tensor<2x2x16x16xf32>, tensor<2x2x16x1xf32>) outs(%f2 : tensor<2x2x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %r = arith.addf %acc, %e : f32
    linalg.yield %r : f32
  } -> tensor<2x2x16xf32>
  %sumk = tensor.expand_shape %sum [[0], [1], [2, 3]] output_shape [2, 2, 16, 1] : tensor<2x2x16xf32> into tensor<2x2x16x1xf32>
  %a3 = bufferization.alloc_tensor() : tensor<2x2x16x16xf32>
  %prob = linalg.generic {indexing_maps = [#id, #keep, #keep, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %maxk, %sumk : tensor<2x2x16x16xf32>, tensor<2x2x16x1xf32>, tensor<2x2x16x1xf32>) outs(%a3 : tensor<2x2x16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %r = arith.divf %e, %c : f32
    linalg.yield %r : f32
  } -> tensor<2x2x16x16xf32>
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%prob, %v : tensor<2x2x16x16xf32>, tensor<2x16x2x8xf32>) outs(%init : tensor<2x16x2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x16x2x8xf32>
  return %out : tensor<2x16x2x8xf32>
}

// -----

// Attention with 11 query rows (a prime) of 16 keys. Under the L2 cap of
// 8 rows (l2-bytes=4096 over 8, rows of 64 bytes) no block of 8 or more rows divides
// 11: the rows' loop runs blocks of 8, and the last 3 rows are a block
// peeled off after it, with static shapes, where the weighted sum is also
// divided after it.
// BLOCKS-LABEL: func @attention_prime
// BLOCKS: scf.forall (%{{.*}}) in (2)
// BLOCKS: scf.for %[[H:.*]] = %c0 to %c2 step %c1
// BLOCKS: scf.for %{{.*}} = %c0 to %c8 step %c8
// BLOCKS: bufferization.alloc_tensor() : tensor<1x1x8x16xf32>
// BLOCKS: math.exp
// BLOCKS: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x8x1x8xf32>)
// BLOCKS: arith.divf
// BLOCKS: scf.for %{{.*}} = %c8 to %c11 step %c8
// BLOCKS-NOT: ?x
// BLOCKS: bufferization.alloc_tensor() : tensor<1x1x3x16xf32>
// BLOCKS: math.exp
// BLOCKS: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x3x1x8xf32>)
// BLOCKS: arith.divf
// BLOCKS: tensor.parallel_insert_slice
#q = affine_map<(b, h, q, t, d) -> (b, q, h, d)>
#k = affine_map<(b, h, q, t, d) -> (b, t, h, d)>
#s = affine_map<(b, h, q, t, d) -> (b, h, q, t)>
#id = affine_map<(b, h, q, t) -> (b, h, q, t)>
#row = affine_map<(b, h, q, t) -> (b, h, q)>
#keep = affine_map<(b, h, q, t) -> (b, h, q, 0)>
#p = affine_map<(b, q, h, d, t) -> (b, h, q, t)>
#v = affine_map<(b, q, h, d, t) -> (b, t, h, d)>
#o = affine_map<(b, q, h, d, t) -> (b, q, h, d)>
func.func @attention_prime(%q: tensor<2x11x2x8xf32>, %k: tensor<2x16x2x8xf32>, %v: tensor<2x16x2x8xf32>) -> tensor<2x11x2x8xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %a0 = bufferization.alloc_tensor() : tensor<2x2x11x16xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%a0 : tensor<2x2x11x16xf32>) -> tensor<2x2x11x16xf32>
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<2x11x2x8xf32>, tensor<2x16x2x8xf32>) outs(%f0 : tensor<2x2x11x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x2x11x16xf32>
  %a1 = bufferization.alloc_tensor() : tensor<2x2x11xf32>
  %f1 = linalg.fill ins(%ninf : f32) outs(%a1 : tensor<2x2x11xf32>) -> tensor<2x2x11xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s : tensor<2x2x11x16xf32>) outs(%f1 : tensor<2x2x11xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<2x2x11xf32>
  %maxk = tensor.expand_shape %max [[0], [1], [2, 3]] output_shape [2, 2, 11, 1] : tensor<2x2x11xf32> into tensor<2x2x11x1xf32>
  %a2 = bufferization.alloc_tensor() : tensor<2x2x11xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%a2 : tensor<2x2x11xf32>) -> tensor<2x2x11xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%s, %maxk : tensor<2x2x11x16xf32>, tensor<2x2x11x1xf32>) outs(%f2 : tensor<2x2x11xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %r = arith.addf %acc, %e : f32
    linalg.yield %r : f32
  } -> tensor<2x2x11xf32>
  %sumk = tensor.expand_shape %sum [[0], [1], [2, 3]] output_shape [2, 2, 11, 1] : tensor<2x2x11xf32> into tensor<2x2x11x1xf32>
  %a3 = bufferization.alloc_tensor() : tensor<2x2x11x16xf32>
  %prob = linalg.generic {indexing_maps = [#id, #keep, #keep, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s, %maxk, %sumk : tensor<2x2x11x16xf32>, tensor<2x2x11x1xf32>, tensor<2x2x11x1xf32>) outs(%a3 : tensor<2x2x11x16xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %e = math.exp %d : f32
    %r = arith.divf %e, %c : f32
    linalg.yield %r : f32
  } -> tensor<2x2x11x16xf32>
  %a4 = bufferization.alloc_tensor() : tensor<2x11x2x8xf32>
  %f4 = linalg.fill ins(%zero : f32) outs(%a4 : tensor<2x11x2x8xf32>) -> tensor<2x11x2x8xf32>
  %out = linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%prob, %v : tensor<2x2x11x16xf32>, tensor<2x16x2x8xf32>) outs(%f4 : tensor<2x11x2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<2x11x2x8xf32>
  return %out : tensor<2x11x2x8xf32>
}
