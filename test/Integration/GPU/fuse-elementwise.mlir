// RUN: einsum-opt %s --einsum-gpu-pipeline="fuse-elementwise=1" | FileCheck %s --check-prefix=FUSED
// RUN: einsum-opt %s --einsum-gpu-pipeline | FileCheck %s --check-prefix=APART

// A traced function's elementwise ops fuse on the GPU as on the CPU
// (einsum-fuse-elementwise): relu(x + bias) is one kernel, not two, and
// the sum x + bias is never written to device memory. The fused op has two
// inputs and a body that is not a multiply-add: einsum-gpu-map-loops'
// GEMM matcher must turn it down (it crashed on such a body).
// FUSED-LABEL: llvm.func @einsum
// FUSED-NOT: llvm.call @mgpuMemAlloc
// FUSED: gpu.launch_func
// FUSED-NOT: gpu.launch_func
// FUSED: llvm.return
// APART-LABEL: llvm.func @einsum
// APART: llvm.call @mgpuMemAlloc
// APART-COUNT-2: gpu.launch_func
// APART: llvm.call @mgpuMemFree
#row = affine_map<(i, j) -> (i, j)>
#bias = affine_map<(i, j) -> (j)>
func.func @einsum(%x: memref<33x45xf32>, %b: memref<45xf32>, %out: memref<33x45xf32>) {
  %zero = arith.constant 0.000000e+00 : f32
  %tx = bufferization.to_tensor %x restrict : memref<33x45xf32> to tensor<33x45xf32>
  %tb = bufferization.to_tensor %b restrict : memref<45xf32> to tensor<45xf32>
  %e0 = tensor.empty() : tensor<33x45xf32>
  %sum = linalg.generic {indexing_maps = [#row, #bias, #row], iterator_types = ["parallel", "parallel"]} ins(%tx, %tb : tensor<33x45xf32>, tensor<45xf32>) outs(%e0 : tensor<33x45xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<33x45xf32>
  %e1 = tensor.empty() : tensor<33x45xf32>
  %relu = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel"]} ins(%sum : tensor<33x45xf32>) outs(%e1 : tensor<33x45xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  } -> tensor<33x45xf32>
  bufferization.materialize_in_destination %relu in restrict writable %out : (tensor<33x45xf32>, memref<33x45xf32>) -> ()
  return
}
