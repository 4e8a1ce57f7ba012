// RUN: einsum-opt %s --split-input-file --verify-diagnostics --einsum-generate-grads | FileCheck %s
// RUN: einsum-opt %s --split-input-file --verify-diagnostics --einsum-generate-grads --einsum-plan-paths --convert-einsum-to-linalg | FileCheck %s --check-prefix=LOWERED

// The issue's example: d/dA of ij,jk->ik is ik,jk->ij; d/dB is ik,ij->jk.
// CHECK-LABEL: func.func @matmul_grad
// CHECK-SAME: (%[[A:.*]]: tensor<2x3xf32>, %[[B:.*]]: tensor<3x4xf32>, %[[G:.*]]: tensor<2x4xf32>) -> (tensor<2x3xf32>, tensor<3x4xf32>)
// CHECK-SAME: einsum.gradient_of = @matmul
// CHECK: einsum.contract "ij,jk->ik" %[[A]], %[[B]]
// CHECK: %[[GA:.*]] = einsum.contract "ik,jk->ij" %[[G]], %[[B]] : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
// CHECK: %[[GB:.*]] = einsum.contract "ik,ij->jk" %[[G]], %[[A]] : (tensor<2x4xf32>, tensor<2x3xf32>) -> tensor<3x4xf32>
// CHECK: return %[[GA]], %[[GB]]
// LOWERED-LABEL: func.func @matmul_grad
// LOWERED-NOT: einsum.contract
// LOWERED: return
func.func @matmul(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// A trace: the gradient lands on the diagonal (a repeated output label),
// with a vector of ones carrying the label the cotangent lacks.
// CHECK-LABEL: func.func @trace_grad
// CHECK: %[[ONES:.*]] = arith.constant dense<1.000000e+00> : tensor<3xf64>
// CHECK: einsum.contract ",i->ii" %{{.*}}, %[[ONES]] : (tensor<f64>, tensor<3xf64>) -> tensor<3x3xf64>
// LOWERED-LABEL: func.func @trace_grad
// LOWERED-NOT: einsum.contract
// LOWERED: return
func.func @trace(%a: tensor<3x3xf64>) -> tensor<f64> {
  %0 = einsum.contract "ii->" %a : (tensor<3x3xf64>) -> tensor<f64>
  return %0 : tensor<f64>
}

// -----

// x in x'Ax twice: the two positions' gradients add.
// CHECK-LABEL: func.func @quadratic_grad
// CHECK-SAME: (%[[X:.*]]: tensor<5xf32>, %[[A:.*]]: tensor<5x5xf32>, %[[G:.*]]: tensor<f32>)
// CHECK: %[[G0:.*]] = einsum.contract ",ij,j->i" %[[G]], %[[A]], %[[X]]
// CHECK: %[[GA:.*]] = einsum.contract ",i,j->ij" %[[G]], %[[X]], %[[X]]
// CHECK: %[[G2:.*]] = einsum.contract ",i,ij->j" %[[G]], %[[X]], %[[A]]
// CHECK: %[[GX:.*]] = linalg.add ins(%[[G0]], %[[G2]] : tensor<5xf32>, tensor<5xf32>)
// CHECK: return %[[GX]], %[[GA]]
// LOWERED-LABEL: func.func @quadratic_grad
// LOWERED-NOT: einsum.contract
// LOWERED: linalg.add
// LOWERED-NOT: einsum.contract
// LOWERED: return
func.func @quadratic(%x: tensor<5xf32>, %a: tensor<5x5xf32>) -> tensor<f32> {
  %0 = einsum.contract "i,ij,j->" %x, %a, %x {path = [array<i64: 0, 1>, array<i64: 2, 3>]} : (tensor<5xf32>, tensor<5x5xf32>, tensor<5xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// A chain: the intermediate's cotangent flows on; a summed-away label and
// a broadcast batch dim of size 1 (summed, kept through ones(1)); an
// argument the result does not depend on gets zeros.
// CHECK-LABEL: func.func @chain_grad
// CHECK-SAME: (%[[A:.*]]: tensor<1x2x3xf32>, %[[B:.*]]: tensor<4x3x5xf32>, %[[U:.*]]: tensor<7xf32>, %[[G:.*]]: tensor<4x2xf32>)
// CHECK: %[[T:.*]] = einsum.contract "...ij,...jk->...ik" %[[A]], %[[B]]
// CHECK: einsum.contract "...ik->...i" %[[T]]
// CHECK: %[[ONES:.*]] = arith.constant dense<1.000000e+00> : tensor<5xf32>
// CHECK: %[[GT:.*]] = einsum.contract "ai,k->aik" %[[G]], %[[ONES]] : (tensor<4x2xf32>, tensor<5xf32>) -> tensor<4x2x5xf32>
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : tensor<1xf32>
// CHECK: %[[GA:.*]] = einsum.contract "aik,ajk,b->bij" %[[GT]], %[[B]], %[[ONE]] : (tensor<4x2x5xf32>, tensor<4x3x5xf32>, tensor<1xf32>) -> tensor<1x2x3xf32>
// CHECK: %[[GB:.*]] = einsum.contract "aik,aij->ajk" %[[GT]], %[[A]] : (tensor<4x2x5xf32>, tensor<1x2x3xf32>) -> tensor<4x3x5xf32>
// CHECK: %[[Z:.*]] = arith.constant dense<0.000000e+00> : tensor<7xf32>
// CHECK: return %[[GA]], %[[GB]], %[[Z]]
// LOWERED-LABEL: func.func @chain_grad
// LOWERED-NOT: einsum.contract
// LOWERED: return
func.func @chain(%a: tensor<1x2x3xf32>, %b: tensor<4x3x5xf32>, %unused: tensor<7xf32>) -> tensor<4x2xf32> {
  %t = einsum.contract "...ij,...jk->...ik" %a, %b : (tensor<1x2x3xf32>, tensor<4x3x5xf32>) -> tensor<4x2x5xf32>
  %r = einsum.contract "...ik->...i" %t : (tensor<4x2x5xf32>) -> tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}

// -----

func.func @not_einsum(%a: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{einsum-generate-grads: cannot differentiate 'arith.addf' in @not_einsum (only einsum.contract)}}
  %0 = arith.addf %a, %a : tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// expected-error @+1 {{einsum-generate-grads: argument 0 of @ints is 'tensor<3xi32>', not a tensor of floats}}
func.func @ints(%a: tensor<3xi32>) -> tensor<i32> {
  %0 = einsum.contract "i->" %a : (tensor<3xi32>) -> tensor<i32>
  return %0 : tensor<i32>
}
