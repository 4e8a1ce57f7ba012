// RUN: einsum-opt %s --split-input-file | einsum-opt | FileCheck %s

// CHECK-LABEL: func @matmul
// CHECK: einsum.contract "ij,jk->ik" %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
func.func @matmul(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func @implicit_trace
// CHECK: einsum.contract "ii" %{{.*}} : (tensor<5x5xf64>) -> tensor<f64>
func.func @implicit_trace(%a: tensor<5x5xf64>) -> tensor<f64> {
  %0 = einsum.contract "ii" %a : (tensor<5x5xf64>) -> tensor<f64>
  return %0 : tensor<f64>
}

// -----

// CHECK-LABEL: func @ellipsis_broadcast
// CHECK: einsum.contract "...ij,...jk->...ik"
func.func @ellipsis_broadcast(%a: tensor<5x1x2x3xf32>, %b: tensor<4x3x2xf32>) -> tensor<5x4x2x2xf32> {
  %0 = einsum.contract "...ij,...jk->...ik" %a, %b : (tensor<5x1x2x3xf32>, tensor<4x3x2xf32>) -> tensor<5x4x2x2xf32>
  return %0 : tensor<5x4x2x2xf32>
}

// -----

// CHECK-LABEL: func @mixed_promotes_to_f64
// CHECK: -> tensor<3xf64>
func.func @mixed_promotes_to_f64(%a: tensor<3xi32>, %b: tensor<3xf32>) -> tensor<3xf64> {
  %0 = einsum.contract "i,i->i" %a, %b : (tensor<3xi32>, tensor<3xf32>) -> tensor<3xf64>
  return %0 : tensor<3xf64>
}

// -----

// CHECK-LABEL: func @three_operands
// CHECK: einsum.contract "ij,jk,kl->il" %{{.*}}, %{{.*}}, %{{.*}} :
func.func @three_operands(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<4x5xf32>) -> tensor<2x5xf32> {
  %0 = einsum.contract "ij,jk,kl->il" %a, %b, %c : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

// CHECK-LABEL: func @scalar
// CHECK: einsum.contract "->" %{{.*}} : (tensor<f16>) -> tensor<f16>
func.func @scalar(%a: tensor<f16>) -> tensor<f16> {
  %0 = einsum.contract "->" %a : (tensor<f16>) -> tensor<f16>
  return %0 : tensor<f16>
}
