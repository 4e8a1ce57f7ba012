// RUN: einsum-opt %s --einsum-prefetch-strided-reads | FileCheck %s

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
#v = affine_map<(n, k) -> (k)>
#w = affine_map<(n, k) -> (k, n)>
#x = affine_map<(n, k) -> (n)>
#sum = affine_map<()[s0, s1] -> (s0 + s1)>
#ba = affine_map<(b, m, n, k) -> (b, m, k)>
#bb = affine_map<(b, m, n, k) -> (b, k, n)>
#bc = affine_map<(b, m, n, k) -> (b, m, n)>

// The direct kernel's K loop reads a 32-column panel of a 768x768 right
// input (2.25 MiB, rows 3 KiB apart): each 128-byte row segment is
// prefetched 16 steps ahead, its row clamped to the last one, one
// prefetch per cache line and one for the last element.
// CHECK-LABEL: func @register_tile
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %[[STEP:[^ ]*]]
// CHECK: %[[AHEAD:.*]] = arith.addi %[[K]], %{{.*}}
// CHECK: %[[ROW:.*]] = affine.apply #{{.*}}()[%{{.*}}, %[[AHEAD]]]
// CHECK: %[[CLAMPED:.*]] = arith.minsi %[[ROW]], %{{.*}}
// CHECK: memref.prefetch %[[B:arg[0-9]+]][%[[CLAMPED]], %[[COL:arg[0-9]+]]], read, locality<3>, data : memref<768x768xf32>
// CHECK: %[[COL16:.*]] = arith.addi %[[COL]], %c16
// CHECK: memref.prefetch %[[B]][%[[CLAMPED]], %[[COL16]]], read
// CHECK: %[[COL31:.*]] = arith.addi %[[COL]], %c31
// CHECK: memref.prefetch %[[B]][%[[CLAMPED]], %[[COL31]]], read
// CHECK-NOT: memref.prefetch
// CHECK: vector.contract
func.func @register_tile(%a: memref<37x768xf32>, %b: memref<768x768xf32>, %acc0: vector<8x32xf32>, %kb: index, %col: index) -> vector<8x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c256 step %c1 iter_args(%acc = %acc0) -> (vector<8x32xf32>) {
    %row = affine.apply #sum()[%kb, %k]
    %x = vector.transfer_read %a[%c0, %row], %pad {in_bounds = [true, true]} : memref<37x768xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%row, %col], %pad {in_bounds = [true, true]} : memref<768x768xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  return %r : vector<8x32xf32>
}

// No prefetch: a K loop of 8 steps (a block of rows read across the whole
// width by a few rows) would prefetch past its end.
// CHECK-LABEL: func @short_loop
// CHECK-NOT: memref.prefetch
// CHECK: return
func.func @short_loop(%a: memref<4x768xf32>, %b: memref<768x768xf32>, %acc0: vector<4x32xf32>, %kb: index, %col: index) -> vector<4x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c8 step %c1 iter_args(%acc = %acc0) -> (vector<4x32xf32>) {
    %row = affine.apply #sum()[%kb, %k]
    %x = vector.transfer_read %a[%c0, %row], %pad {in_bounds = [true, true]} : memref<4x768xf32>, vector<4x1xf32>
    %y = vector.transfer_read %b[%row, %col], %pad {in_bounds = [true, true]} : memref<768x768xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<4x1xf32>, vector<1x32xf32> into vector<4x32xf32>
    scf.yield %z : vector<4x32xf32>
  }
  return %r : vector<4x32xf32>
}

// No prefetch: a right input that fits half the L2 (64x1024, 256 KiB) stays
// in the L2 after its first pass; one whose rows are 1 KiB apart (4096x256)
// is followed by the hardware's stride prefetcher.
// CHECK-LABEL: func @small_or_near
// CHECK-NOT: memref.prefetch
// CHECK: return
func.func @small_or_near(%a: memref<37x64xf32>, %b: memref<64x1024xf32>, %d: memref<4096x256xf32>, %acc0: vector<8x32xf32>, %col: index) -> vector<8x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc = %acc0) -> (vector<8x32xf32>) {
    %x = vector.transfer_read %a[%c0, %k], %pad {in_bounds = [true, true]} : memref<37x64xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%k, %col], %pad {in_bounds = [true, true]} : memref<64x1024xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    %u = vector.transfer_read %d[%k, %col], %pad {in_bounds = [true, true]} : memref<4096x256xf32>, vector<1x32xf32>
    %w = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %u, %z : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %w : vector<8x32xf32>
  }
  return %r : vector<8x32xf32>
}

// No prefetch: a streaming loop (`i,ij->j`, one vector of FMAs per row),
// however far apart and large its rows.
// CHECK-LABEL: func @streaming
// CHECK-NOT: memref.prefetch
// CHECK: return
func.func @streaming(%v: memref<4096xf32>, %m: memref<4096x4096xf32>, %acc0: vector<32xf32>, %col: index) -> vector<32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c256 step %c1 iter_args(%acc = %acc0) -> (vector<32xf32>) {
    %x = vector.transfer_read %v[%k], %pad {in_bounds = [true]} : memref<4096xf32>, vector<1xf32>
    %y = vector.transfer_read %m[%k, %col], %pad {in_bounds = [true, true]} : memref<4096x4096xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#v, #w, #x], iterator_types = ["parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<1xf32>, vector<1x32xf32> into vector<32xf32>
    scf.yield %z : vector<32xf32>
  }
  return %r : vector<32xf32>
}

// The left input of a register tile, one element of each of 8 rows per
// step from a 16x256x256 batch (4 MiB): each step prefetches the same K
// of row 8 + (k mod 8) below the tile's first, clamped to the last row.
// The right input's rows are 1 KiB apart: no strided prefetch.
// CHECK-LABEL: func @next_rows
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}}
// CHECK: %[[MOD:.*]] = arith.remui %[[K]], %c8
// CHECK: %[[BELOW:.*]] = arith.addi %[[MOD]], %c8
// CHECK: %[[ROW:.*]] = arith.addi %[[FIRST:arg[0-9]+]], %[[BELOW]]
// CHECK: %[[CLAMPED:.*]] = arith.minsi %[[ROW]], %c255
// CHECK: memref.prefetch %[[A:arg[0-9]+]][%[[B:arg[0-9]+]], %[[CLAMPED]], %[[K]]], read, locality<3>, data : memref<16x256x256xf32>
// CHECK-NOT: memref.prefetch
// CHECK: vector.transfer_read %[[A]][%[[B]], %[[FIRST]], %[[K]]]
func.func @next_rows(%a: memref<16x256x256xf32>, %b: memref<16x256x256xf32>, %acc0: vector<1x8x32xf32>, %batch: index, %row: index, %col: index) -> vector<1x8x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c256 step %c1 iter_args(%acc = %acc0) -> (vector<1x8x32xf32>) {
    %x = vector.transfer_read %a[%batch, %row, %k], %pad {in_bounds = [true, true, true]} : memref<16x256x256xf32>, vector<1x8x1xf32>
    %y = vector.transfer_read %b[%batch, %k, %col], %pad {in_bounds = [true, true, true]} : memref<16x256x256xf32>, vector<1x1x32xf32>
    %z = vector.contract {indexing_maps = [#ba, #bb, #bc], iterator_types = ["parallel", "parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<1x8x1xf32>, vector<1x1x32xf32> into vector<1x8x32xf32>
    scf.yield %z : vector<1x8x32xf32>
  }
  return %r : vector<1x8x32xf32>
}

// No prefetch of the next rows: an edge tile 4 columns wide (16 bytes, under
// a cache line), and a left input that fits half the L2 (64x1024, 256 KiB).
// CHECK-LABEL: func @next_rows_not
// CHECK-NOT: memref.prefetch
// CHECK: return
func.func @next_rows_not(%a: memref<16x256x256xf32>, %b: memref<16x256x256xf32>, %s: memref<64x1024xf32>, %t: memref<1024x32xf32>, %acc0: vector<1x8x4xf32>, %acc1: vector<8x32xf32>, %batch: index, %row: index, %col: index) -> (vector<1x8x4xf32>, vector<8x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c256 step %c1 iter_args(%acc = %acc0) -> (vector<1x8x4xf32>) {
    %x = vector.transfer_read %a[%batch, %row, %k], %pad {in_bounds = [true, true, true]} : memref<16x256x256xf32>, vector<1x8x1xf32>
    %y = vector.transfer_read %b[%batch, %k, %col], %pad {in_bounds = [true, true, true]} : memref<16x256x256xf32>, vector<1x1x4xf32>
    %z = vector.contract {indexing_maps = [#ba, #bb, #bc], iterator_types = ["parallel", "parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<1x8x1xf32>, vector<1x1x4xf32> into vector<1x8x4xf32>
    scf.yield %z : vector<1x8x4xf32>
  }
  %q = scf.for %k = %c0 to %c256 step %c1 iter_args(%acc = %acc1) -> (vector<8x32xf32>) {
    %x = vector.transfer_read %s[%row, %k], %pad {in_bounds = [true, true]} : memref<64x1024xf32>, vector<8x1xf32>
    %y = vector.transfer_read %t[%k, %col], %pad {in_bounds = [true, true]} : memref<1024x32xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  return %r, %q : vector<1x8x4xf32>, vector<8x32xf32>
}

// The rows of a packed panel (`[b, h, panels, 8, k]`: the tile's 8 rows
// are a whole dimension): the next tile's rows are the next panel's, row
// k mod 8 of panel p + 1, clamped to the last panel. Rows 2 KiB apart
// (512 f32) put 8 of the 16 rows in each of two L1 sets, and rows 4 KiB
// apart all 16 in one: more than 4 per set go into the L2 only
// (locality 2); rows spread over the sets into the L1 (locality 3).
// CHECK-LABEL: func @next_panel
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}}
// CHECK: %[[ROW:.*]] = arith.remui %[[K]], %c8
// CHECK: %[[NEXT:.*]] = arith.addi %[[P:arg[0-9]+]], %c1
// CHECK: %[[CLAMPED:.*]] = arith.minsi %[[NEXT]], %c63
// CHECK: memref.prefetch %[[A:arg[0-9]+]][%[[B:arg[0-9]+]], %[[H:arg[0-9]+]], %[[CLAMPED]], %[[ROW]], %[[K]]], read, locality<2>, data : memref<4x12x64x8x512xf32>
// CHECK-NOT: memref.prefetch
// CHECK: vector.transfer_read %[[A]][%[[B]], %[[H]], %[[P]], %c0, %[[K]]]
// CHECK-LABEL: func @aliasing_panel
// CHECK: memref.prefetch %{{.*}}, read, locality<2>, data : memref<128x8x1024xf32>
// CHECK-NOT: memref.prefetch
// CHECK: return
// Rows 4092 bytes apart (K = 1023): 15 of the 16 in one set.
// CHECK-LABEL: func @near_aliasing_panel
// CHECK: memref.prefetch %{{.*}}, read, locality<2>, data : memref<128x8x1023xf32>
// CHECK-NOT: memref.prefetch
// CHECK: return
// Rows 4000 bytes apart (K = 1000) spread over the sets: into the L1.
// CHECK-LABEL: func @spread_panel
// CHECK: memref.prefetch %{{.*}}, read, locality<3>, data : memref<128x8x1000xf32>
// CHECK-NOT: memref.prefetch
// CHECK: return
func.func @next_panel(%a: memref<4x12x64x8x512xf32>, %b: memref<4x12x16x64x32xf32>, %acc0: vector<8x32xf32>, %batch: index, %head: index, %panel: index, %col: index) -> vector<8x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc = %acc0) -> (vector<8x32xf32>) {
    %x = vector.transfer_read %a[%batch, %head, %panel, %c0, %k], %pad {in_bounds = [true, true]} : memref<4x12x64x8x512xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%batch, %head, %col, %k, %c0], %pad {in_bounds = [true, true]} : memref<4x12x16x64x32xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  return %r : vector<8x32xf32>
}

func.func @aliasing_panel(%a: memref<128x8x1024xf32>, %b: memref<32x256x32xf32>, %acc0: vector<8x32xf32>, %panel: index, %col: index, %kb: index) -> vector<8x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c256 step %c1 iter_args(%acc = %acc0) -> (vector<8x32xf32>) {
    %kk = affine.apply #sum()[%kb, %k]
    %x = vector.transfer_read %a[%panel, %c0, %kk], %pad {in_bounds = [true, true]} : memref<128x8x1024xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%col, %k, %c0], %pad {in_bounds = [true, true]} : memref<32x256x32xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  return %r : vector<8x32xf32>
}

func.func @near_aliasing_panel(%a: memref<128x8x1023xf32>, %b: memref<32x256x32xf32>, %acc0: vector<8x32xf32>, %panel: index, %col: index, %kb: index) -> vector<8x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c256 step %c1 iter_args(%acc = %acc0) -> (vector<8x32xf32>) {
    %kk = affine.apply #sum()[%kb, %k]
    %x = vector.transfer_read %a[%panel, %c0, %kk], %pad {in_bounds = [true, true]} : memref<128x8x1023xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%col, %k, %c0], %pad {in_bounds = [true, true]} : memref<32x256x32xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  return %r : vector<8x32xf32>
}

func.func @spread_panel(%a: memref<128x8x1000xf32>, %b: memref<32x256x32xf32>, %acc0: vector<8x32xf32>, %panel: index, %col: index, %kb: index) -> vector<8x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c256 step %c1 iter_args(%acc = %acc0) -> (vector<8x32xf32>) {
    %kk = affine.apply #sum()[%kb, %k]
    %x = vector.transfer_read %a[%panel, %c0, %kk], %pad {in_bounds = [true, true]} : memref<128x8x1000xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%col, %k, %c0], %pad {in_bounds = [true, true]} : memref<32x256x32xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  return %r : vector<8x32xf32>
}

// The direct kernel's left input read in place with a long K (100x3072,
// rows 12 KiB apart): the tile's 8 rows and the next tile's all fall in
// one L1 set, so the next rows go into the L2 only (locality 2). The
// right input's rows (3 KiB apart) are prefetched into the L1 as before.
// CHECK-LABEL: func @next_rows_far_apart
// CHECK: memref.prefetch %{{.*}}, read, locality<2>, data : memref<100x3072xf32>
// CHECK-NOT: memref.prefetch {{.*}} : memref<100x3072xf32>
// CHECK-COUNT-3: memref.prefetch %{{.*}}, read, locality<3>, data : memref<3072x768xf32>
// CHECK-NOT: memref.prefetch
// CHECK: return
func.func @next_rows_far_apart(%a: memref<100x3072xf32>, %b: memref<3072x768xf32>, %acc0: vector<8x32xf32>, %row: index, %col: index) -> vector<8x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3072 = arith.constant 3072 : index
  %pad = ub.poison : f32
  %r = scf.for %k = %c0 to %c3072 step %c1 iter_args(%acc = %acc0) -> (vector<8x32xf32>) {
    %x = vector.transfer_read %a[%row, %k], %pad {in_bounds = [true, true]} : memref<100x3072xf32>, vector<8x1xf32>
    %y = vector.transfer_read %b[%k, %col], %pad {in_bounds = [true, true]} : memref<3072x768xf32>, vector<1x32xf32>
    %z = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %x, %y, %acc : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
    scf.yield %z : vector<8x32xf32>
  }
  return %r : vector<8x32xf32>
}
