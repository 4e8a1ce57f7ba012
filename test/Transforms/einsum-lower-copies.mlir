// RUN: einsum-opt %s --einsum-lower-copies | FileCheck %s

// CHECK-LABEL: func @strided_copy
// CHECK-SAME: (%[[SRC:.*]]: memref<1x5x1xf32, strided<[15, 3, 1]>>, %[[DST:.*]]: memref<1x5x1xf32, strided<[5, 1, 1]>>)
// CHECK-NOT: memref.copy
// CHECK: linalg.copy ins(%[[SRC]] : {{.*}}) outs(%[[DST]] : {{.*}})
func.func @strided_copy(%src: memref<1x5x1xf32, strided<[15, 3, 1]>>, %dst: memref<1x5x1xf32, strided<[5, 1, 1]>>) {
  memref.copy %src, %dst : memref<1x5x1xf32, strided<[15, 3, 1]>> to memref<1x5x1xf32, strided<[5, 1, 1]>>
  return
}
