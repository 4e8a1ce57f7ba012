// RUN: einsum-opt %s --einsum-lower-reductions | FileCheck %s

// A max reduction along the inner dim becomes one vector.reduction per row
// and a max with the accumulator, both `nsz`: -0 and +0 count as equal, as
// in numpy's max, and LLVM then needs no instructions that order them.
// CHECK-LABEL: func @max_rows
// CHECK-SAME: (%[[X:.*]]: vector<2x16xf32>, %[[ACC:.*]]: vector<2xf32>)
// CHECK: %[[ROW:.*]] = vector.extract %[[X]][0] : vector<16xf32> from vector<2x16xf32>
// CHECK: %[[A:.*]] = vector.extract %[[ACC]][0] : f32 from vector<2xf32>
// CHECK: %[[R:.*]] = vector.reduction <maximumf>, %[[ROW]] fastmath<nsz> : vector<16xf32> into f32
// CHECK: arith.maximumf %[[R]], %[[A]] fastmath<nsz> : f32
// CHECK: vector.reduction <maximumf>, %{{.*}} fastmath<nsz> : vector<16xf32> into f32
// CHECK: arith.maximumf %{{.*}}, %{{.*}} fastmath<nsz> : f32
// CHECK-NOT: vector.multi_reduction
func.func @max_rows(%x: vector<2x16xf32>, %acc: vector<2xf32>) -> vector<2xf32> {
  %0 = vector.multi_reduction <maximumf>, %x, %acc [1] : vector<2x16xf32> to vector<2xf32>
  return %0 : vector<2xf32>
}

// Min takes the same flag, down to one-element rows, whose reduction is
// an elementwise min.
// CHECK-LABEL: func @min_one
// CHECK: arith.minimumf %{{.*}}, %{{.*}} fastmath<nsz> : vector<1xf32>
func.func @min_one(%x: vector<1x1xf32>, %acc: vector<1xf32>) -> vector<1xf32> {
  %0 = vector.multi_reduction <minimumf>, %x, %acc [1] : vector<1x1xf32> to vector<1xf32>
  return %0 : vector<1xf32>
}

// A sum keeps its accumulator operand and no flags; a max that is not a
// reduction (relu's) keeps its own flags.
// CHECK-LABEL: func @sum_and_relu
// CHECK: vector.reduction <add>, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} : vector<16xf32> into f32
// CHECK-NOT: fastmath
// CHECK: arith.maximumf %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} : vector<16xf32>
// CHECK-NOT: fastmath
// CHECK: return
func.func @sum_and_relu(%x: vector<1x16xf32>, %acc: vector<1xf32>, %y: vector<16xf32>) -> (vector<1xf32>, vector<16xf32>) {
  %0 = vector.multi_reduction <add>, %x, %acc [1] : vector<1x16xf32> to vector<1xf32>
  %zero = arith.constant dense<0.0> : vector<16xf32>
  %1 = arith.maximumf %y, %zero : vector<16xf32>
  return %0, %1 : vector<1xf32>, vector<16xf32>
}

// A reduction over a unit dim (a column sum's row of 1) is an elementwise
// combine of whole vectors, not a reduction per lane.
// CHECK-LABEL: func @unit_dim
// CHECK-SAME: (%[[X:.*]]: vector<1x1x64xf32>, %[[ACC:.*]]: vector<1x64xf32>)
// CHECK: %[[V:.*]] = vector.shape_cast %[[X]] : vector<1x1x64xf32> to vector<1x64xf32>
// CHECK: arith.addf %[[ACC]], %[[V]] : vector<1x64xf32>
// CHECK-NOT: vector.extract
// CHECK-NOT: vector.reduction
// CHECK: return
func.func @unit_dim(%x: vector<1x1x64xf32>, %acc: vector<1x64xf32>) -> vector<1x64xf32> {
  %0 = vector.multi_reduction <add>, %x, %acc [1] : vector<1x1x64xf32> to vector<1x64xf32>
  return %0 : vector<1x64xf32>
}

// A contraction whose summed dims are all 1 (`ijkl,jl->ik`'s partial sums
// in SIMD lanes: i, j, k and the register step of l are 1) is a multiply
// and an add of whole vectors (one FMA), not 64 reductions of one lane
// each.
// CHECK-LABEL: func @unit_contraction
// CHECK-SAME: (%[[A:.*]]: vector<1x1x1x1x64xf32>, %[[B:.*]]: vector<1x1x64xf32>, %[[ACC:.*]]: vector<1x1x64xf32>)
// CHECK: %[[ROW:.*]] = vector.extract %[[A]][0, 0] : vector<1x1x64xf32> from vector<1x1x1x1x64xf32>
// CHECK: vector.fma %[[ROW]], %[[B]], %[[ACC]] : vector<1x1x64xf32>
// CHECK-NOT: vector.contract
// CHECK-NOT: vector.reduction
// CHECK: return
#lanes_a = affine_map<(i, j, k, r, l) -> (i, j, k, r, l)>
#lanes_b = affine_map<(i, j, k, r, l) -> (j, r, l)>
#lanes_c = affine_map<(i, j, k, r, l) -> (i, k, l)>
func.func @unit_contraction(%a: vector<1x1x1x1x64xf32>, %b: vector<1x1x64xf32>, %acc: vector<1x1x64xf32>) -> vector<1x1x64xf32> {
  %0 = vector.contract {indexing_maps = [#lanes_a, #lanes_b, #lanes_c], iterator_types = ["parallel", "reduction", "parallel", "reduction", "parallel"], kind = #vector.kind<add>} %a, %b, %acc : vector<1x1x1x1x64xf32>, vector<1x1x64xf32> into vector<1x1x64xf32>
  return %0 : vector<1x1x64xf32>
}

// Rank-2 contractions and the packed GEMM's register tile (rows from one
// operand, columns from the other: outer products) stay for the LLVM
// stage, and so does one that sums a dim longer than 1.
// CHECK-LABEL: func @matmul_contractions
// CHECK-COUNT-3: vector.contract
// CHECK: return
#mm_a = affine_map<(m, n, k) -> (m, k)>
#mm_b = affine_map<(m, n, k) -> (k, n)>
#mm_c = affine_map<(m, n, k) -> (m, n)>
#rows_a = affine_map<(i, k, l) -> (i, k, l)>
#rows_b = affine_map<(i, k, l) -> (k, l)>
#rows_c = affine_map<(i, k, l) -> (i, l)>
#tile_a = affine_map<(mp, np, k, m, n) -> (mp, m, k)>
#tile_b = affine_map<(mp, np, k, m, n) -> (np, k, n)>
#tile_c = affine_map<(mp, np, k, m, n) -> (mp, m, np, n)>
func.func @matmul_contractions(%a: vector<8x1xf32>, %b: vector<1x32xf32>, %acc: vector<8x32xf32>, %x: vector<1x4x16xf32>, %y: vector<4x16xf32>, %z: vector<1x16xf32>, %pa: vector<1x8x1xf32>, %pb: vector<1x1x32xf32>, %pc: vector<1x8x1x32xf32>) -> (vector<8x32xf32>, vector<1x16xf32>, vector<1x8x1x32xf32>) {
  %0 = vector.contract {indexing_maps = [#mm_a, #mm_b, #mm_c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %b, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
  %1 = vector.contract {indexing_maps = [#rows_a, #rows_b, #rows_c], iterator_types = ["parallel", "reduction", "parallel"], kind = #vector.kind<add>} %x, %y, %z : vector<1x4x16xf32>, vector<4x16xf32> into vector<1x16xf32>
  %2 = vector.contract {indexing_maps = [#tile_a, #tile_b, #tile_c], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"], kind = #vector.kind<add>} %pa, %pb, %pc : vector<1x8x1xf32>, vector<1x1x32xf32> into vector<1x8x1x32xf32>
  return %0, %1, %2 : vector<8x32xf32>, vector<1x16xf32>, vector<1x8x1x32xf32>
}

// Dot products (every dim longer than 1 in both operands, the summed ones
// innermost) become a product of whole vectors and a horizontal sum per
// result, not a chain of scalar FMAs (the LLVM stage's outer products). An
// accumulator laid out the other way round is read in its own order.
// CHECK-LABEL: func @dot_products
// CHECK-SAME: (%[[Q:.*]]: vector<1x1x1x64xf32>, %[[K:.*]]: vector<1x1x1x64xf32>, %[[ACC:.*]]: vector<1x1x1x1xf32>, %[[X:.*]]: vector<4x3x16xf32>, %[[Y:.*]]: vector<4x3x16xf32>, %[[Z:.*]]: vector<3x4xf32>)
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<1x1x1x1x64xf32>
// CHECK: vector.reduction <add>, %{{.*}}, %{{.*}} : vector<64xf32> into f32
// CHECK: %[[P:.*]] = arith.mulf %[[X]], %[[Y]] : vector<4x3x16xf32>
// CHECK: vector.extract %[[P]][0, 0]
// CHECK: vector.extract %[[Z]][0, 0]
// CHECK: vector.extract %[[P]][0, 1]
// CHECK: vector.extract %[[Z]][1, 0]
// CHECK-COUNT-11: vector.reduction <add>, %{{.*}}, %{{.*}} : vector<16xf32> into f32
// CHECK-NOT: vector.contract
// CHECK: return
#q = affine_map<(b, h, q, k, d) -> (b, h, q, d)>
#k = affine_map<(b, h, q, k, d) -> (b, h, k, d)>
#s = affine_map<(b, h, q, k, d) -> (b, h, q, k)>
#rx = affine_map<(i, j, d) -> (i, j, d)>
#rz = affine_map<(i, j, d) -> (j, i)>
func.func @dot_products(%q: vector<1x1x1x64xf32>, %k: vector<1x1x1x64xf32>, %acc: vector<1x1x1x1xf32>, %x: vector<4x3x16xf32>, %y: vector<4x3x16xf32>, %z: vector<3x4xf32>) -> (vector<1x1x1x1xf32>, vector<3x4xf32>) {
  %0 = vector.contract {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"], kind = #vector.kind<add>} %q, %k, %acc : vector<1x1x1x64xf32>, vector<1x1x1x64xf32> into vector<1x1x1x1xf32>
  %1 = vector.contract {indexing_maps = [#rx, #rx, #rz], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %z : vector<4x3x16xf32>, vector<4x3x16xf32> into vector<3x4xf32>
  return %0, %1 : vector<1x1x1x1xf32>, vector<3x4xf32>
}
