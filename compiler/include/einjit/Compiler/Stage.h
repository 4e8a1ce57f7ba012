//===- Stage.h - The stages a kernel can be lowered to ----------*- C++ -*-===//
//
// The stages of the CPU pipeline, by name, for `einsum-run --emit=STAGE`
// and `einjit::emitEinsum`. Plain C++ (no MLIR), so the runtime's public
// headers can name a stage without pulling in MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_COMPILER_STAGE_H
#define EINJIT_COMPILER_STAGE_H

#include "llvm/ADT/StringRef.h"

#include <optional>

namespace einjit {

/// Stages a kernel can be lowered to, in pipeline order.
enum class Stage {
  Einsum, ///< einsum.contract on tensors
  Linalg, ///< linalg.generic per contraction step
  Vector, ///< tiled, vectorized and bufferized loops
  LLVM,   ///< LLVM dialect, ready for translation
};
/// "einsum", "linalg", "vector" or "llvm"; none for any other name.
std::optional<Stage> parseStage(llvm::StringRef name);

} // namespace einjit

#endif // EINJIT_COMPILER_STAGE_H
