// RUN: einsum-opt %s --einsum-expand-bf16 | FileCheck %s

// Widening is a shift of the bits; rounding adds 0x7fff plus the lowest
// kept bit, and a NaN becomes the quiet NaN 0x7fc0; both on vectors too.
// Other arith ops (maximumf) stay for LLVM.
// CHECK-LABEL: func @convert
// CHECK-DAG: %[[ONE:.*]] = arith.constant dense<1> : vector<16xi32>
// CHECK-DAG: %[[NAN:.*]] = arith.constant dense<32704> : vector<16xi16>
// CHECK-DAG: %[[HALF:.*]] = arith.constant dense<32767> : vector<16xi32>
// CHECK-DAG: %[[SIXTEEN:.*]] = arith.constant dense<16> : vector<16xi32>
// CHECK-NOT: arith.extf
// CHECK: %[[A16:.*]] = arith.bitcast %{{.*}} : vector<16xbf16> to vector<16xi16>
// CHECK: %[[A32:.*]] = arith.extui %[[A16]] : vector<16xi16> to vector<16xi32>
// CHECK: %[[SHIFTED:.*]] = arith.shli %[[A32]], %[[SIXTEEN]]
// CHECK: %[[A:.*]] = arith.bitcast %[[SHIFTED]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[MAX:.*]] = arith.maximumf %[[A]], %{{.*}} : vector<16xf32>
// CHECK: %[[ISNAN:.*]] = arith.cmpf une, %[[MAX]], %[[MAX]]
// CHECK: %[[BITS:.*]] = arith.bitcast %[[MAX]] : vector<16xf32> to vector<16xi32>
// CHECK: %[[HIGH:.*]] = arith.shrui %[[BITS]], %[[SIXTEEN]]
// CHECK: %[[ODD:.*]] = arith.andi %[[HIGH]], %[[ONE]]
// CHECK: %[[BIAS:.*]] = arith.addi %[[ODD]], %[[HALF]]
// CHECK: %[[SUM:.*]] = arith.addi %[[BITS]], %[[BIAS]]
// CHECK: %[[TOP:.*]] = arith.shrui %[[SUM]], %[[SIXTEEN]]
// CHECK: %[[T16:.*]] = arith.trunci %[[TOP]] : vector<16xi32> to vector<16xi16>
// CHECK: %[[R:.*]] = arith.select %[[ISNAN]], %[[NAN]], %[[T16]]
// CHECK: arith.bitcast %[[R]] : vector<16xi16> to vector<16xbf16>
// CHECK-NOT: arith.truncf
func.func @convert(%a: vector<16xbf16>, %b: vector<16xf32>) -> vector<16xbf16> {
  %0 = arith.extf %a : vector<16xbf16> to vector<16xf32>
  %1 = arith.maximumf %0, %b : vector<16xf32>
  %2 = arith.truncf %1 : vector<16xf32> to vector<16xbf16>
  return %2 : vector<16xbf16>
}
