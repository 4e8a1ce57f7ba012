// RUN: einsum-opt %s --einsum-gpu-pipeline | FileCheck %s
// RUN: einsum-opt %s --einsum-gpu-pipeline="chip=sm_80 features=+ptx70 tile-x=64 tile-y=4" | FileCheck %s --check-prefix=SM80

// The GPU pipeline, without a GPU: the contraction and a transpose become
// two kernels, outlined into gpu.modules serialized to PTX for sm_90; the
// host function launches them. The contraction, a multiply-accumulate, is
// tiled through shared memory (two 16x68 tiles, barriers) on 16x16 threads,
// each computing 4x4 results with FMAs from vector loads of the tiles, and
// starts from its result's fill value (the fill is no launch of its own).
// The transpose runs on 32x8 threads (thread x along the result's
// contiguous dim).
// CHECK: llvm.func @einsum
// CHECK: gpu.launch_func <{{.*}}> @einsum_kernel::@einsum_kernel blocks in ({{.*}}) threads in ({{.*}})
// CHECK: gpu.launch_func <{{.*}}> @einsum_kernel_0::@einsum_kernel
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.binary @einsum_kernel
// CHECK-SAME: .target sm_90
// CHECK-SAME: .maxntid 16, 16, 1
// CHECK-SAME: .shared .align 4 .b8 __wg_einsum_kernel_0[4352]
// CHECK-SAME: .shared .align 4 .b8 __wg_einsum_kernel_1[4352]
// CHECK-SAME: st.shared.b32
// CHECK-SAME: bar.sync
// CHECK-SAME: ld.shared.v4.b32
// CHECK-SAME: fma.rn.f32
// CHECK-SAME: bar.sync
// CHECK: gpu.binary @einsum_kernel_0
// CHECK-SAME: .target sm_90
// CHECK-SAME: .maxntid 32, 8, 1
// CHECK-SAME: %tid.x
// SM80: gpu.binary @einsum_kernel_0
// SM80-SAME: .version 7.0
// SM80-SAME: .target sm_80
// SM80-SAME: .maxntid 64, 4, 1
func.func @einsum(%a: memref<64x32xf32>, %b: memref<32x48xf32>, %out: memref<64x48xf32>, %t: memref<32x64xf32>) {
  %ta = bufferization.to_tensor %a restrict : memref<64x32xf32> to tensor<64x32xf32>
  %tb = bufferization.to_tensor %b restrict : memref<32x48xf32> to tensor<32x48xf32>
  %c = einsum.contract "ij,jk->ik" %ta, %tb : (tensor<64x32xf32>, tensor<32x48xf32>) -> tensor<64x48xf32>
  bufferization.materialize_in_destination %c in restrict writable %out : (tensor<64x48xf32>, memref<64x48xf32>) -> ()
  %tt = einsum.contract "ij->ji" %ta : (tensor<64x32xf32>) -> tensor<32x64xf32>
  bufferization.materialize_in_destination %tt in restrict writable %t : (tensor<32x64xf32>, memref<32x64xf32>) -> ()
  return
}
