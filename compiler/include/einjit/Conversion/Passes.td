//===- Passes.td - Conversions out of the einsum dialect ---*- tablegen -*-===//

#ifndef EINJIT_CONVERSION_PASSES
#define EINJIT_CONVERSION_PASSES

include "mlir/Pass/PassBase.td"

def ConvertEinsumToLinalg : Pass<"convert-einsum-to-linalg"> {
  let summary = "Lower einsum.contract to linalg.generic along a path";
  let description = [{
    Each `einsum.contract` is bound to its operand types and split along
    its `path` attribute (see `einsum-plan-paths`; an op of one or two
    operands needs none) into unary and pairwise contractions; the pass
    never plans. Each step becomes one `linalg.generic`:

    1. its loops are the result labels (parallel, in result order) followed
       by the summed labels (reduction, in order of appearance);
    2. an operand dimension maps to the loop of its label, so a label
       repeated in one operand reads a diagonal, and a size-1 dimension that
       broadcasts against a larger one maps to the constant 0;
    3. the body converts operands to the accumulation type (NumPy promotion;
       f32 for f16), multiplies, and adds into the accumulator, which starts
       from `linalg.fill` with zero when the step sums any label;
    4. an f16 result is truncated from its f32 accumulator at the end.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect",
                           "mlir::arith::ArithDialect",
                           "mlir::tensor::TensorDialect"];
}

#endif // EINJIT_CONVERSION_PASSES
