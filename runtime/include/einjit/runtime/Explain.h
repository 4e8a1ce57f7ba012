//===- Explain.h - What einjit will do with an einsum, in words -*- C++ -*-===//
//
// `einjit::explain` plans an einsum as a call would (the same
// planContraction, the same options) and tells the plan: strategy, naive
// and optimised flops, the largest intermediate, and for each step the
// contraction, its shape, its flops and the CPU kernel that runs it, with
// why, for the current target. In the spirit of numpy.einsum_path, which
// tells the first three. Nothing is compiled to machine code.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_EXPLAIN_H
#define EINJIT_RUNTIME_EXPLAIN_H

#include "einjit/Compiler/KernelChoice.h"
#include "einjit/Spec/Path.h"
#include "einjit/runtime/Tensor.h"

#include <string>
#include <vector>

namespace einjit {

struct ExplainedStep {
  /// Values contracted: operands 0..n-1, step k's result n+k.
  std::vector<int> operands;
  /// The step as an einsum over the equation's labels ("ij,jk->ik").
  std::string contraction;
  std::vector<int64_t> shape;
  double flops = 0;
  KernelChoice kernel;
};

struct Explanation {
  std::string equation;
  /// "f32[64x128]" per operand.
  std::vector<std::string> operands;
  /// "i16[3x5] (accumulated in i16)": the result's dtype and shape, and
  /// the type its sums run in.
  std::string result;
  std::string strategy, chosen;
  int64_t memoryLimitBytes = 0;
  double naiveFlops = 0, flops = 0;
  /// Elements and bytes of the largest intermediate, and its shape.
  int64_t largestIntermediate = 0, largestIntermediateBytes = 0;
  std::vector<int64_t> largestShape;
  /// Seconds one planContraction call takes (the mean of several).
  double planSeconds = 0;
  /// "((0,1),2)".
  std::string path;
  /// Letters standing for the ellipsis' dimensions in `contraction`s.
  std::string ellipsisLetters;
  std::vector<ExplainedStep> steps;
  /// "AVX-512" and the target's details.
  std::string isa, target;

  /// The text einsum-run --explain prints.
  std::string str() const;
  /// The same as one JSON object (einsum-run --explain=json).
  std::string json() const;
};

/// Explains `equation` on operands of these shapes and dtypes, planned with
/// `options`, for the runtime's current target.
llvm::Expected<Explanation> explain(llvm::StringRef equation,
                                    llvm::ArrayRef<std::vector<int64_t>> shapes,
                                    llvm::ArrayRef<DType> types,
                                    const PlanOptions &options = {});

} // namespace einjit

#endif // EINJIT_RUNTIME_EXPLAIN_H
