// RUN: einsum-opt %s --split-input-file --einsum-gpu-pipeline="fuse-elementwise=1" | FileCheck %s --check-prefix=FUSED
// RUN: einsum-opt %s --split-input-file --einsum-gpu-pipeline | FileCheck %s --check-prefix=APART

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

// -----

// Softmax's sums, exp(x - max) added along rows of 300 with the maxima read
// through a unit dim ([37, 1], map (i, j) -> (i, 0)): a block of 256
// threads per row, and the fill of the sums folded into it, so one launch.
// FUSED-LABEL: llvm.func @einsum
// FUSED: gpu.launch_func
// FUSED-NOT: gpu.launch_func
// FUSED: gpu.binary
// FUSED-SAME: .maxntid 256, 1, 1
// APART-LABEL: llvm.func @einsum
// APART: gpu.launch_func
// APART-NOT: gpu.launch_func
// APART: gpu.binary
// APART-SAME: .maxntid 256, 1, 1
#row = affine_map<(i, j) -> (i, j)>
#unit = affine_map<(i, j) -> (i, 0)>
#sum = affine_map<(i, j) -> (i)>
func.func @einsum(%x: memref<37x300xf32>, %m: memref<37x1xf32>, %out: memref<37xf32>) {
  %zero = arith.constant 0.000000e+00 : f32
  %tx = bufferization.to_tensor %x restrict : memref<37x300xf32> to tensor<37x300xf32>
  %tm = bufferization.to_tensor %m restrict : memref<37x1xf32> to tensor<37x1xf32>
  %e = tensor.empty() : tensor<37xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<37xf32>) -> tensor<37xf32>
  %s = linalg.generic {indexing_maps = [#row, #unit, #sum], iterator_types = ["parallel", "reduction"]} ins(%tx, %tm : tensor<37x300xf32>, tensor<37x1xf32>) outs(%init : tensor<37xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %p = math.exp %d : f32
    %r = arith.addf %o, %p : f32
    linalg.yield %r : f32
  } -> tensor<37xf32>
  bufferization.materialize_in_destination %s in restrict writable %out : (tensor<37xf32>, memref<37xf32>) -> ()
  return
}
