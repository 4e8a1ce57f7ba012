// REQUIRES: libdevice
// RUN: einsum-opt %s --einsum-gpu-pipeline | FileCheck %s
// RUN: env CUDA_HOME=%t.none einsum-opt %s --einsum-gpu-pipeline 2>&1 | FileCheck %s --check-prefix=NONE

// A kernel that calls math functions (a traced function's exp and tanh):
// libdevice, from the CUDA toolkit in CUDA_HOME (test/lit.cfg.py: the
// usual folder or NVIDIA's pip package), is linked into its PTX, so the
// PTX defines everything it calls (no .extern .func: the runtime refuses
// such PTX) and expf becomes ex2.approx.
// CHECK: gpu.binary @einsum_kernel
// CHECK-NOT: .extern .func
// CHECK-SAME: ex2.approx.ftz.f32

// Without a toolkit, MLIR says so and leaves the PTX calling libdevice's
// __nv_expf, which the runtime refuses to load (lowerToGpu).
// NONE: error: CUDA path: {{.*}}none does not exist or is not a directory
// NONE: gpu.binary @einsum_kernel
// NONE-SAME: .extern .func
// NONE-SAME: __nv_expf
func.func @einsum(%arg0: memref<5x37xf32>, %arg1: memref<5x37xf32>) {
  %0 = bufferization.to_tensor %arg0 restrict : memref<5x37xf32> to tensor<5x37xf32>
  %1 = tensor.empty() : tensor<5x37xf32>
  %2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%0 : tensor<5x37xf32>) outs(%1 : tensor<5x37xf32>) {
  ^bb0(%in: f32, %out: f32):
    %3 = math.exp %in : f32
    %4 = math.tanh %3 : f32
    linalg.yield %4 : f32
  } -> tensor<5x37xf32>
  bufferization.materialize_in_destination %2 in restrict writable %arg1 : (tensor<5x37xf32>, memref<5x37xf32>) -> ()
  return
}
