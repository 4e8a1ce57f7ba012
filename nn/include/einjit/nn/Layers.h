//===- Layers.h - EinsumDense and MultiHeadAttention, as Keras's -*- C++
//-*-===//
//
// Layers on the runtime's eager ops, with Keras's semantics: they build
// their weights (Variables, so a GradientTape watches them) on the first
// call, from the input's shape, and run einsums, adds and softmaxes that
// the tape records.
//
//   einjit::nn::EinsumDense dense("...b,bc->...c", {64}, "c",
//                                 einjit::nn::Activation::Relu);
//   auto y = dense(x); // x: [..., b]; y: [..., 64]
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_NN_LAYERS_H
#define EINJIT_NN_LAYERS_H

#include "einjit/runtime/Tape.h"
#include "einjit/runtime/Tensor.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace einjit::nn {

enum class Activation : uint8_t { None, Relu, Gelu, Tanh };

/// The "unknown" size of an output dim (Keras's None): taken from the
/// input where the label is the input's, else an error.
constexpr int64_t kUnknownDim = -1;

/// keras.layers.EinsumDense: y = einsum(equation, x, kernel) (+ bias)
/// (activation). The equation is `input,kernel->output` with letters and
/// at most one ellipsis, on the left of the input and output terms
/// (`...b,bc->...c`) or none (`ab,bc->ac`, `abc,cde->abde`).
/// `outputShape` is the output's shape without the batch dim (without
/// the ellipsis' dims where there is one); `biasAxes` names the output
/// labels the bias has (the bias spans the output from the first of them
/// on, with size 1 elsewhere). The kernel is Glorot-uniform from `seed`,
/// the bias zeros.
class EinsumDense {
public:
  EinsumDense(std::string equation, std::vector<int64_t> outputShape,
              std::string biasAxes = "", Activation activation = {},
              uint64_t seed = 0, DType dtype = DType::F32);

  /// Builds the weights on the first call (an error when the equation or
  /// the shapes do not fit together), then computes the layer.
  llvm::Expected<Tensor> operator()(const Tensor &x);
  /// Builds the weights for an input of `inputShape` (without running).
  llvm::Error build(llvm::ArrayRef<int64_t> inputShape);

  bool built() const { return kernel.defined(); }
  const Variable &kernelVariable() const { return kernel; }
  /// Undefined when the layer has no bias.
  const Variable &biasVariable() const { return bias; }
  std::vector<Variable> trainableVariables() const;
  /// The full output shape for an input of `inputShape`.
  llvm::Expected<std::vector<int64_t>>
  outputShapeFor(llvm::ArrayRef<int64_t> inputShape) const;

private:
  std::string equation, biasAxes;
  std::vector<int64_t> outputShape;
  Activation activation;
  uint64_t seed;
  DType dtype;
  Variable kernel, bias;
};

/// keras.layers.MultiHeadAttention, without dropout: query, key and value
/// projections (EinsumDense `abc,cde->abde` to [heads, keyDim] or
/// [heads, valueDim]), scores = einsum("aecd,abcd->acbe", key, query /
/// sqrt(keyDim)), a softmax over the keys (where `mask` is 0 the score
/// gets -1e9 first, as Keras), the weighted sum einsum("acbe,aecd->abcd"),
/// and the output projection (`abcd,cde->abe`) back to the query's last
/// dim (or `outputDim`).
class MultiHeadAttention {
public:
  MultiHeadAttention(int64_t numHeads, int64_t keyDim,
                     std::optional<int64_t> valueDim = std::nullopt,
                     bool useBias = true,
                     std::optional<int64_t> outputDim = std::nullopt,
                     uint64_t seed = 0, DType dtype = DType::F32);

  struct Result {
    Tensor output; ///< [batch, queries, dim]
    Tensor scores; ///< [batch, heads, queries, keys], softmaxed
  };
  /// query [B, Tq, dq], value [B, Tv, dv], key (default: value) [B, Tv,
  /// dk]; mask, if given, [B, Tq, Tv] (or broadcastable to it) of 1 (attend)
  /// and 0 (do not), in the layer's dtype.
  llvm::Expected<Result> operator()(const Tensor &query, const Tensor &value,
                                    const Tensor *key = nullptr,
                                    const Tensor *mask = nullptr);
  std::vector<Variable> trainableVariables() const;

private:
  int64_t numHeads, keyDim, valueDim;
  bool useBias;
  std::optional<int64_t> outputDim;
  uint64_t seed;
  DType dtype;
  std::optional<EinsumDense> query, key, value, output;
};

} // namespace einjit::nn

#endif // EINJIT_NN_LAYERS_H
