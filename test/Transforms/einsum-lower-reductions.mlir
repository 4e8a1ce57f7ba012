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
