//===- Tape.h - Reverse-mode gradients: GradientTape, Variable --*- C++ -*-===//
//
// As tf.GradientTape: while a tape lives, the eager ops run on the calling
// thread (einsum, the elementwise ops, reductions, softmaxes, and the views
// reshape, transpose, slice and broadcastTo) are recorded when an operand
// is watched or was made by a recorded op. `gradient` then walks the
// records backwards. An einsum's gradient is another einsum (Spec/Grad.h);
// the other ops have their own rules (docs/autodiff.md).
//
//   einjit::Variable w(*einjit::Tensor::allocate(einjit::DType::F32, {3, 2}));
//   einjit::GradientTape tape;
//   auto y = einjit::einsum("ij,jk->ik", {x, w.value()}); // w is watched
//   auto loss = einjit::sum(*einjit::mul(*y, *y));
//   auto grads = tape.gradient(*loss, {w.value()}); // d loss / d w
//
// Tapes nest: the gradient ops one tape runs are recorded by the tapes
// around it, which gives higher derivatives. A tape records the ops of the
// thread that made it, and is used on that thread; destroyed anywhere, it
// stops recording (it is not movable).
//
// Tensors are told apart by Tensor::id(): copies of one handle are one
// tensor; a view or a new result is another.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_TAPE_H
#define EINJIT_RUNTIME_TAPE_H

#include "einjit/Spec/Grad.h"
#include "einjit/runtime/Tensor.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace einjit {

/// A trainable (or not) tensor that keeps its identity across updates, as
/// tf.Variable. Copies of a Variable are handles on the same variable.
/// Reading `value()` while a tape records watches it (if trainable), as
/// TensorFlow's tapes watch the trainable variables they see accessed.
class Variable {
public:
  Variable() = default;
  explicit Variable(Tensor initial, std::string name = "",
                    bool trainable = true);

  /// The current value (watched by the thread's recording tapes).
  const Tensor &value() const;
  /// Replaces the value; an error when the dtype or shape differs.
  llvm::Error assign(Tensor value);
  const std::string &name() const;
  bool trainable() const;
  bool defined() const { return state != nullptr; }
  /// Same variable (not equal values).
  bool operator==(const Variable &other) const { return state == other.state; }
  /// Identity for maps (optimizer slots).
  const void *key() const { return state.get(); }

private:
  struct State;
  std::shared_ptr<State> state;
};

/// What `gradient` gives for a source the target does not depend on.
enum class UnconnectedGradients : uint8_t {
  /// An undefined Tensor (Tensor::defined() is false), as TensorFlow's None.
  None,
  /// Zeros of the source's shape and dtype.
  Zero,
};

class GradientTape {
public:
  /// A persistent tape can give gradients more than once; a tape that is
  /// not gives them once and then drops its records.
  explicit GradientTape(bool persistent = false,
                        bool watchAccessedVariables = true);
  ~GradientTape();
  GradientTape(const GradientTape &) = delete;
  GradientTape &operator=(const GradientTape &) = delete;

  /// Records the ops that read `t` (and what they make) from now on.
  void watch(const Tensor &t);
  void watch(const Variable &v);
  /// The tensors watched so far, explicitly or as variables.
  size_t watchedCount() const;
  /// Pauses and resumes recording (tf's stop_recording).
  void stopRecording();
  void resumeRecording();
  /// Ops recorded so far.
  size_t recordedCount() const;

  /// The gradient of `target` (summed over its elements unless
  /// `outputGradient`, of the target's shape, weighs them) with respect to
  /// each of `sources`, each of its source's shape. An error when the
  /// tape is not persistent and has given gradients already, when an op
  /// on the way has no gradient, or when a gradient op fails.
  llvm::Expected<std::vector<Tensor>>
  gradient(const Tensor &target, llvm::ArrayRef<Tensor> sources,
           const Tensor *outputGradient = nullptr,
           UnconnectedGradients unconnected = UnconnectedGradients::None);
  llvm::Expected<std::vector<Tensor>>
  gradient(const Tensor &target, llvm::ArrayRef<Variable> sources,
           const Tensor *outputGradient = nullptr,
           UnconnectedGradients unconnected = UnconnectedGradients::None);

  struct Impl;

private:
  /// Shared with the thread's list of tapes, so that a tape destroyed on
  /// another thread leaves no dangling entry there.
  std::shared_ptr<Impl> impl;
};

/// While it lives, no tape on this thread records (optimizer updates,
/// metrics): tf.GradientTape.stop_recording for every tape at once.
class NoGradient {
public:
  NoGradient();
  ~NoGradient();
  NoGradient(const NoGradient &) = delete;
  NoGradient &operator=(const NoGradient &) = delete;
};

/// The gradients of `equation` with respect to each of `operands` listed in
/// `which` (all when empty), given the cotangent of its result, as
/// planGradients (Spec/Grad.h) plans them with `keepBytes` for the kept
/// intermediates (0: no limit): the path's steps backwards when that saves
/// flops and its intermediates fit (computed again first: an eager
/// einsum's kernel keeps none), else each operand's gradient einsum. An
/// operand listed twice, or passed twice, gets each position's own
/// gradient.
llvm::Expected<std::vector<Tensor>>
einsumGradients(llvm::StringRef equation, llvm::ArrayRef<Tensor> operands,
                const Tensor &cotangent, llvm::ArrayRef<int> which = {},
                int64_t keepBytes = 0);
/// The plan einsumGradients follows, for operands of `shapes` and `types`
/// (einsum-run --explain=grad).
llvm::Expected<GradientPlan>
planEinsumGradients(llvm::StringRef equation,
                    llvm::ArrayRef<std::vector<int64_t>> shapes,
                    llvm::ArrayRef<DType> types, int64_t keepBytes = 0);

} // namespace einjit

#endif // EINJIT_RUNTIME_TAPE_H
