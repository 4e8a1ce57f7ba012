//===- Graph.h - A traced function's ops, in order --------------*- C++ -*-===//
//
// What einjit::Function records when it traces a callable on symbolic
// tensors: its inputs, then each einsum or eager op it called, in order,
// each bound (shapes and dtypes checked, result shape and dtype known),
// and the nodes it returned. The compiler builds one kernel module from a
// Graph (buildGraphModule); its text (str) is the kernel cache's key.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_SPEC_GRAPH_H
#define EINJIT_SPEC_GRAPH_H

#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Ops.h"
#include "einjit/Spec/Path.h"

#include <optional>
#include <string>
#include <vector>

namespace einjit {

struct GraphNode {
  enum class Kind : uint8_t { Input, Einsum, Op, Constant };
  Kind kind = Kind::Input;
  /// Earlier nodes this one reads, in operand order.
  std::vector<int> operands;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  /// Input nodes: the strides the kernel reads the argument with in place
  /// (elements); empty: contiguous.
  std::vector<int64_t> strides;
  /// Einsum nodes: the bound equation and the path it is contracted along.
  std::optional<BoundEquation> eq;
  std::optional<ContractionPath> path;
  /// Op nodes: the op's signature.
  std::optional<OpSignature> op;
  /// Constant nodes: every element's value.
  double value = 0;
};

struct Graph {
  /// The function's name, for messages.
  std::string name;
  std::vector<GraphNode> nodes;
  /// The node of each argument and of each result, in order. A result may
  /// be an argument, and one node may be returned more than once.
  std::vector<int> inputs, outputs;

  /// Adds an argument of `shape` and `dtype`, read with `strides` (empty:
  /// contiguous); its node id.
  int addInput(llvm::ArrayRef<int64_t> shape, DType dtype,
               llvm::ArrayRef<int64_t> strides = {});
  /// Adds an einsum of `operands` (bound as `eq`, along `path`).
  int addEinsum(BoundEquation eq, ContractionPath path,
                llvm::ArrayRef<int> operands);
  /// Adds an op of `operands` (bound as `sig`).
  int addOp(OpSignature sig, llvm::ArrayRef<int> operands);
  /// Adds a tensor of `shape` and `dtype` with every element `value`.
  int addConstant(llvm::ArrayRef<int64_t> shape, DType dtype, double value);

  /// Whether some node has a dimension of size 0.
  bool hasEmptyTensor() const;
  /// One line per node and one for the results: everything a kernel is
  /// built from, exactly (scalars in hex), so equal texts build equal
  /// kernels.
  std::string str() const;
};

/// Whether `graph` computes each row of its results (their dim 0) from the
/// same rows of the arguments marked in `batched` (theirs), so that it can
/// run as pieces along that dim: a batch. An op fails it by mixing rows
/// (a sum or max over the dim, a softmax along it, an einsum that sums its
/// label) or by meeting a tensor of the batch's size that does not carry
/// it; a result fails it by not leading with the dim. The error names the
/// op or the result.
llvm::Error checkBatchSeparable(const Graph &graph,
                                const std::vector<bool> &batched);

} // namespace einjit

#endif // EINJIT_SPEC_GRAPH_H
