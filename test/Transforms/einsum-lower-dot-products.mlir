// RUN: einsum-opt %s --einsum-lower-dot-products | FileCheck %s

// einsum.dot_u8i8 becomes AVX512-VNNI's vpdpbusd intrinsic, its byte
// operands seen as <64 x i8>.
// CHECK-LABEL: func @dot
// CHECK-SAME: (%[[ACC:.*]]: vector<16xi32>, %[[A:.*]]: vector<16xi32>, %[[B:.*]]: vector<16xi32>)
// CHECK: %[[AB:.*]] = llvm.bitcast %[[A]] : vector<16xi32> to vector<64xi8>
// CHECK: %[[BB:.*]] = llvm.bitcast %[[B]] : vector<16xi32> to vector<64xi8>
// CHECK: %[[R:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%[[ACC]], %[[AB]], %[[BB]]) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// CHECK-NOT: einsum.dot_u8i8
// CHECK: return %[[R]]
func.func @dot(%acc: vector<16xi32>, %a: vector<16xi32>, %b: vector<16xi32>) -> vector<16xi32> {
  %0 = einsum.dot_u8i8 %acc, %a, %b : vector<16xi32>
  return %0 : vector<16xi32>
}
