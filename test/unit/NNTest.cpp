//===- NNTest.cpp - EinsumDense, MultiHeadAttention, SGD and Adam ---------===//
//
// Shapes as Keras gives them; values against loops written here; the
// optimizers' one step against Keras's formulas computed here in doubles;
// the attention block's gradient against central differences.
//
//===----------------------------------------------------------------------===//

#include "einjit/nn/Layers.h"
#include "einjit/nn/Optimizers.h"
#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Ops.h"

#include "TensorTestUtils.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace einjit;
using namespace einjit::nn;
using einjit::test::at;
using einjit::test::centralDifference;
using einjit::test::error;
using einjit::test::make;
using einjit::test::ok;

namespace {

Tensor sample(DType type, std::vector<int64_t> shape, double phase = 0) {
  return make(type, shape,
              [&](int64_t e) { return std::sin(0.37 * e + phase); });
}

std::vector<int64_t> dims(const Tensor &t) { return t.shape().vec(); }

TEST(NNTest, EinsumDenseShapesAsKeras) {
  // Keras's docstring examples.
  {
    EinsumDense d("ab,bc->ac", {64}, "c");
    Tensor y = ok(d(sample(DType::F32, {3, 32})));
    EXPECT_EQ(dims(y), (std::vector<int64_t>{3, 64}));
    EXPECT_EQ(dims(d.kernelVariable().value()), (std::vector<int64_t>{32, 64}));
    EXPECT_EQ(dims(d.biasVariable().value()), (std::vector<int64_t>{64}));
  }
  {
    EinsumDense d("abc,cd->abd", {kUnknownDim, 64}, "d");
    Tensor y = ok(d(sample(DType::F32, {2, 32, 128})));
    EXPECT_EQ(dims(y), (std::vector<int64_t>{2, 32, 64}));
    EXPECT_EQ(dims(d.kernelVariable().value()),
              (std::vector<int64_t>{128, 64}));
  }
  {
    EinsumDense d("abc,cde->abde", {kUnknownDim, 12, 8}, "de");
    Tensor y = ok(d(sample(DType::F32, {2, 5, 16})));
    EXPECT_EQ(dims(y), (std::vector<int64_t>{2, 5, 12, 8}));
    EXPECT_EQ(dims(d.kernelVariable().value()),
              (std::vector<int64_t>{16, 12, 8}));
    EXPECT_EQ(dims(d.biasVariable().value()), (std::vector<int64_t>{12, 8}));
  }
  {
    // The ellipsis: any leading dims.
    EinsumDense d("...b,bc->...c", {7}, "c");
    Tensor y = ok(d(sample(DType::F32, {2, 3, 4, 5})));
    EXPECT_EQ(dims(y), (std::vector<int64_t>{2, 3, 4, 7}));
  }
  {
    // Bias over the middle axis only: it spans from its first axis on.
    EinsumDense d("abc,cd->abd", {kUnknownDim, 6}, "b");
    ok(d(sample(DType::F32, {2, 5, 3})));
    EXPECT_EQ(dims(d.biasVariable().value()), (std::vector<int64_t>{5, 1}));
  }
}

TEST(NNTest, EinsumDenseValuesAndInitialisation) {
  EinsumDense d("abc,cde->abde", {kUnknownDim, 3, 2}, "de", Activation::Relu,
                /*seed=*/7, DType::F64);
  Tensor x = sample(DType::F64, {2, 4, 5});
  ok(d.build(x.shape()));
  // Glorot uniform: fan_in = 5 * 3, fan_out = 2 * 3 (Keras's compute_fans).
  double limit = std::sqrt(6.0 / (15 + 6));
  const Tensor &k = d.kernelVariable().value();
  double lo = 1, hi = -1;
  for (int64_t e = 0; e < k.numel(); ++e) {
    lo = std::min(lo, k.getDouble(e));
    hi = std::max(hi, k.getDouble(e));
  }
  EXPECT_GE(lo, -limit);
  EXPECT_LE(hi, limit);
  EXPECT_LT(hi - lo, 2 * limit);
  EXPECT_GT(hi - lo, limit); // 30 draws spread over the range
  // The same seed gives the same kernel.
  EinsumDense again("abc,cde->abde", {kUnknownDim, 3, 2}, "de",
                    Activation::Relu, 7, DType::F64);
  ok(again.build(x.shape()));
  for (int64_t e = 0; e < k.numel(); ++e)
    EXPECT_EQ(again.kernelVariable().value().getDouble(e), k.getDouble(e));
  // A bias to check that it is added.
  Tensor b = sample(DType::F64, {3, 2}, 1.0);
  ASSERT_TRUE(d.biasVariable().defined());
  Variable bias = d.biasVariable();
  ASSERT_FALSE((bool)bias.assign(b));
  Tensor y = ok(d(x));
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t bb = 0; bb < 4; ++bb)
      for (int64_t dd = 0; dd < 3; ++dd)
        for (int64_t e = 0; e < 2; ++e) {
          double want = at(b, {dd, e});
          for (int64_t c = 0; c < 5; ++c)
            want += at(x, {a, bb, c}) * at(k, {c, dd, e});
          want = std::max(want, 0.0);
          EXPECT_NEAR(at(y, {a, bb, dd, e}), want, 1e-12);
        }
}

TEST(NNTest, EinsumDenseErrors) {
  EXPECT_EQ(
      error(EinsumDense("ab,bc->ac", {64}, "x")(sample(DType::F32, {3, 32}))),
      "EinsumDense 'ab,bc->ac': bias axis 'x' is not in the output");
  EXPECT_EQ(
      error(EinsumDense("ab,bc->ac", {64, 2})(sample(DType::F32, {3, 32}))),
      "EinsumDense 'ab,bc->ac': output_shape has 2 dims but the output "
      "term 'ac' needs 1");
  EXPECT_EQ(error(EinsumDense("ab,bc->ac",
                              {kUnknownDim})(sample(DType::F32, {3, 32}))),
            "EinsumDense 'ab,bc->ac': output dim 'c' is unknown (None) and "
            "not in the input");
  EXPECT_EQ(error(EinsumDense("ab,bcz->ac", {4})(sample(DType::F32, {3, 32}))),
            "EinsumDense 'ab,bcz->ac': kernel label 'z' is in neither the "
            "input nor the output");
  EXPECT_EQ(error(EinsumDense("abc,cd->abd",
                              {kUnknownDim, 4})(sample(DType::F32, {3, 32}))),
            "EinsumDense 'abc,cd->abd': an input of rank 2 does not fit 'abc'");
  EXPECT_EQ(error(EinsumDense("ab,bc", {4})(sample(DType::F32, {3, 32}))),
            "EinsumDense 'ab,bc': the equation must be 'input,kernel->output'");
}

/// Multi-head attention by loops, from the layer's weights.
std::vector<double> referenceAttention(const MultiHeadAttention &mha,
                                       const Tensor &q, const Tensor &v,
                                       const Tensor *mask, int64_t heads,
                                       int64_t kd) {
  std::vector<Variable> w = mha.trainableVariables();
  // query kernel, bias, key kernel, bias, value kernel, bias, out, bias.
  const Tensor &wq = w[0].value(), &bq = w[1].value(), &wk = w[2].value(),
               &bk = w[3].value(), &wv = w[4].value(), &bv = w[5].value(),
               &wo = w[6].value(), &bo = w[7].value();
  int64_t B = q.shape()[0], Tq = q.shape()[1], D = q.shape()[2];
  int64_t Tv = v.shape()[1], Dv = v.shape()[2], vd = wv.shape()[2];
  int64_t out = wo.shape()[2];
  auto project = [&](const Tensor &x, const Tensor &k, const Tensor &b,
                     int64_t a, int64_t t, int64_t h, int64_t e) {
    double s = at(b, {h, e});
    for (int64_t c = 0; c < x.shape()[2]; ++c)
      s += at(x, {a, t, c}) * at(k, {c, h, e});
    return s;
  };
  std::vector<double> result;
  for (int64_t a = 0; a < B; ++a)
    for (int64_t i = 0; i < Tq; ++i) {
      std::vector<double> heads_out(heads * vd, 0.0);
      for (int64_t h = 0; h < heads; ++h) {
        std::vector<double> s(Tv);
        double m = -INFINITY;
        for (int64_t j = 0; j < Tv; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < kd; ++e)
            dot += project(q, wq, bq, a, i, h, e) / std::sqrt((double)kd) *
                   project(v, wk, bk, a, j, h, e);
          if (mask && at(*mask, {a, i, j}) == 0)
            dot -= 1e9;
          s[j] = dot;
          m = std::max(m, dot);
        }
        double z = 0;
        for (double &x : s)
          z += (x = std::exp(x - m));
        for (int64_t j = 0; j < Tv; ++j)
          for (int64_t e = 0; e < vd; ++e)
            heads_out[h * vd + e] += s[j] / z * project(v, wv, bv, a, j, h, e);
      }
      for (int64_t o = 0; o < out; ++o) {
        double y = at(bo, {o});
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t e = 0; e < vd; ++e)
            y += heads_out[h * vd + e] * at(wo, {h, e, o});
        result.push_back(y);
      }
    }
  (void)D;
  (void)Dv;
  return result;
}

TEST(NNTest, MultiHeadAttentionMatchesLoops) {
  int64_t heads = 2, kd = 3;
  MultiHeadAttention mha(heads, kd, std::nullopt, true, std::nullopt, 3,
                         DType::F64);
  Tensor q = sample(DType::F64, {2, 3, 4});
  Tensor v = sample(DType::F64, {2, 5, 4}, 0.5);
  // Keys 3 and 4 hidden from query 0 of batch 1.
  Tensor mask = make(DType::F64, {2, 3, 5}, [](int64_t e) {
    return e >= 15 && e < 20 && e % 5 >= 3 ? 0.0 : 1.0;
  });
  auto r = ok(mha(q, v, nullptr, &mask));
  EXPECT_EQ(dims(r.output), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(dims(r.scores), (std::vector<int64_t>{2, 2, 3, 5}));
  EXPECT_EQ(mha.trainableVariables().size(), 8u);
  // Give the biases values so that they count.
  for (Variable var : mha.trainableVariables()) {
    if (var.name() == "bias") {
      ASSERT_FALSE(
          (bool)var.assign(sample(DType::F64, var.value().shape().vec(), 2.0)));
    }
  }
  r = ok(mha(q, v, nullptr, &mask));
  std::vector<double> want = referenceAttention(mha, q, v, &mask, heads, kd);
  for (int64_t e = 0; e < r.output.numel(); ++e)
    EXPECT_NEAR(r.output.getDouble(e), want[e], 1e-10) << e;
  // The masked keys get no weight.
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 3; j < 5; ++j)
      EXPECT_LT(at(r.scores, {1, h, 0, j}), 1e-12);
}

TEST(NNTest, AttentionBlockGradientMatchesFiniteDifferences) {
  // The whole block: projections, scores, softmax, weighted sum, output.
  MultiHeadAttention mha(2, 3, 2, true, std::nullopt, 5, DType::F64);
  Tensor q = sample(DType::F64, {1, 3, 4});
  Tensor v = sample(DType::F64, {1, 4, 4}, 0.7);
  ok(mha(q, v));
  std::vector<Variable> vars = mha.trainableVariables();
  Tensor weights = sample(DType::F64, {1, 3, 4}, 1.3);
  auto loss = [&]() {
    Tensor out = ok(mha(q, v)).output;
    double s = 0;
    for (int64_t e = 0; e < out.numel(); ++e)
      s += out.getDouble(e) * weights.getDouble(e);
    return s;
  };
  GradientTape tape;
  tape.watch(q);
  Tensor out = ok(mha(q, v)).output;
  std::vector<Tensor> g = ok(tape.gradient(out, {q}, &weights));
  std::vector<Tensor> gv = ok(GradientTape().gradient(out, vars)); // None
  EXPECT_FALSE(gv[0].defined()); // another tape saw nothing
  // Against central differences, for the query and each weight.
  auto check = [&](const Tensor &t, const Tensor &grad,
                   const std::string &what) {
    for (int64_t e = 0; e < t.numel(); ++e) {
      EXPECT_NEAR(grad.getDouble(e),
                  centralDifference(t.data<double>()[e], loss, /*h=*/1e-5),
                  1e-6)
          << what << " element " << e;
    }
  };
  check(q, g[0], "query");
  GradientTape all;
  Tensor out2 = ok(mha(q, v)).output; // reads the variables: watched
  std::vector<Tensor> gw = ok(all.gradient(out2, vars, &weights));
  ASSERT_EQ(gw.size(), vars.size());
  for (size_t i = 0; i < vars.size(); ++i)
    check(vars[i].value(), gw[i], "variable " + std::to_string(i));
}

TEST(NNTest, OneStepOfSGDAndAdamAsKerasFormulas) {
  Tensor w0 = sample(DType::F64, {2, 3});
  Tensor g = sample(DType::F64, {2, 3}, 0.9);
  auto w = [&](const Variable &v, int64_t e) { return v.value().getDouble(e); };
  struct SgdCase {
    double momentum;
    bool nesterov;
  };
  for (SgdCase c : {SgdCase{0, false}, {0.9, false}, {0.9, true}}) {
    Variable var(
        make(DType::F64, {2, 3}, [&](int64_t e) { return w0.getDouble(e); }),
        "w");
    SGD sgd(0.1, c.momentum, c.nesterov);
    // Two steps, so that the momentum's velocity counts.
    ASSERT_FALSE((bool)sgd.apply({g}, {var}));
    ASSERT_FALSE((bool)sgd.apply({g}, {var}));
    for (int64_t e = 0; e < 6; ++e) {
      double x = w0.getDouble(e), ge = g.getDouble(e), v = 0;
      for (int step = 0; step < 2; ++step) {
        if (c.momentum == 0) {
          x -= 0.1 * ge;
          continue;
        }
        v = c.momentum * v - 0.1 * ge;
        x += c.nesterov ? c.momentum * v - 0.1 * ge : v;
      }
      EXPECT_NEAR(w(var, e), x, 1e-14)
          << "momentum " << c.momentum << " nesterov " << c.nesterov;
    }
  }
  Variable var(
      make(DType::F64, {2, 3}, [&](int64_t e) { return w0.getDouble(e); }),
      "w");
  Adam adam(0.01);
  Tensor g2 = sample(DType::F64, {2, 3}, 2.1);
  ASSERT_FALSE((bool)adam.apply({g}, {var}));
  ASSERT_FALSE((bool)adam.apply({g2}, {var}));
  EXPECT_EQ(adam.iterations(), 2);
  for (int64_t e = 0; e < 6; ++e) {
    double x = w0.getDouble(e), m = 0, v = 0;
    double grads[2] = {g.getDouble(e), g2.getDouble(e)};
    for (int t = 1; t <= 2; ++t) {
      double a =
          0.01 * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
      m += (grads[t - 1] - m) * (1 - 0.9);
      v += (grads[t - 1] * grads[t - 1] - v) * (1 - 0.999);
      x -= a * m / (std::sqrt(v) + 1e-7);
    }
    EXPECT_NEAR(w(var, e), x, 1e-14);
  }
  // Errors.
  EXPECT_EQ(error(adam.apply({g}, {})), "apply: 1 gradients for 0 variables");
  EXPECT_EQ(error(adam.apply({sample(DType::F64, {3})}, {var})),
            "apply: the gradient of variable 'w' is (3) but the variable is "
            "(2,3)");
}

} // namespace
