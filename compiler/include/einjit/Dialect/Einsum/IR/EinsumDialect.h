//===- EinsumDialect.h - The einsum dialect ---------------------*- C++ -*-===//

#ifndef EINJIT_DIALECT_EINSUM_IR_EINSUMDIALECT_H
#define EINJIT_DIALECT_EINSUM_IR_EINSUMDIALECT_H

#include "mlir/IR/Dialect.h"

#include "einjit/Dialect/Einsum/IR/EinsumOpsDialect.h.inc"

#endif // EINJIT_DIALECT_EINSUM_IR_EINSUMDIALECT_H
