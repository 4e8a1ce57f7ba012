//===- EinsumDialect.td - The einsum dialect ---------------*- tablegen -*-===//

#ifndef EINSUM_DIALECT
#define EINSUM_DIALECT

include "mlir/IR/OpBase.td"

def Einsum_Dialect : Dialect {
  let name = "einsum";
  let summary = "Einstein summation as a single operation";
  let description = [{
    The einsum dialect holds contractions written in NumPy's einsum notation.
    An `einsum.contract` keeps the whole equation, so passes can plan the
    contraction order before it is lowered to `linalg`.
  }];
  let cppNamespace = "::mlir::einsum";
}

class Einsum_Op<string mnemonic, list<Trait> traits = []>
    : Op<Einsum_Dialect, mnemonic, traits>;

#endif // EINSUM_DIALECT
