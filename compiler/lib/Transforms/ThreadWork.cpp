//===- ThreadWork.cpp - When a loop nest is worth threads -----------------===//
//
// See ThreadWork.h.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/ThreadWork.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

bool einsum::callsMath(Operation *op) {
  return op
      ->walk([](Operation *inner) {
        return isa<math::MathDialect>(inner->getDialect())
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}
