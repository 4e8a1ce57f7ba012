//===- TapeRecord.h - What the eager ops tell the gradient tape -*- C++ -*-===//
//
// The eager ops (Einsum.cpp, Ops.cpp) and the views (Tensor.cpp) report
// each call to the thread's recording tapes (Tape.cpp) when one records:
// `recording()` is one thread-local load, so a call without a tape pays
// nothing more.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_LIB_TAPERECORD_H
#define EINJIT_RUNTIME_LIB_TAPERECORD_H

#include "einjit/Spec/Ops.h"
#include "einjit/runtime/Tensor.h"

#include <string>
#include <vector>

namespace einjit::detail {

struct TapeRecord {
  enum class Kind : uint8_t {
    Einsum,
    Op,
    Reshape,
    Transpose,
    Slice,
    BroadcastTo,
    /// contiguous() when it copies: the gradient passes through.
    Copy,
    /// A result of a traced einjit::Function (named by `equation`): no
    /// gradient yet.
    Opaque,
  };
  Kind kind;
  std::vector<Tensor> inputs;
  Tensor output;
  /// Einsum: its equation. Opaque: the function's name.
  std::string equation;
  /// Op: which, and its call (bindOp's arguments).
  OpKind op = OpKind::Add;
  /// Op: the axes as given. Transpose: the permutation. Slice: axis,
  /// start, stop, step.
  std::vector<int64_t> axes;
  bool keepDims = false;
  double scalar = 0;
};

/// Whether a tape records on this thread (and recording is not paused).
bool recording();
/// Gives `record` to each recording tape of the thread that tracks one of
/// its inputs; such a tape then tracks its output.
void record(TapeRecord &&record);
/// A variable was read: the recording tapes that watch accessed variables
/// watch `value`.
void noteVariableRead(const Tensor &value);

/// Pauses recording on this thread while it lives (ops made of other ops
/// record once, as themselves).
class PauseRecording {
public:
  PauseRecording();
  ~PauseRecording();
  PauseRecording(const PauseRecording &) = delete;
  PauseRecording &operator=(const PauseRecording &) = delete;
};

} // namespace einjit::detail

#endif // EINJIT_RUNTIME_LIB_TAPERECORD_H
