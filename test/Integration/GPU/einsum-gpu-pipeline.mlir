// RUN: einsum-opt %s --einsum-gpu-pipeline | FileCheck %s
// RUN: einsum-opt %s --einsum-gpu-pipeline="chip=sm_80 features=+ptx70 tile-x=64 tile-y=4" | FileCheck %s --check-prefix=SM80

// The GPU pipeline, without a GPU: the fill and the contraction become two
// kernels on 32x8 threads (thread x along the result's contiguous dim, k),
// outlined into gpu.modules serialized to PTX for sm_90; the host function
// launches them.
// CHECK: llvm.func @einsum
// CHECK: gpu.launch_func <{{.*}}> @einsum_kernel::@einsum_kernel blocks in ({{.*}}) threads in ({{.*}})
// CHECK: gpu.launch_func <{{.*}}> @einsum_kernel_0::@einsum_kernel
// CHECK: gpu.binary @einsum_kernel
// CHECK-SAME: .target sm_90
// CHECK: gpu.binary @einsum_kernel_0
// CHECK-SAME: .target sm_90
// CHECK-SAME: .maxntid 32, 8, 1
// CHECK-SAME: %tid.x
// CHECK-SAME: mul.rn.f32
// CHECK-SAME: add.rn.f32
// SM80: gpu.binary @einsum_kernel_0
// SM80-SAME: .version 7.0
// SM80-SAME: .target sm_80
// SM80-SAME: .maxntid 64, 4, 1
func.func @einsum(%a: memref<64x32xf32>, %b: memref<32x48xf32>, %out: memref<64x48xf32>) {
  %ta = bufferization.to_tensor %a restrict : memref<64x32xf32> to tensor<64x32xf32>
  %tb = bufferization.to_tensor %b restrict : memref<32x48xf32> to tensor<32x48xf32>
  %c = einsum.contract "ij,jk->ik" %ta, %tb : (tensor<64x32xf32>, tensor<32x48xf32>) -> tensor<64x48xf32>
  bufferization.materialize_in_destination %c in restrict writable %out : (tensor<64x48xf32>, memref<64x48xf32>) -> ()
  return
}
