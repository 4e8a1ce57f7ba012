// RUN: einsum-opt %s --split-input-file --einsum-gpu-pipeline | FileCheck %s

// The host side of the GPU pipeline calls the mgpu* runtime ABI on one
// stream: the intermediate of a chain is device memory (mgpuMemAlloc and
// mgpuMemFree, not malloc), and an einsum that only copies copies on the
// device (mgpuMemcpy, not a host memcpy of device pointers). The chain's
// two steps are a launch each: each thread stores its result's fill value
// before it sums.
// CHECK-LABEL: llvm.func @einsum
// CHECK: llvm.call @mgpuStreamCreate
// CHECK: llvm.call @mgpuMemAlloc
// CHECK-COUNT-2: gpu.launch_func
// CHECK-NOT: gpu.launch_func
// CHECK: llvm.call @mgpuMemFree
// CHECK: llvm.call @mgpuStreamSynchronize
// CHECK: llvm.call @mgpuStreamDestroy
// CHECK-NOT: gpu.alloc
// CHECK-NOT: gpu.dealloc
func.func @einsum(%a: memref<8x9xf32>, %b: memref<9x10xf32>, %c: memref<10x3xf32>, %out: memref<8x3xf32>) {
  %ta = bufferization.to_tensor %a restrict : memref<8x9xf32> to tensor<8x9xf32>
  %tb = bufferization.to_tensor %b restrict : memref<9x10xf32> to tensor<9x10xf32>
  %tc = bufferization.to_tensor %c restrict : memref<10x3xf32> to tensor<10x3xf32>
  %r = einsum.contract "ij,jk,kl->il" %ta, %tb, %tc {path = [array<i64: 1, 2>, array<i64: 0, 3>]} : (tensor<8x9xf32>, tensor<9x10xf32>, tensor<10x3xf32>) -> tensor<8x3xf32>
  bufferization.materialize_in_destination %r in restrict writable %out : (tensor<8x3xf32>, memref<8x3xf32>) -> ()
  return
}

// -----

// CHECK-LABEL: llvm.func @einsum
// CHECK: llvm.call @mgpuMemcpy
// CHECK-NOT: memcpy
// CHECK-NOT: gpu.memcpy
func.func @einsum(%a: memref<7xf32>, %out: memref<7xf32>) {
  %ta = bufferization.to_tensor %a restrict : memref<7xf32> to tensor<7xf32>
  %r = einsum.contract "i->i" %ta : (tensor<7xf32>) -> tensor<7xf32>
  bufferization.materialize_in_destination %r in restrict writable %out : (tensor<7xf32>, memref<7xf32>) -> ()
  return
}
