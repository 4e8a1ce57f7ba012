// RUN: einsum-opt %s --einsum-gpu-pipeline="format=host" | FileCheck %s

// format=host: the GPU pipeline's kernels compiled for the host CPU
// (einsum-gpu-emulate). A transpose and a tiled multiply-accumulate (which
// adds to its result's fill value: the fill is no kernel of its own) move
// into the host module; each launch calls the runtime's emulator with the
// kernel's thunk, cooperative (1) for the tiled kernel, which has barriers
// and shared memory, and not (0) for the transpose; the grid, the block
// (16x16 threads) and the parameter array. Special registers and barriers are
// calls, and so is each load and store of shared memory (the emulator's
// race check) and of device memory (its bounds check); nothing of NVVM or
// of the gpu dialect is left.
// CHECK-NOT: gpu.module
// CHECK-LABEL: llvm.func @einsum
// CHECK: %[[T:.*]] = llvm.mlir.addressof @__einjit_emu_einsum_kernel_einsum_kernel_thunk
// CHECK: %[[NO:.*]] = llvm.mlir.constant(0 : i32)
// CHECK: llvm.call @einjitEmuLaunch(%[[T]], %[[NO]],
// CHECK: %[[MM:.*]] = llvm.mlir.addressof @__einjit_emu_einsum_kernel_0_einsum_kernel_thunk
// CHECK: %[[YES:.*]] = llvm.mlir.constant(1 : i32)
// CHECK: llvm.call @einjitEmuLaunch(%[[MM]], %[[YES]], %{{.*}}, %{{.*}}, %{{.*}}, %[[B16:.*]], %[[B16]], %{{.*}}, %{{.*}})
// CHECK: llvm.func @einjitEmuSreg(i32) -> i32
// CHECK: llvm.func @einjitEmuBarrier()
// CHECK: llvm.func @__einjit_emu_einsum_kernel_einsum_kernel(%{{.*}}: !llvm.ptr) {
// Each access of device memory is checked against the live allocations.
// CHECK: llvm.call @einjitEmuGlobal(%[[IN:.*]], %{{.*}}, %{{.*}}) : (!llvm.ptr, i64, i32) -> ()
// CHECK-NEXT: llvm.load %[[IN]] : !llvm.ptr -> f32
// CHECK: llvm.call @einjitEmuGlobal(%[[OUT:.*]], %{{.*}}, %{{.*}}) : (!llvm.ptr, i64, i32) -> ()
// CHECK-NEXT: llvm.store %{{.*}}, %[[OUT]] : f32, !llvm.ptr
// CHECK: llvm.func @__einjit_emu_einsum_kernel_einsum_kernel_thunk(%[[P:.*]]: !llvm.ptr)
// CHECK: llvm.getelementptr %[[P]][0]
// CHECK: llvm.mlir.global internal @__einjit_emu_einsum_kernel_0___wg_einsum_kernel_0() {addr_space = 3 : i32}
// CHECK: llvm.func @__einjit_emu_einsum_kernel_0_einsum_kernel(
// Each shared-memory access is reported for the race check first.
// CHECK: %[[AT:.*]] = llvm.addrspacecast %{{.*}} : !llvm.ptr<3> to !llvm.ptr
// CHECK: llvm.call @einjitEmuShared(%[[AT]], %{{.*}}, %{{.*}}) : (!llvm.ptr, i64, i32) -> ()
// CHECK-NEXT: llvm.store %{{.*}}, %{{.*}} : f32, !llvm.ptr<3>
// CHECK: llvm.call @einjitEmuBarrier()
// CHECK-NOT: nvvm.
// CHECK-NOT: gpu.
func.func @einsum(%a: memref<64x32xf32>, %b: memref<32x48xf32>, %out: memref<64x48xf32>, %t: memref<32x64xf32>) {
  %ta = bufferization.to_tensor %a restrict : memref<64x32xf32> to tensor<64x32xf32>
  %tb = bufferization.to_tensor %b restrict : memref<32x48xf32> to tensor<32x48xf32>
  %tt = einsum.contract "ij->ji" %ta : (tensor<64x32xf32>) -> tensor<32x64xf32>
  bufferization.materialize_in_destination %tt in restrict writable %t : (tensor<32x64xf32>, memref<32x64xf32>) -> ()
  %c = einsum.contract "ij,jk->ik" %ta, %tb : (tensor<64x32xf32>, tensor<32x48xf32>) -> tensor<64x48xf32>
  bufferization.materialize_in_destination %c in restrict writable %out : (tensor<64x48xf32>, memref<64x48xf32>) -> ()
  return
}
