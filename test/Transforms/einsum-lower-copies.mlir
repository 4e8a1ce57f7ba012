// RUN: einsum-opt %s --einsum-lower-copies | FileCheck %s

// A small copy of a static shape (a row that packing moves) becomes one
// vector read and write.
// CHECK-LABEL: func @strided_copy
// CHECK-SAME: (%[[SRC:.*]]: memref<1x5x1xf32, strided<[15, 3, 1]>>, %[[DST:.*]]: memref<1x5x1xf32, strided<[5, 1, 1]>>)
// CHECK-NOT: memref.copy
// CHECK: %[[V:.*]] = vector.transfer_read %[[SRC]]
// CHECK: vector.transfer_write %[[V]], %[[DST]]
func.func @strided_copy(%src: memref<1x5x1xf32, strided<[15, 3, 1]>>, %dst: memref<1x5x1xf32, strided<[5, 1, 1]>>) {
  memref.copy %src, %dst : memref<1x5x1xf32, strided<[15, 3, 1]>> to memref<1x5x1xf32, strided<[5, 1, 1]>>
  return
}

// A large one becomes a linalg.copy, a loop nest, never a call of the
// runner-utils' memrefCopy.
// CHECK-LABEL: func @large_copy
// CHECK-SAME: (%[[SRC:.*]]: memref<16x300xf32, strided<[600, 1]>>, %[[DST:.*]]: memref<16x300xf32>)
// CHECK-NOT: memref.copy
// CHECK: linalg.copy ins(%[[SRC]] : {{.*}}) outs(%[[DST]] : {{.*}})
func.func @large_copy(%src: memref<16x300xf32, strided<[600, 1]>>, %dst: memref<16x300xf32>) {
  memref.copy %src, %dst : memref<16x300xf32, strided<[600, 1]>> to memref<16x300xf32>
  return
}
