// RUN: einsum-opt %s --pass-pipeline='builtin.module(func.func(einsum-approximate-math))' | FileCheck %s

// f32 exp, log, tanh and erf, on vectors and scalars, become polynomial
// arithmetic: no math call is left for LLVM to scalarize into libm calls.
// CHECK-LABEL: func.func @f32
// CHECK-NOT: math.exp
// CHECK-NOT: math.log
// CHECK-NOT: math.tanh
// CHECK-NOT: math.erf
// CHECK: math.fma
// CHECK: return
func.func @f32(%v: vector<16xf32>, %s: f32) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, f32) {
  %e = math.exp %v : vector<16xf32>
  %l = math.log %v : vector<16xf32>
  %t = math.tanh %v : vector<16xf32>
  %r = math.erf %s : f32
  return %e, %l, %t, %r : vector<16xf32>, vector<16xf32>, vector<16xf32>, f32
}

// f16 is computed in f32 around the same polynomial.
// CHECK-LABEL: func.func @f16
// CHECK: arith.extf
// CHECK-NOT: math.exp
// CHECK: arith.truncf
func.func @f16(%v: vector<8xf16>) -> vector<8xf16> {
  %e = math.exp %v : vector<8xf16>
  return %e : vector<8xf16>
}

// f64 has no polynomial here: it is left for convert-math-to-llvm and
// convert-math-to-libm (the C library, to full precision). sqrt is left to
// the hardware instruction.
// CHECK-LABEL: func.func @f64
// CHECK: math.exp %{{.*}} : vector<8xf64>
// CHECK: math.erf %{{.*}} : f64
// CHECK: math.sqrt %{{.*}} : vector<16xf32>
func.func @f64(%v: vector<8xf64>, %s: f64, %w: vector<16xf32>) -> (vector<8xf64>, f64, vector<16xf32>) {
  %e = math.exp %v : vector<8xf64>
  %r = math.erf %s : f64
  %q = math.sqrt %w : vector<16xf32>
  return %e, %r, %q : vector<8xf64>, f64, vector<16xf32>
}

// f32 erf is one rational function x P(x^2) / Q(x^2): ten FMAs (Horner,
// degree 5 in x^2 each), one division, and the ratio kept within [-1, 1]
// by compare-and-selects that a NaN passes through.
// CHECK-LABEL: func.func @erf
// CHECK-SAME: (%[[X:.*]]: vector<16xf32>)
// CHECK: %[[XX:.*]] = arith.mulf %[[X]], %[[X]]
// CHECK: %[[BIG:.*]] = arith.cmpf ogt, %[[XX]]
// CHECK: %[[T:.*]] = arith.select %[[BIG]], %{{.*}}, %[[XX]]
// CHECK-COUNT-10: math.fma %{{.*}}, %[[T]]
// CHECK: arith.divf
// CHECK: arith.cmpf ogt
// CHECK: arith.select
// CHECK: arith.cmpf olt
// CHECK: %[[R:.*]] = arith.select
// CHECK-NOT: math.erf
// CHECK: return %[[R]]
func.func @erf(%v: vector<16xf32>) -> vector<16xf32> {
  %r = math.erf %v : vector<16xf32>
  return %r : vector<16xf32>
}
