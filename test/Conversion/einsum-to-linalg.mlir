// RUN: einsum-opt %s --split-input-file --convert-einsum-to-linalg | FileCheck %s

// -----

// CHECK-DAG: #[[$MA:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$MB:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[$MC:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func @matmul
// CHECK: %[[FILL:.*]] = linalg.fill
// CHECK: linalg.generic {indexing_maps = [#[[$MA]], #[[$MB]], #[[$MC]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%[[FILL]] : tensor<2x4xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @matmul(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-DAG: #[[$BA:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[$BB:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[$BC:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func @batch_matmul
// CHECK: linalg.generic {indexing_maps = [#[[$BA]], #[[$BB]], #[[$BC]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
func.func @batch_matmul(%a: tensor<5x2x3xf32>, %b: tensor<5x3x4xf32>) -> tensor<5x2x4xf32> {
  %0 = einsum.contract "bij,bjk->bik" %a, %b : (tensor<5x2x3xf32>, tensor<5x3x4xf32>) -> tensor<5x2x4xf32>
  return %0 : tensor<5x2x4xf32>
}

// -----

// CHECK-DAG: #[[$TD:.*]] = affine_map<(d0) -> (d0, d0)>
// CHECK-DAG: #[[$TS:.*]] = affine_map<(d0) -> ()>
// CHECK-LABEL: func @trace
// CHECK: linalg.fill
// CHECK: linalg.generic {indexing_maps = [#[[$TD]], #[[$TS]]], iterator_types = ["reduction"]}
// CHECK: arith.addf
func.func @trace(%a: tensor<4x4xf64>) -> tensor<f64> {
  %0 = einsum.contract "ii->" %a : (tensor<4x4xf64>) -> tensor<f64>
  return %0 : tensor<f64>
}

// -----

// CHECK-DAG: #[[$DD:.*]] = affine_map<(d0) -> (d0, d0)>
// CHECK-DAG: #[[$DI:.*]] = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func @diagonal
// CHECK-NOT: linalg.fill
// CHECK: linalg.generic {indexing_maps = [#[[$DD]], #[[$DI]]], iterator_types = ["parallel"]}
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f64, %{{.*}}: f64):
// CHECK-NEXT: linalg.yield %[[IN]] : f64
func.func @diagonal(%a: tensor<4x4xf64>) -> tensor<4xf64> {
  %0 = einsum.contract "ii->i" %a : (tensor<4x4xf64>) -> tensor<4xf64>
  return %0 : tensor<4xf64>
}

// -----

// CHECK-DAG: #[[$OA:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[$OB:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[$OC:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func @outer
// CHECK-NOT: linalg.fill
// CHECK: linalg.generic {indexing_maps = [#[[$OA]], #[[$OB]], #[[$OC]]], iterator_types = ["parallel", "parallel"]}
// CHECK: arith.mulf
// CHECK-NOT: arith.addf
func.func @outer(%a: tensor<3xf32>, %b: tensor<5xf32>) -> tensor<3x5xf32> {
  %0 = einsum.contract "i,j->ij" %a, %b : (tensor<3xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// CHECK-DAG: #[[$PA:.*]] = affine_map<(d0, d1, d2) -> (d1, d2, d0)>
// CHECK-DAG: #[[$PB:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func @transpose
// CHECK: linalg.generic {indexing_maps = [#[[$PA]], #[[$PB]]], iterator_types = ["parallel", "parallel", "parallel"]}
func.func @transpose(%a: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %0 = einsum.contract "ijk->kij" %a : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  return %0 : tensor<4x2x3xf32>
}

// -----

// CHECK-DAG: #[[$EA:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[$EB:.*]] = affine_map<(d0, d1, d2, d3) -> (d3, d2)>
// CHECK-DAG: #[[$EC:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func @ellipsis
// CHECK: linalg.generic {indexing_maps = [#[[$EA]], #[[$EB]], #[[$EC]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
func.func @ellipsis(%a: tensor<6x2x3xf32>, %b: tensor<3x4xf32>) -> tensor<6x2x4xf32> {
  %0 = einsum.contract "...ij,...jk->...ik" %a, %b : (tensor<6x2x3xf32>, tensor<3x4xf32>) -> tensor<6x2x4xf32>
  return %0 : tensor<6x2x4xf32>
}

// -----

// CHECK-DAG: #[[$TA:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$TB:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[$TC:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func @three_operands
// CHECK-SAME: (%[[A:.*]]: tensor<8x2xf32>, %[[B:.*]]: tensor<2x8xf32>, %[[C:.*]]: tensor<8xf32>)
// The path contracts B with C first: a 2-vector, not an 8x8 matrix.
// CHECK: %[[BC:.*]] = linalg.generic {indexing_maps = [#[[$TA]], #[[$TB]], #[[$TC]]], iterator_types = ["parallel", "reduction"]} ins(%[[B]], %[[C]] : tensor<2x8xf32>, tensor<8xf32>) outs(%{{.*}} : tensor<2xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[$TA]], #[[$TB]], #[[$TC]]], iterator_types = ["parallel", "reduction"]} ins(%[[A]], %[[BC]] : tensor<8x2xf32>, tensor<2xf32>) outs(%{{.*}} : tensor<8xf32>)
func.func @three_operands(%a: tensor<8x2xf32>, %b: tensor<2x8xf32>, %c: tensor<8xf32>) -> tensor<8xf32> {
  %0 = einsum.contract "ij,jk,k->i" %a, %b, %c {path = [array<i64: 1, 2>, array<i64: 0, 3>]} : (tensor<8x2xf32>, tensor<2x8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

// The other order, as the path says: A with B first, an 8x8 matrix.
// CHECK-LABEL: func @three_operands_other_path
// CHECK-SAME: (%[[A:.*]]: tensor<8x2xf32>, %[[B:.*]]: tensor<2x8xf32>, %[[C:.*]]: tensor<8xf32>)
// CHECK: %[[AB:.*]] = linalg.generic {{.*}} ins(%[[A]], %[[B]] : tensor<8x2xf32>, tensor<2x8xf32>) outs(%{{.*}} : tensor<8x8xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[AB]], %[[C]] : tensor<8x8xf32>, tensor<8xf32>) outs(%{{.*}} : tensor<8xf32>)
func.func @three_operands_other_path(%a: tensor<8x2xf32>, %b: tensor<2x8xf32>, %c: tensor<8xf32>) -> tensor<8xf32> {
  %0 = einsum.contract "ij,jk,k->i" %a, %b, %c {path = [array<i64: 0, 1>, array<i64: 3, 2>]} : (tensor<8x2xf32>, tensor<2x8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

// A private label summed by a unary step first, then the pair.
// CHECK-LABEL: func @unary_step
// CHECK-SAME: (%[[A:.*]]: tensor<3x5xf32>, %[[B:.*]]: tensor<3x4xf32>, %[[C:.*]]: tensor<4xf32>)
// CHECK: %[[S:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[A]] : tensor<3x5xf32>) outs(%{{.*}} : tensor<3xf32>)
// CHECK: %[[BC:.*]] = linalg.generic {{.*}} ins(%[[B]], %[[C]] : tensor<3x4xf32>, tensor<4xf32>) outs(%{{.*}} : tensor<3xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[S]], %[[BC]] : tensor<3xf32>, tensor<3xf32>) outs(%{{.*}} : tensor<f32>)
func.func @unary_step(%a: tensor<3x5xf32>, %b: tensor<3x4xf32>, %c: tensor<4xf32>) -> tensor<f32> {
  %0 = einsum.contract "ix,ij,j->" %a, %b, %c {path = [array<i64: 0>, array<i64: 1, 2>, array<i64: 3, 4>]} : (tensor<3x5xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// CHECK-DAG: #[[$BR0:.*]] = affine_map<(d0, d1) -> (d0, 0)>
// CHECK-DAG: #[[$BR1:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func @broadcast
// CHECK: linalg.generic {indexing_maps = [#[[$BR0]], #[[$BR1]], #[[$BR1]]], iterator_types = ["parallel", "parallel"]}
func.func @broadcast(%a: tensor<3x1xf32>, %b: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %0 = einsum.contract "ij,ij->ij" %a, %b : (tensor<3x1xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// CHECK-LABEL: func @half
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<f32>)
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: arith.mulf %{{.*}} : f32
// CHECK: arith.addf %{{.*}} : f32
// CHECK: linalg.generic
// CHECK: arith.truncf %{{.*}} : f32 to f16
func.func @half(%a: tensor<8xf16>, %b: tensor<8xf16>) -> tensor<f16> {
  %0 = einsum.contract "i,i->" %a, %b : (tensor<8xf16>, tensor<8xf16>) -> tensor<f16>
  return %0 : tensor<f16>
}

// -----

// CHECK-LABEL: func @mixed
// CHECK: arith.sitofp %{{.*}} : i32 to f64
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: arith.mulf %{{.*}} : f64
func.func @mixed(%a: tensor<3xi32>, %b: tensor<3xf32>) -> tensor<f64> {
  %0 = einsum.contract "i,i" %a, %b : (tensor<3xi32>, tensor<3xf32>) -> tensor<f64>
  return %0 : tensor<f64>
}

// -----

// An output that repeats a label (einjit's extension): the einsum with the
// label once, then one generic over the whole output that writes it where
// the repeated dims' indices agree and 0 elsewhere (no init is read).
// CHECK-DAG: #[[$DI:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$DO:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func @diagonal_output
// CHECK: %[[SUM:.*]] = linalg.generic
// CHECK-SAME: outs(%{{.*}} : tensor<3x2xf32>)
// CHECK: %[[EMPTY:.*]] = tensor.empty() : tensor<3x2x3xf32>
// CHECK: linalg.generic {indexing_maps = [#[[$DI]], #[[$DO]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[SUM]] : tensor<3x2xf32>) outs(%[[EMPTY]] : tensor<3x2x3xf32>)
// CHECK: %[[I:.*]] = linalg.index 0
// CHECK: %[[K:.*]] = linalg.index 2
// CHECK: %[[SAME:.*]] = arith.cmpi eq, %[[I]], %[[K]]
// CHECK: arith.select %[[SAME]]
func.func @diagonal_output(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<3x2x3xf32> {
  %0 = einsum.contract "ij,ij->jij" %a, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<3x2x3xf32>
  return %0 : tensor<3x2x3xf32>
}

// -----

// dtypes: a u8 widens with zeros and an i8 with its sign, into i16.
// CHECK-LABEL: func @unsigned
// CHECK: arith.extui %{{.*}} : i8 to i16
// CHECK: arith.extsi %{{.*}} : i8 to i16
// CHECK: arith.muli %{{.*}} : i16
// CHECK: arith.addi %{{.*}} : i16
func.func @unsigned(%a: tensor<3xi8>, %b: tensor<3xi8>) -> tensor<i16> {
  %0 = einsum.contract "i,i->" %a, %b {dtypes = ["u8", "i8", "i16"]} : (tensor<3xi8>, tensor<3xi8>) -> tensor<i16>
  return %0 : tensor<i16>
}

// -----

// Bools multiply as ANDs and sum as ORs; a bf16 sums in f32 and rounds
// back.
// CHECK-LABEL: func @bools
// CHECK: arith.andi %{{.*}} : i8
// CHECK: arith.ori %{{.*}} : i8
// CHECK-LABEL: func @bf16
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.addf %{{.*}} : f32
// CHECK: arith.truncf %{{.*}} : f32 to bf16
func.func @bools(%a: tensor<2x3xi8>, %b: tensor<3x4xi8>) -> tensor<2x4xi8> {
  %0 = einsum.contract "ij,jk->ik" %a, %b {dtypes = ["bool", "bool", "bool"]} : (tensor<2x3xi8>, tensor<3x4xi8>) -> tensor<2x4xi8>
  return %0 : tensor<2x4xi8>
}
func.func @bf16(%a: tensor<5xbf16>) -> tensor<bf16> {
  %0 = einsum.contract "i->" %a : (tensor<5xbf16>) -> tensor<bf16>
  return %0 : tensor<bf16>
}

// -----

// A GEMM on bf16 converts each operand to f32 first (one generic each),
// so that the contraction is an f32 GEMM; a dot product (no label of each
// operand's own) converts inside its one generic instead (@half above).
// CHECK-LABEL: func @bf16_gemm
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<5x7xbf16>) outs(%{{.*}} : tensor<5x7xf32>)
// CHECK: %[[B:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<7x3xbf16>) outs(%{{.*}} : tensor<7x3xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[A]], %[[B]] : tensor<5x7xf32>, tensor<7x3xf32>) outs(%{{.*}} : tensor<5x3xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<5x3xf32>) outs(%{{.*}} : tensor<5x3xbf16>)
func.func @bf16_gemm(%a: tensor<5x7xbf16>, %b: tensor<7x3xbf16>) -> tensor<5x3xbf16> {
  %0 = einsum.contract "ij,jk->ik" %a, %b : (tensor<5x7xbf16>, tensor<7x3xbf16>) -> tensor<5x3xbf16>
  return %0 : tensor<5x3xbf16>
}

// -----

// complex64 operands are stored as pairs (a last dim of 2). A product of
// two complex operands is one real contraction: x's pair dim c against the
// product matrix of y, [k, c, n, d] = [[re, im], [-im, re]], keeping d,
// so that {k, c} and {n, d} each run as one GEMM loop.
// CHECK-DAG: #[[$RE:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, 0)>
// CHECK-DAG: #[[$IM:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, 1)>
// CHECK-DAG: #[[$X:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d4)>
// CHECK-DAG: #[[$Y:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d3, d4, d1, d2)>
// CHECK-DAG: #[[$OUT:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2)>
// CHECK-LABEL: func @complex_product
// CHECK: %[[M:.*]] = linalg.generic {indexing_maps = [#[[$RE]], #[[$IM]], {{.*}}]{{.*}} outs(%{{.*}} : tensor<7x2x3x2xf32>)
// CHECK: linalg.index 1
// CHECK: linalg.index 3
// CHECK: arith.negf
// CHECK: linalg.generic {indexing_maps = [#[[$X]], #[[$Y]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]}
// CHECK-SAME: ins(%{{.*}}, %[[M]] : tensor<5x7x2xf32>, tensor<7x2x3x2xf32>) outs(%{{.*}} : tensor<5x3x2xf32>)
func.func @complex_product(%a: tensor<5x7x2xf32>, %b: tensor<7x3x2xf32>) -> tensor<5x3x2xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b {dtypes = ["c64", "c64", "c64"]} : (tensor<5x7x2xf32>, tensor<7x3x2xf32>) -> tensor<5x3x2xf32>
  return %0 : tensor<5x3x2xf32>
}

// -----

// A complex and a real operand: a real contraction per part, each part a
// strided slice of the pairs, joined by two insert_slices.
// CHECK-LABEL: func @complex_by_real
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0] [5, 7, 1] [1, 1, 1] : tensor<5x7x2xf32> to tensor<5x7xf32>
// CHECK: linalg.generic
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 1] [5, 7, 1] [1, 1, 1] : tensor<5x7x2xf32> to tensor<5x7xf32>
// CHECK: linalg.generic
// CHECK: tensor.insert_slice %{{.*}}[0, 0, 0] [5, 3, 1] [1, 1, 1] : tensor<5x3xf32> into tensor<5x3x2xf32>
// CHECK: tensor.insert_slice %{{.*}}[0, 0, 1] [5, 3, 1] [1, 1, 1] : tensor<5x3xf32> into tensor<5x3x2xf32>
func.func @complex_by_real(%a: tensor<5x7x2xf32>, %b: tensor<7x3xf32>) -> tensor<5x3x2xf32> {
  %0 = einsum.contract "ij,jk->ik" %a, %b {dtypes = ["c64", "f32", "c64"]} : (tensor<5x7x2xf32>, tensor<7x3xf32>) -> tensor<5x3x2xf32>
  return %0 : tensor<5x3x2xf32>
}
