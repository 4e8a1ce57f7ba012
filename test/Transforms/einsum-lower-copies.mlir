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

// A 4x4 block transpose: four row loads, a shuffle network of two stages
// (swapping bit 1, then bit 0 of the row and column indices: B holds the
// 2x2 blocks transposed, C the columns of A), four row stores.
// CHECK-LABEL: func @transpose_block
// CHECK-SAME: (%[[SRC:.*]]: memref<4x4xf32, strided<[9, 1]>>, %[[DST:.*]]: memref<4x4xf32, strided<[7, 1]>>)
// CHECK-NOT: linalg.transpose
// CHECK: %[[A0:.*]] = vector.load %[[SRC]][%c0, %c0]
// CHECK: %[[A1:.*]] = vector.load %[[SRC]][%c1, %c0]
// CHECK: %[[A2:.*]] = vector.load %[[SRC]][%c2, %c0]
// CHECK: %[[A3:.*]] = vector.load %[[SRC]][%c3, %c0]
// CHECK: %[[B0:.*]] = vector.shuffle %[[A0]], %[[A2]] [0, 1, 4, 5]
// CHECK: %[[B2:.*]] = vector.shuffle %[[A0]], %[[A2]] [2, 3, 6, 7]
// CHECK: %[[B1:.*]] = vector.shuffle %[[A1]], %[[A3]] [0, 1, 4, 5]
// CHECK: %[[B3:.*]] = vector.shuffle %[[A1]], %[[A3]] [2, 3, 6, 7]
// CHECK: %[[C0:.*]] = vector.shuffle %[[B0]], %[[B1]] [0, 4, 2, 6]
// CHECK: %[[C1:.*]] = vector.shuffle %[[B0]], %[[B1]] [1, 5, 3, 7]
// CHECK: %[[C2:.*]] = vector.shuffle %[[B2]], %[[B3]] [0, 4, 2, 6]
// CHECK: %[[C3:.*]] = vector.shuffle %[[B2]], %[[B3]] [1, 5, 3, 7]
// CHECK-NOT: vector.shuffle
// CHECK: vector.store %[[C0]], %[[DST]][%c0, %c0]
// CHECK: vector.store %[[C1]], %[[DST]][%c1, %c0]
// CHECK: vector.store %[[C2]], %[[DST]][%c2, %c0]
// CHECK: vector.store %[[C3]], %[[DST]][%c3, %c0]
// CHECK-NOT: nontemporal
// CHECK: return
func.func @transpose_block(%src: memref<4x4xf32, strided<[9, 1]>>, %dst: memref<4x4xf32, strided<[7, 1]>>) {
  linalg.transpose ins(%src : memref<4x4xf32, strided<[9, 1]>>) outs(%dst : memref<4x4xf32, strided<[7, 1]>>) permutation = [1, 0] {einsum.transpose_block}
  return
}

// Marked streaming: non-temporal stores, aligned to the 64-byte row, when
// the first row's address and the row stride are multiples of 64 bytes;
// plain stores otherwise.
// CHECK-LABEL: func @stream_block
// CHECK-SAME: (%[[SRC:.*]]: memref<16x16xf32, strided<[?, 1], offset: ?>>, %[[DST:.*]]: memref<16x16xf32, strided<[?, 1], offset: ?>>)
// CHECK-COUNT-64: vector.shuffle
// CHECK: %[[BASE:.*]], %[[OFFSET:.*]], %{{.*}}:2, %[[STRIDES:.*]]:2 = memref.extract_strided_metadata %[[DST]]
// CHECK: %[[PTR:.*]] = memref.extract_aligned_pointer_as_index %[[DST]]
// CHECK: %[[AT:.*]] = arith.muli %[[OFFSET]], %c4
// CHECK: %[[FIRST:.*]] = arith.addi %[[PTR]], %[[AT]]
// CHECK: %[[STRIDE:.*]] = arith.muli %[[STRIDES]]#0, %c4
// CHECK: %[[EITHER:.*]] = arith.ori %[[FIRST]], %[[STRIDE]]
// CHECK: %[[LOW:.*]] = arith.andi %[[EITHER]], %c63
// CHECK: %[[ALIGNED:.*]] = arith.cmpi eq, %[[LOW]], %c0
// CHECK: scf.if %[[ALIGNED]] {
// CHECK-COUNT-16: vector.store {{.*}} {alignment = 64 : i64, nontemporal = true}
// CHECK: } else {
// CHECK-NOT: nontemporal
// CHECK-COUNT-16: vector.store
// CHECK: }
func.func @stream_block(%src: memref<16x16xf32, strided<[?, 1], offset: ?>>, %dst: memref<16x16xf32, strided<[?, 1], offset: ?>>) {
  linalg.transpose ins(%src : memref<16x16xf32, strided<[?, 1], offset: ?>>) outs(%dst : memref<16x16xf32, strided<[?, 1], offset: ?>>) permutation = [1, 0] {einsum.transpose_block, einsum.stream}
  return
}

// Rows that are not contiguous cannot be vector loads: the block stays a
// linalg.transpose (a loop nest after convert-linalg-to-loops).
// CHECK-LABEL: func @strided_rows
// CHECK-NOT: vector.load
// CHECK: linalg.transpose
func.func @strided_rows(%src: memref<4x4xf32, strided<[1, 9]>>, %dst: memref<4x4xf32>) {
  linalg.transpose ins(%src : memref<4x4xf32, strided<[1, 9]>>) outs(%dst : memref<4x4xf32>) permutation = [1, 0] {einsum.transpose_block}
  return
}

// A streaming row tile of an elementwise op (an outer product's): its
// vector is stored non-temporally where the row starts on a cache line,
// plainly elsewhere; a 3-column tile (not whole lines) is only vectorized.
// CHECK-LABEL: func @streaming_row
// CHECK-SAME: (%[[X:.*]]: memref<1xf32, strided<[1], offset: ?>>, %[[Y:.*]]: memref<64xf32, strided<[1], offset: ?>>, %[[DST:.*]]: memref<1x64xf32, strided<[4096, 1], offset: ?>>)
// CHECK-NOT: linalg.generic
// CHECK: %[[P:.*]] = arith.mulf {{.*}} : vector<1x64xf32>
// CHECK: %[[ROW:.*]] = vector.shape_cast %[[P]] : vector<1x64xf32> to vector<64xf32>
// CHECK: %[[BASE:.*]] = memref.extract_aligned_pointer_as_index %[[DST]]
// CHECK: %[[ALIGNED:.*]] = arith.cmpi eq
// CHECK: scf.if %[[ALIGNED]] {
// CHECK-NEXT: vector.store %[[ROW]], %[[DST]][%{{.*}}, %{{.*}}] {alignment = 64 : i64, nontemporal = true}
// CHECK-NEXT: } else {
// CHECK-NEXT: vector.store %[[ROW]], %[[DST]][%{{.*}}, %{{.*}}] :
// CHECK-NOT: nontemporal
// CHECK-LABEL: func @streaming_narrow_row
// CHECK-NOT: nontemporal
// CHECK: vector.transfer_write {{.*}} : vector<1x3xf32>
#outer_x = affine_map<(d0, d1) -> (d0)>
#outer_y = affine_map<(d0, d1) -> (d1)>
#outer_r = affine_map<(d0, d1) -> (d0, d1)>
func.func @streaming_row(%x: memref<1xf32, strided<[1], offset: ?>>, %y: memref<64xf32, strided<[1], offset: ?>>, %dst: memref<1x64xf32, strided<[4096, 1], offset: ?>>) {
  linalg.generic {indexing_maps = [#outer_x, #outer_y, #outer_r], iterator_types = ["parallel", "parallel"]} ins(%x, %y : memref<1xf32, strided<[1], offset: ?>>, memref<64xf32, strided<[1], offset: ?>>) outs(%dst : memref<1x64xf32, strided<[4096, 1], offset: ?>>) attrs = {einsum.stream} {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %p = arith.mulf %a, %b : f32
    linalg.yield %p : f32
  }
  return
}
func.func @streaming_narrow_row(%x: memref<1xf32, strided<[1], offset: ?>>, %y: memref<3xf32, strided<[1], offset: ?>>, %dst: memref<1x3xf32, strided<[4099, 1], offset: ?>>) {
  linalg.generic {indexing_maps = [#outer_x, #outer_y, #outer_r], iterator_types = ["parallel", "parallel"]} ins(%x, %y : memref<1xf32, strided<[1], offset: ?>>, memref<3xf32, strided<[1], offset: ?>>) outs(%dst : memref<1x3xf32, strided<[4099, 1], offset: ?>>) attrs = {einsum.stream} {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %p = arith.mulf %a, %b : f32
    linalg.yield %p : f32
  }
  return
}
