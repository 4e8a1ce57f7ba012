//===- Layers.cpp - EinsumDense and MultiHeadAttention --------------------===//
//
// Shapes follow keras/src/layers/core/einsum_dense.py (_analyze_einsum_string)
// and keras/src/layers/attention/multi_head_attention.py, for equations
// with no ellipsis or one on the left of the input and the output.
//
//===----------------------------------------------------------------------===//

#include "einjit/nn/Layers.h"
#include "einjit/Spec/Equation.h"
#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Ops.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <random>

using namespace einjit;
using namespace einjit::nn;

namespace {
/// The equation's three terms, checked.
struct DenseSpec {
  std::string input, kernel, output;
  bool ellipsis = false;
};
} // namespace

static llvm::Expected<DenseSpec> parseDense(llvm::StringRef equation) {
  auto eq = Equation::parse(equation);
  if (!eq)
    return eq.takeError();
  auto fail = [&](const llvm::Twine &why) {
    return makeEinsumError("EinsumDense '" + equation + "': " + why);
  };
  if (eq->inputs.size() != 2 || !eq->output)
    return fail("the equation must be 'input,kernel->output'");
  const Term &in = eq->inputs[0], &k = eq->inputs[1], &out = *eq->output;
  if (k.hasEllipsis())
    return fail("the kernel's term cannot have '...'");
  if (in.hasEllipsis() != out.hasEllipsis())
    return fail("'...' must be in both the input and the output, or neither");
  if ((in.hasEllipsis() && in.ellipsis != 0) ||
      (out.hasEllipsis() && out.ellipsis != 0))
    return fail("einjit's EinsumDense takes '...' on the left only");
  return DenseSpec{in.labels, k.labels, out.labels, in.hasEllipsis()};
}

EinsumDense::EinsumDense(std::string equation, std::vector<int64_t> outputShape,
                         std::string biasAxes, Activation activation,
                         uint64_t seed, DType dtype)
    : equation(std::move(equation)), biasAxes(std::move(biasAxes)),
      outputShape(std::move(outputShape)), activation(activation), seed(seed),
      dtype(dtype) {}

llvm::Expected<std::vector<int64_t>>
EinsumDense::outputShapeFor(llvm::ArrayRef<int64_t> inputShape) const {
  auto spec = parseDense(equation);
  if (!spec)
    return spec.takeError();
  auto fail = [&](const llvm::Twine &why) {
    return makeEinsumError("EinsumDense '" + equation + "': " + why);
  };
  int64_t rank = inputShape.size();
  int64_t named = spec->input.size();
  if (spec->ellipsis ? rank < named : rank != named)
    return fail(llvm::formatv("an input of rank {0} does not fit '{1}'", rank,
                              spec->input));
  int64_t elided = rank - named;
  // Keras: the batch dim (no ellipsis) or the ellipsis' dims come first.
  std::vector<int64_t> full;
  if (spec->ellipsis)
    full.assign(inputShape.begin(), inputShape.begin() + elided);
  else if (rank > 0)
    full.push_back(inputShape[0]);
  llvm::append_range(full, outputShape);
  int64_t lead = spec->ellipsis ? elided : 0;
  if ((int64_t)full.size() != lead + (int64_t)spec->output.size())
    return fail(llvm::formatv(
        "output_shape has {0} dims but the output term '{1}' needs {2}",
        outputShape.size(), spec->output,
        spec->output.size() - (spec->ellipsis ? 0 : 1)));
  for (auto [i, c] : llvm::enumerate(spec->output)) {
    int64_t &size = full[lead + i];
    size_t inInput = spec->input.find(c);
    if (size == kUnknownDim) {
      if (inInput == std::string::npos)
        return fail(llvm::formatv("output dim '{0}' is unknown (None) and "
                                  "not in the input",
                                  c));
      size = inputShape[elided + inInput];
    }
    if (size < 0)
      return fail(llvm::formatv("output dim '{0}' has size {1}", c, size));
  }
  return full;
}

/// Keras's compute_fans.
static std::pair<double, double> fans(llvm::ArrayRef<int64_t> shape) {
  if (shape.empty())
    return {1, 1};
  if (shape.size() == 1)
    return {(double)shape[0], (double)shape[0]};
  double receptive = 1;
  for (int64_t d : shape.drop_back(2))
    receptive *= d;
  return {shape[shape.size() - 2] * receptive, shape.back() * receptive};
}

/// A tensor of `shape` with elements uniform in [-limit, limit).
static llvm::Expected<Tensor> uniform(DType dtype,
                                      llvm::ArrayRef<int64_t> shape,
                                      double limit, uint64_t seed) {
  auto t = Tensor::empty(dtype, shape);
  if (!t)
    return t.takeError();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> draw(-limit, limit);
  for (int64_t e = 0; e < t->numel(); ++e) {
    if (!isFloat(dtype))
      return makeEinsumError("layers take float dtypes, not " +
                             dtypeName(dtype).str());
    storeElement(static_cast<char *>(t->data()) + e * dtypeBytes(dtype), dtype,
                 draw(rng));
  }
  return t;
}

llvm::Error EinsumDense::build(llvm::ArrayRef<int64_t> inputShape) {
  auto spec = parseDense(equation);
  if (!spec)
    return spec.takeError();
  auto full = outputShapeFor(inputShape);
  if (!full)
    return full.takeError();
  auto fail = [&](const llvm::Twine &why) {
    return makeEinsumError("EinsumDense '" + equation + "': " + why);
  };
  int64_t elided = inputShape.size() - spec->input.size();
  int64_t lead = spec->ellipsis ? elided : 0;
  std::vector<int64_t> kernelShape;
  for (char c : spec->kernel) {
    size_t i = spec->input.find(c), o = spec->output.find(c);
    if (i != std::string::npos)
      kernelShape.push_back(inputShape[elided + i]);
    else if (o != std::string::npos)
      kernelShape.push_back((*full)[lead + o]);
    else
      return fail(llvm::formatv(
          "kernel label '{0}' is in neither the input nor the output", c));
  }
  std::vector<int64_t> biasShape;
  if (!biasAxes.empty()) {
    size_t first = std::string::npos;
    for (char c : biasAxes) {
      size_t o = spec->output.find(c);
      if (o == std::string::npos)
        return fail(llvm::formatv("bias axis '{0}' is not in the output", c));
      first = std::min(first, o);
    }
    for (size_t o = first; o < spec->output.size(); ++o)
      biasShape.push_back(biasAxes.find(spec->output[o]) != std::string::npos
                              ? (*full)[lead + o]
                              : 1);
  }
  auto [fanIn, fanOut] = fans(kernelShape);
  auto k = uniform(dtype, kernelShape, std::sqrt(6.0 / (fanIn + fanOut)), seed);
  if (!k)
    return k.takeError();
  kernel = Variable(std::move(*k), "kernel");
  if (!biasAxes.empty()) {
    auto b = Tensor::allocate(dtype, biasShape);
    if (!b)
      return b.takeError();
    bias = Variable(std::move(*b), "bias");
  }
  return llvm::Error::success();
}

static llvm::Expected<Tensor> activate(Activation a, const Tensor &x) {
  switch (a) {
  case Activation::None:
    return x;
  case Activation::Relu:
    return relu(x);
  case Activation::Gelu:
    return gelu(x);
  case Activation::Tanh:
    return tanh(x);
  }
  return x;
}

llvm::Expected<Tensor> EinsumDense::operator()(const Tensor &x) {
  if (!built())
    if (auto err = build(x.shape()))
      return std::move(err);
  auto y = einsum(equation, {x, kernel.value()});
  if (!y)
    return y.takeError();
  if (bias.defined()) {
    y = add(*y, bias.value());
    if (!y)
      return y.takeError();
  }
  return activate(activation, *y);
}

std::vector<Variable> EinsumDense::trainableVariables() const {
  std::vector<Variable> vars;
  if (kernel.defined())
    vars.push_back(kernel);
  if (bias.defined())
    vars.push_back(bias);
  return vars;
}

//===----------------------------------------------------------------------===//
// MultiHeadAttention
//===----------------------------------------------------------------------===//

MultiHeadAttention::MultiHeadAttention(int64_t numHeads, int64_t keyDim,
                                       std::optional<int64_t> valueDim,
                                       bool useBias,
                                       std::optional<int64_t> outputDim,
                                       uint64_t seed, DType dtype)
    : numHeads(numHeads), keyDim(keyDim), valueDim(valueDim.value_or(keyDim)),
      useBias(useBias), outputDim(outputDim), seed(seed), dtype(dtype) {}

llvm::Expected<MultiHeadAttention::Result>
MultiHeadAttention::operator()(const Tensor &queryIn, const Tensor &valueIn,
                               const Tensor *keyIn, const Tensor *mask) {
  const Tensor &keyTensor = keyIn ? *keyIn : valueIn;
  for (const Tensor *t : {&queryIn, &valueIn, &keyTensor})
    if (t->rank() != 3)
      return makeEinsumError("MultiHeadAttention takes [batch, sequence, "
                             "dim] inputs, not " +
                             shapeString(t->shape()));
  if (numHeads <= 0 || keyDim <= 0 || valueDim <= 0)
    return makeEinsumError("MultiHeadAttention needs positive num_heads, "
                           "key_dim and value_dim");
  if (!query) {
    std::string proj = useBias ? "de" : "";
    query.emplace("abc,cde->abde",
                  std::vector<int64_t>{kUnknownDim, numHeads, keyDim}, proj,
                  Activation::None, seed * 4 + 1, dtype);
    key.emplace("abc,cde->abde",
                std::vector<int64_t>{kUnknownDim, numHeads, keyDim}, proj,
                Activation::None, seed * 4 + 2, dtype);
    value.emplace("abc,cde->abde",
                  std::vector<int64_t>{kUnknownDim, numHeads, valueDim}, proj,
                  Activation::None, seed * 4 + 3, dtype);
    output.emplace("abcd,cde->abe",
                   std::vector<int64_t>{kUnknownDim,
                                        outputDim.value_or(queryIn.shape()[2])},
                   useBias ? "e" : "", Activation::None, seed * 4 + 4, dtype);
  }
  auto q = (*query)(queryIn);
  if (!q)
    return q.takeError();
  auto qs = scale(*q, 1.0 / std::sqrt((double)keyDim));
  if (!qs)
    return qs.takeError();
  auto k = (*key)(keyTensor);
  if (!k)
    return k.takeError();
  auto v = (*value)(valueIn);
  if (!v)
    return v.takeError();
  auto scores = einsum("aecd,abcd->acbe", {*k, *qs});
  if (!scores)
    return scores.takeError();
  if (mask) {
    // Keras's masked softmax: (1 - mask) * -1e9 added to the scores.
    Tensor m = *mask;
    if (m.rank() == 3) {
      auto expanded = m.reshape({m.shape()[0], 1, m.shape()[1], m.shape()[2]});
      if (!expanded)
        return expanded.takeError();
      m = std::move(*expanded);
    }
    auto one = Tensor::full(m.dtype(), {}, 1.0);
    if (!one)
      return one.takeError();
    auto off = sub(m, *one);
    if (!off)
      return off.takeError();
    auto penalty = scale(*off, 1e9);
    if (!penalty)
      return penalty.takeError();
    scores = add(*scores, *penalty);
    if (!scores)
      return makeEinsumError("MultiHeadAttention's mask: " +
                             llvm::toString(scores.takeError()));
  }
  auto p = softmax(*scores, -1);
  if (!p)
    return p.takeError();
  auto o = einsum("acbe,aecd->abcd", {*p, *v});
  if (!o)
    return o.takeError();
  auto out = (*output)(*o);
  if (!out)
    return out.takeError();
  return Result{std::move(*out), std::move(*p)};
}

std::vector<Variable> MultiHeadAttention::trainableVariables() const {
  std::vector<Variable> vars;
  for (const std::optional<EinsumDense> *d : {&query, &key, &value, &output})
    if (*d)
      llvm::append_range(vars, (*d)->trainableVariables());
  return vars;
}
