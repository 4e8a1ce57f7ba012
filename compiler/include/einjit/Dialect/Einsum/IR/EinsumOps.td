//===- EinsumOps.td - Operations of the einsum dialect -----*- tablegen -*-===//

#ifndef EINSUM_OPS
#define EINSUM_OPS

include "einjit/Dialect/Einsum/IR/EinsumDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Einsum_ContractOp : Einsum_Op<"contract", [Pure]> {
  let summary = "Einstein summation over any number of tensors";
  let description = [{
    Computes `numpy.einsum(equation, *inputs)`. The equation follows NumPy
    exactly: explicit (`->`) or implicit output, `...` with broadcasting,
    repeated labels for diagonals, size-1 dimensions broadcasting. Operands
    must have static shapes. The result element type is NumPy's promotion of
    the operand types (`einjit::promoteTypes`); f16 and bf16 operands
    accumulate in f32, ints wrap in their own width.

    Element types are signless: i8 is an int8. `dtypes`, when present,
    names the NumPy dtype of each operand and then of the result where the
    MLIR type does not say it: `u8`, `u16`, `u32`, `u64` (stored as i8 to
    i64, widened with zeros) and `bool` (stored as i8, 0 or 1; products are
    ANDs and sums ORs, as in NumPy).

    The verifier binds the equation to the operand types and checks the
    result type against the shape and dtype it implies.

    `path`, when present, is the contraction path, planned once (by the
    runtime, or by `einsum-plan-paths`): one array per step naming the
    values it contracts, one or two. Operands are values 0 to n-1 and step
    k makes value n+k; every value is consumed once and the last step makes
    the result. Each step sums a label as soon as nothing left needs it.
    `convert-einsum-to-linalg` lowers along it and never plans; an op of
    three or more operands needs one.

    Example:

    ```mlir
    %c = einsum.contract "ij,jk->ik" %a, %b
        : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
    %m = einsum.contract "ij,jk->ik" %p, %q {dtypes = ["u8", "i8", "i16"]}
        : (tensor<2x3xi8>, tensor<3x4xi8>) -> tensor<2x4xi16>
    %v = einsum.contract "ij,jk,k->i" %a, %b, %x
        {path = [array<i64: 1, 2>, array<i64: 0, 3>]}
        : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<2xf32>
    ```
  }];

  let arguments = (ins StrAttr:$equation,
                       Variadic<AnyStaticShapeTensor>:$inputs,
                       OptionalAttr<TypedArrayAttrBase<DenseI64ArrayAttr,
                         "contraction path steps">>:$path,
                       OptionalAttr<StrArrayAttr>:$dtypes);
  let results = (outs AnyStaticShapeTensor:$result);

  let assemblyFormat = [{
    $equation $inputs attr-dict `:` functional-type($inputs, $result)
  }];
  let hasVerifier = 1;
}

def Einsum_DotU8I8Op : Einsum_Op<"dot_u8i8", [Pure,
    AllTypesMatch<["acc", "result", "a", "b"]>]> {
  let summary = "Groups of four u8 x i8 products added to i32 lanes";
  let description = [{
    `result[i] = acc[i] + sum over j < 4 of
    zext(a.bytes[4i + j]) * sext(b.bytes[4i + j])`, with the i32 lanes of
    `a` and `b` seen as four bytes each (little-endian) and the sum wrapping
    in 32 bits: AVX512-VNNI's `vpdpbusd`. The micro-kernels of
    einsum-tile-and-vectorize build it; einsum-lower-dot-products turns it
    into the `llvm.x86.avx512.vpdpbusd.512` intrinsic after bufferization
    (a call with memory effects would not bufferize).

    Example:
    ```mlir
    %r = einsum.dot_u8i8 %acc, %a, %b : vector<16xi32>
    ```
  }];
  let arguments = (ins VectorOfLengthAndType<[16], [I32]>:$acc,
                       VectorOfLengthAndType<[16], [I32]>:$a,
                       VectorOfLengthAndType<[16], [I32]>:$b);
  let results = (outs VectorOfLengthAndType<[16], [I32]>:$result);
  let assemblyFormat = "$acc `,` $a `,` $b attr-dict `:` type($result)";
}

#endif // EINSUM_OPS
