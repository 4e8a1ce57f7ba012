// RUN: einsum-opt %s --einsum-workspace --split-input-file --verify-diagnostics --allow-unregistered-dialect | FileCheck %s

// Buffers live at the same time get disjoint 64-byte aligned offsets; one
// whose life starts after another's ends reuses its bytes.
// CHECK: module attributes {einsum.workspace_bytes = 4108 : i64}
// CHECK-LABEL: func @reuse
// CHECK-SAME: (%[[A:.*]]: memref<32x32xf32>, %[[WS:.*]]: memref<4108xi8>)
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C4096:.*]] = arith.constant 4096 : index
// CHECK: %[[BIG:.*]] = memref.view %[[WS]][%[[C0]]][] : memref<4108xi8> to memref<32x32xf32>
// CHECK: %[[SMALL:.*]] = memref.view %[[WS]][%[[C4096]]][] : memref<4108xi8> to memref<3xf32>
// CHECK: %[[LATER:.*]] = memref.view %[[WS]][%[[C0]]][] : memref<4108xi8> to memref<5x7xf64>
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.dealloc
func.func @reuse(%a: memref<32x32xf32>) {
  %big = memref.alloc() {alignment = 64 : i64} : memref<32x32xf32>
  %small = memref.alloc() {alignment = 64 : i64} : memref<3xf32>
  memref.copy %a, %big : memref<32x32xf32> to memref<32x32xf32>
  %sub = memref.subview %big[0, 0] [1, 3] [1, 1] : memref<32x32xf32> to memref<3xf32, strided<[1]>>
  memref.copy %sub, %small : memref<3xf32, strided<[1]>> to memref<3xf32>
  memref.dealloc %big : memref<32x32xf32>
  %later = memref.alloc() : memref<5x7xf64>
  "test.use"(%later, %small) : (memref<5x7xf64>, memref<3xf32>) -> ()
  return
}

// -----

// A kernel without buffers still takes the (empty) workspace argument.
// CHECK: module attributes {einsum.workspace_bytes = 0 : i64}
// CHECK-LABEL: func @none
// CHECK-SAME: (%{{.*}}: memref<4xf32>, %{{.*}}: memref<0xi8>)
func.func @none(%a: memref<4xf32>) {
  return
}

// -----

// The use of an alias inside a loop keeps the buffer alive through the loop.
// CHECK-LABEL: func @loop_use
// CHECK: memref.view %{{.*}}[%[[C0:.*]]][] : memref<{{.*}}xi8> to memref<16xf32>
// CHECK-NOT: memref.view %{{.*}}[%[[C0]]][] : memref<{{.*}}xi8> to memref<8xf32>
func.func @loop_use(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = memref.alloc() : memref<16xf32>
  %cast = memref.cast %a : memref<16xf32> to memref<?xf32>
  %b = memref.alloc() : memref<8xf32>
  scf.for %i = %c0 to %n step %c1 {
    "test.use"(%cast, %b) : (memref<?xf32>, memref<8xf32>) -> ()
  }
  return
}

// -----

// An allocation inside a sequential loop is made afresh by each iteration:
// one buffer serves them all, live for the whole loop.
// CHECK-LABEL: func @in_loop
// CHECK-SAME: (%{{.*}}: index, %[[WS:.*]]: memref<64xi8>)
// CHECK: scf.for
// CHECK: memref.view %[[WS]][%{{.*}}][] : memref<64xi8> to memref<16xf32>
func.func @in_loop(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %a = memref.alloc() : memref<16xf32>
    "test.use"(%a) : (memref<16xf32>) -> ()
  }
  return
}

// -----

// Iterations of a parallel loop may run at once: one copy each, 64-byte
// aligned, chosen by the linearized iteration number (here 3 x 2 copies of
// 12 bytes, 64 apart).
// CHECK-LABEL: func @in_forall
// CHECK-SAME: (%[[WS:.*]]: memref<384xi8>)
// CHECK: scf.forall (%[[I:.*]], %[[J:.*]]) = (0, 0) to (6, 4) step (2, 2)
// CHECK: %[[IT:.*]] = arith.divui %{{.*}}, %c2
// CHECK: %[[JT:.*]] = arith.divui %{{.*}}, %c2
// CHECK: %[[ROW:.*]] = arith.muli %{{.*}}, %c2
// CHECK: %[[LIN:.*]] = arith.addi %[[ROW]], %[[JT]]
// CHECK: %[[BYTES:.*]] = arith.muli %[[LIN]], %c64
// CHECK: %[[OFF:.*]] = arith.addi %{{.*}}, %[[BYTES]]
// CHECK: memref.view %[[WS]][%[[OFF]]][] : memref<384xi8> to memref<3xf32>
func.func @in_forall() {
  scf.forall (%i, %j) = (0, 0) to (6, 4) step (2, 2) {
    %a = memref.alloc() : memref<3xf32>
    "test.use"(%a, %i, %j) : (memref<3xf32>, index, index) -> ()
  }
  return
}

// -----

func.func @dynamic(%n: index) {
  // expected-error @+1 {{cannot be placed in the workspace: only allocations of static shape and identity layout can}}
  %a = memref.alloc(%n) : memref<?xf32>
  "test.use"(%a) : (memref<?xf32>) -> ()
  return
}
