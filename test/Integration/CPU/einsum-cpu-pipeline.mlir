// RUN: einsum-opt %s --einsum-cpu-pipeline | FileCheck %s

// The whole pipeline leaves only the LLVM dialect, with bare pointers for
// memrefs and FMA-friendly vector code for the register tile. The 48-wide
// result takes whole 16-lane registers (not 24-lane ones).
// CHECK-LABEL: llvm.func @einsum
// CHECK-SAME: (%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK: llvm.intr.fmuladd{{.*}} : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK-NOT: vector.contract
// CHECK-NOT: linalg.
// CHECK-NOT: scf.
func.func @einsum(%a: memref<64x32xf32>, %b: memref<32x48xf32>, %out: memref<64x48xf32>) {
  %ta = bufferization.to_tensor %a restrict : memref<64x32xf32> to tensor<64x32xf32>
  %tb = bufferization.to_tensor %b restrict : memref<32x48xf32> to tensor<32x48xf32>
  %c = einsum.contract "ij,jk->ik" %ta, %tb : (tensor<64x32xf32>, tensor<32x48xf32>) -> tensor<64x48xf32>
  bufferization.materialize_in_destination %c in restrict writable %out : (tensor<64x48xf32>, memref<64x48xf32>) -> ()
  return
}
