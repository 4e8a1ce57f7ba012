// RUN: einsum-opt %s --einsum-stream-tile-stores="l2-bytes=1048576 l3-bytes=33554432" | FileCheck %s

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// A register tile that sums all of K from zeros, written into a 64 MiB
// result (over max(4 L2, L3 / 2) = 16 MiB): where the tile starts a cache
// line, each of its 8 rows is one non-temporal store; elsewhere the
// original write.
// CHECK-LABEL: func @streamed
// CHECK: %[[SUM:.*]] = scf.for
// CHECK: %[[ALIGNED:.*]] = arith.cmpi eq
// CHECK: scf.if %[[ALIGNED]] {
// CHECK: %[[TILE:.*]] = vector.shape_cast %[[SUM]] : vector<8x32xf32> to vector<8x32xf32>
// CHECK: %[[ROW0:.*]] = vector.extract %[[TILE]][0]
// CHECK: vector.store %[[ROW0]], %[[C:arg[0-9]+]][%[[I:arg[0-9]+]], %[[J:arg[0-9]+]]] {alignment = 64 : i64, nontemporal = true}
// CHECK: %[[I1:.*]] = arith.addi %[[I]], %c1
// CHECK: %[[ROW1:.*]] = vector.extract %[[TILE]][1]
// CHECK: vector.store %[[ROW1]], %[[C]][%[[I1]], %[[J]]] {alignment = 64 : i64, nontemporal = true}
// CHECK-COUNT-6: vector.store {{.*}} nontemporal = true
// CHECK: } else {
// CHECK: vector.transfer_write %[[SUM]], %[[C]][%[[I]], %[[J]]]
func.func @streamed(%a: memref<4096x64xf32>, %b: memref<64x4096xf32>, %c: memref<4096x4096xf32>, %i: index, %j: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant dense<0.0> : vector<8x32xf32>
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc = %zero) -> (vector<8x32xf32>) {
    %x = vector.transfer_read %a[%i, %k], %pad {in_bounds = [true, true]} : memref<4096x64xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%k, %j], %pad {in_bounds = [true, true]} : memref<64x4096xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  vector.transfer_write %r, %c[%i, %j] {in_bounds = [true, true]} : vector<8x32xf32>, memref<4096x4096xf32>
  return
}

// Plain writes: a result that the caches hold (256x256, 256 KiB); a tile
// that adds to the result read before its K loop (K in blocks: the result
// is read again); columns of 4 (16 bytes, part of a cache line); rows whose
// stride is not whole cache lines (4096x4100).
// CHECK-LABEL: func @not_streamed
// CHECK-NOT: nontemporal
// CHECK-NOT: scf.if
// CHECK: return
func.func @not_streamed(%a: memref<4096x64xf32>, %b: memref<64x4096xf32>, %small: memref<256x256xf32>, %c: memref<4096x4096xf32>, %odd: memref<4096x4100xf32>, %i: index, %j: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant dense<0.0> : vector<8x32xf32>
  %zero4 = arith.constant dense<0.0> : vector<8x4xf32>
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc = %zero) -> (vector<8x32xf32>) {
    %x = vector.transfer_read %a[%i, %k], %pad {in_bounds = [true, true]} : memref<4096x64xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%k, %j], %pad {in_bounds = [true, true]} : memref<64x4096xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  vector.transfer_write %r, %small[%c0, %c0] {in_bounds = [true, true]} : vector<8x32xf32>, memref<256x256xf32>
  %old = vector.transfer_read %c[%i, %j], %pad {in_bounds = [true, true]} : memref<4096x4096xf32>, vector<8x32xf32>
  %s = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc = %old) -> (vector<8x32xf32>) {
    %x = vector.transfer_read %a[%i, %k], %pad {in_bounds = [true, true]} : memref<4096x64xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%k, %j], %pad {in_bounds = [true, true]} : memref<64x4096xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  vector.transfer_write %s, %c[%i, %j] {in_bounds = [true, true]} : vector<8x32xf32>, memref<4096x4096xf32>
  %e = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc = %zero4) -> (vector<8x4xf32>) {
    %x = vector.transfer_read %a[%i, %k], %pad {in_bounds = [true, true]} : memref<4096x64xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%k, %j], %pad {in_bounds = [true, true]} : memref<64x4096xf32>, vector<1x4xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x4xf32> into vector<8x4xf32>
    scf.yield %z : vector<8x4xf32>
  }
  vector.transfer_write %e, %c[%i, %j] {in_bounds = [true, true]} : vector<8x4xf32>, memref<4096x4096xf32>
  %o = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc = %zero) -> (vector<8x32xf32>) {
    %x = vector.transfer_read %a[%i, %k], %pad {in_bounds = [true, true]} : memref<4096x64xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%k, %j], %pad {in_bounds = [true, true]} : memref<64x4096xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  vector.transfer_write %o, %odd[%i, %j] {in_bounds = [true, true]} : vector<8x32xf32>, memref<4096x4100xf32>
  return
}
