// RUN: einsum-opt %s --split-input-file --einsum-negative-strides | FileCheck %s

// A kernel that reads an input with a negative stride: its index
// arithmetic keeps nsw and inbounds but loses nuw, which a negative offset
// would make poison.
// CHECK-LABEL: llvm.func @reversed
// CHECK: llvm.mul %{{.*}}, %{{.*}} overflow<nsw> : i64
// CHECK: llvm.add %{{.*}}, %{{.*}} overflow<nsw> : i64
// CHECK: llvm.getelementptr inbounds %{{.*}}[%{{.*}}]
// CHECK-NOT: nuw
module attributes {einsum.negative_strides} {
  llvm.func @reversed(%p: !llvm.ptr, %i: i64) -> f32 {
    %c = llvm.mlir.constant(-5 : i64) : i64
    %0 = llvm.mul %i, %c overflow<nsw, nuw> : i64
    %1 = llvm.add %0, %i overflow<nsw, nuw> : i64
    %2 = llvm.getelementptr inbounds|nuw %p[%1] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    %3 = llvm.load %2 : !llvm.ptr -> f32
    llvm.return %3 : f32
  }
}

// -----

// Unmarked modules keep their flags.
// CHECK-LABEL: llvm.func @forward
// CHECK: llvm.mul %{{.*}}, %{{.*}} overflow<nsw, nuw> : i64
// CHECK: llvm.getelementptr inbounds|nuw
module {
  llvm.func @forward(%p: !llvm.ptr, %i: i64) -> f32 {
    %c = llvm.mlir.constant(5 : i64) : i64
    %0 = llvm.mul %i, %c overflow<nsw, nuw> : i64
    %1 = llvm.getelementptr inbounds|nuw %p[%0] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    %2 = llvm.load %1 : !llvm.ptr -> f32
    llvm.return %2 : f32
  }
}
