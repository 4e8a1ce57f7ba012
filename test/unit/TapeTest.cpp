//===- TapeTest.cpp - GradientTape against closed forms and differences ---===//
//
// The references never come from einjit: d(x'Ax)/dx = (A + A')x is computed
// by loops here, and every other gradient is checked against central finite
// differences (f64) of a reference written here: a loop-nest einsum over
// every assignment of the labels, and each op's formula.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Tape.h"
#include "einjit/Spec/Equation.h"
#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Function.h"
#include "einjit/runtime/Ops.h"

#include "TensorTestUtils.h"

#include "gtest/gtest.h"

#include <cmath>
#include <functional>
#include <random>
#include <thread>

using namespace einjit;
using einjit::test::at;
using einjit::test::centralDifference;
using einjit::test::error;
using einjit::test::make;
using einjit::test::ok;

namespace {

std::vector<double> values(const Tensor &t) {
  Tensor c = ok(t.contiguous());
  std::vector<double> v(c.numel());
  for (int64_t e = 0; e < c.numel(); ++e)
    v[e] = c.getDouble(e);
  return v;
}

/// The einsum of `operands` (f64, contiguous) by a loop over every
/// assignment of the labels: the reference. The output may repeat a label.
std::vector<double> referenceEinsum(const BoundEquation &eq,
                                    llvm::ArrayRef<Tensor> operands) {
  std::vector<int> labels;
  for (int id = 0, e = eq.labelSizes.size(); id < e; ++id)
    if (eq.labelSizes[id] >= 0)
      labels.push_back(id);
  std::vector<int64_t> outShape = eq.outputShape();
  int64_t outSize = 1;
  for (int64_t d : outShape)
    outSize *= d;
  std::vector<double> out(outSize, 0.0);
  std::vector<int64_t> value(eq.labelSizes.size(), 0);
  std::function<void(size_t)> loop = [&](size_t n) {
    if (n < labels.size()) {
      for (value[labels[n]] = 0; value[labels[n]] < eq.labelSizes[labels[n]];
           ++value[labels[n]])
        loop(n + 1);
      return;
    }
    double product = 1;
    for (auto [k, t] : llvm::enumerate(operands)) {
      int64_t flat = 0;
      for (auto [d, id] : llvm::enumerate(eq.inputs[k])) {
        int64_t size = eq.inputShapes[k][d];
        flat = flat * size + (size == 1 ? 0 : value[id]);
      }
      product *= t.data<double>()[flat];
    }
    int64_t flat = 0;
    for (auto [d, id] : llvm::enumerate(eq.output))
      flat = flat * outShape[d] + value[id];
    // A repeated output label: only its diagonal is written.
    out[flat] += product;
  };
  loop(0);
  return out;
}

/// Central differences of sum(f(operands) * weights) with respect to each
/// element of each operand; an operand listed twice (the same tensor) is
/// perturbed once, in both places.
std::vector<std::vector<double>> finiteDifferences(
    const std::function<std::vector<double>(llvm::ArrayRef<Tensor>)> &f,
    llvm::ArrayRef<Tensor> operands, const std::vector<double> &weights,
    double h = 1e-4) {
  auto loss = [&] {
    std::vector<double> y = f(operands);
    double s = 0;
    for (auto [a, w] : llvm::zip(y, weights))
      s += a * w;
    return s;
  };
  std::vector<std::vector<double>> grads;
  for (const Tensor &t : operands) {
    std::vector<double> g(t.numel());
    for (int64_t e = 0; e < t.numel(); ++e) {
      g[e] = centralDifference(t.data<double>()[e], loss, h);
    }
    grads.push_back(std::move(g));
  }
  return grads;
}

void expectNear(const std::vector<double> &got, const std::vector<double> &want,
                double tol, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t e = 0; e < got.size(); ++e)
    EXPECT_NEAR(got[e], want[e], tol * (1 + std::fabs(want[e])))
        << what << " element " << e;
}

TEST(TapeTest, QuadraticForm) {
  // d(x'Ax)/dx = (A + A')x; 2Ax for a symmetric A. x is passed twice.
  for (int n : {1, 3, 7}) {
    for (bool symmetric : {false, true}) {
      Tensor x = make(DType::F64, {n}, [](int64_t e) { return 0.5 + e; });
      Tensor a = make(DType::F64, {n, n}, [&](int64_t e) {
        int64_t i = e / n, j = e % n;
        return symmetric ? 1.0 / (1 + i + j) : std::sin(1.0 + 3 * i + j);
      });
      GradientTape tape;
      tape.watch(x);
      Tensor y = ok(einsum("i,ij,j->", {x, a, x}));
      std::vector<Tensor> g = ok(tape.gradient(y, {x}));
      ASSERT_EQ(g.size(), 1u);
      for (int i = 0; i < n; ++i) {
        double want = 0;
        for (int j = 0; j < n; ++j)
          want += (at(a, {i, j}) + at(a, {j, i})) * at(x, {j});
        if (symmetric) {
          double twice = 0;
          for (int j = 0; j < n; ++j)
            twice += 2 * at(a, {i, j}) * at(x, {j});
          EXPECT_NEAR(want, twice, 1e-12);
        }
        EXPECT_NEAR(at(g[0], {i}), want, 1e-12 * (1 + std::fabs(want)))
            << "n=" << n << " i=" << i;
      }
    }
  }
}

/// A random equation of 1 to 4 operands over labels a-e, with repeated
/// labels, ellipses, size-1 broadcast dims and implicit or repeated
/// outputs now and then, and operands for it.
struct RandomCase {
  std::string equation;
  std::vector<Tensor> operands;
};

RandomCase randomCase(std::mt19937 &rng) {
  auto pick = [&](int n) { return (int)(rng() % n); };
  const int64_t sizes[5] = {2, 3, 1, 2, 3};
  int numOperands = 1 + pick(4);
  bool ellipsis = pick(4) == 0;
  int ellipsisRank = ellipsis ? 1 + pick(2) : 0;
  std::vector<std::string> terms;
  std::vector<std::vector<int64_t>> shapes;
  std::string used;
  for (int k = 0; k < numOperands; ++k) {
    int rank = pick(numOperands > 2 ? 3 : 4);
    std::string letters;
    for (int d = 0; d < rank; ++d) {
      char c = 'a' + pick(5);
      // Now and then a label repeated within the operand (a diagonal).
      if (d > 0 && pick(5) == 0)
        c = letters[pick(d)];
      letters += c;
      if (used.find(c) == std::string::npos)
        used += c;
    }
    std::vector<int64_t> shape;
    for (char c : letters) {
      int64_t size = sizes[c - 'a'];
      // A dim of size 1 that broadcasts, where the label is not repeated
      // in this operand (a diagonal needs equal sizes).
      if (size > 1 && llvm::count(letters, c) == 1 && pick(8) == 0)
        size = 1;
      shape.push_back(size);
    }
    std::string term = letters;
    if (ellipsis) {
      int at = pick(rank + 1);
      term.insert(at, "...");
      std::vector<int64_t> dims;
      for (int e = 0; e < ellipsisRank; ++e)
        dims.push_back(pick(3) == 0 ? 1 : 2 + e);
      shape.insert(shape.begin() + at, dims.begin(), dims.end());
    }
    terms.push_back(term);
    shapes.push_back(shape);
  }
  std::string eq;
  for (auto [k, t] : llvm::enumerate(terms))
    eq += (k ? "," : "") + t;
  int form = pick(6);
  if (form > 0) { // explicit output: a random subset, maybe one repeated
    std::string out = ellipsis ? "..." : "";
    for (char c : used)
      if (pick(2))
        out += c;
    if (form == 1 && out.size() > (ellipsis ? 3u : 0u))
      out += out.back();
    eq += "->" + out;
  }
  RandomCase rc;
  rc.equation = eq;
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  for (auto [k, shape] : llvm::enumerate(shapes)) {
    // Now and then the same tensor twice, as x in x'Ax.
    if (k > 0 && shape == shapes[0] && terms[k] == terms[0] && pick(2)) {
      rc.operands.push_back(rc.operands[0]);
      continue;
    }
    rc.operands.push_back(
        make(DType::F64, shape, [&](int64_t) { return value(rng); }));
  }
  return rc;
}

/// The random case's equation bound to its f64 operands (repeated output
/// labels allowed); nullopt when it does not bind.
std::optional<BoundEquation> bindCase(const RandomCase &rc) {
  std::vector<std::vector<int64_t>> shapes;
  for (const Tensor &t : rc.operands)
    shapes.push_back(t.shape().vec());
  std::vector<DType> types(shapes.size(), DType::F64);
  auto bound =
      bindEquation(rc.equation, shapes, types, {/*repeatedOutputLabels=*/true});
  if (!bound) {
    llvm::consumeError(bound.takeError());
    return std::nullopt;
  }
  return std::move(*bound);
}

/// `t` (contiguous) as a view with a negative stride along each dim in
/// `flip`: the same values, read from a buffer that holds them reversed
/// there (numpy's x[::-1] of a reversed copy).
Tensor flippedView(const Tensor &t, const std::vector<bool> &flip) {
  std::vector<int64_t> shape = t.shape().vec();
  Tensor reversed = make(DType::F64, shape, [&](int64_t flat) {
    // The element of t whose index is this one, reversed along `flip`.
    int64_t source = 0, stride = 1;
    for (int d = shape.size() - 1; d >= 0; --d) {
      int64_t i = flat % shape[d];
      flat /= shape[d];
      source += (flip[d] ? shape[d] - 1 - i : i) * stride;
      stride *= shape[d];
    }
    return t.data<double>()[source];
  });
  Tensor view = reversed;
  for (size_t d = 0; d < shape.size(); ++d)
    if (flip[d])
      view = ok(view.slice(d, shape[d] - 1, -shape[d] - 1, -1));
  return view;
}

TEST(TapeTest, RandomEquationsOnFlippedViews) {
  // Operands viewed with negative strides (some dims reversed) are read in
  // place by the kernels; the result must be the loop nest's on the same
  // values.
  std::mt19937 rng(20261128);
  int checked = 0, negative = 0;
  for (int attempt = 0; checked < 150 && attempt < 3000; ++attempt) {
    RandomCase rc = randomCase(rng);
    std::optional<BoundEquation> bound = bindCase(rc);
    if (!bound)
      continue;
    ++checked;
    std::vector<Tensor> views;
    for (const Tensor &t : rc.operands) {
      std::vector<bool> flip(t.rank());
      for (int64_t d = 0; d < t.rank(); ++d)
        flip[d] = t.shape()[d] > 1 && rng() % 2;
      views.push_back(flippedView(t, flip));
      negative += !views.back().kernelStrides().empty();
    }
    Tensor got = ok(einsum(rc.equation, views));
    expectNear(values(got), referenceEinsum(*bound, rc.operands), 1e-12,
               rc.equation);
  }
  EXPECT_EQ(checked, 150);
  EXPECT_GE(negative, 100); // most cases have a reversed operand
}

TEST(TapeTest, DiagonalsOfReversedViews) {
  // The fuzzer's find: diagonals (and a size-1 dim twice) of reversed views
  // made static negative offsets that MLIR's memref verifier refuses; such
  // a kernel is compiled for a contiguous copy instead. Every combination
  // of reversed dims, against the loop nest.
  const char *equation = "krk,rkkr,r";
  std::vector<std::vector<int64_t>> shapes = {{3, 2, 3}, {1, 3, 3, 1}, {2}};
  std::vector<DType> types(3, DType::F64);
  auto bound = bindEquation(equation, shapes, types);
  ASSERT_TRUE(!!bound) << llvm::toString(bound.takeError());
  std::vector<Tensor> operands;
  for (auto [k, shape] : llvm::enumerate(shapes))
    operands.push_back(make(DType::F64, shape, [k = k](int64_t e) {
      return std::sin(1.0 + e + 7.0 * k);
    }));
  std::vector<double> want = referenceEinsum(*bound, operands);
  // Bits of `mask` pick the dims of size > 1 to reverse: 3 + 2 + 1 of them.
  for (int mask = 0; mask < 64; ++mask) {
    int bit = 0;
    std::vector<Tensor> views;
    for (const Tensor &t : operands) {
      std::vector<bool> flip(t.rank());
      for (int64_t d = 0; d < t.rank(); ++d)
        if (t.shape()[d] > 1)
          flip[d] = (mask >> bit++) & 1;
      views.push_back(flippedView(t, flip));
    }
    Tensor got = ok(einsum(equation, views));
    expectNear(values(got), want, 1e-12,
               "krk,rkkr,r reversed by mask " + std::to_string(mask));
  }
}

TEST(TapeTest, RandomEquationsMatchFiniteDifferences) {
  std::mt19937 rng(20261127);
  int checked = 0, repeatedOut = 0, withEllipsis = 0, many = 0, twice = 0,
      kept = 0;
  for (int attempt = 0; checked < 120 && attempt < 2000; ++attempt) {
    RandomCase rc = randomCase(rng);
    std::optional<BoundEquation> bound = bindCase(rc);
    if (!bound) // the generator's equation does not bind: draw again
      continue;
    ++checked;
    repeatedOut += bound->repeatsOutputLabel();
    withEllipsis += rc.equation.find("...") != std::string::npos;
    many += rc.operands.size() >= 3;
    for (size_t k = 1; k < rc.operands.size(); ++k)
      twice += rc.operands[k].id() == rc.operands[0].id();

    std::vector<double> weights;
    {
      std::vector<double> y = referenceEinsum(*bound, rc.operands);
      for (size_t e = 0; e < y.size(); ++e)
        weights.push_back(std::cos(1.0 + e));
    }
    std::vector<std::vector<double>> want = finiteDifferences(
        [&](llvm::ArrayRef<Tensor> ops) {
          return referenceEinsum(*bound, ops);
        },
        rc.operands, weights);

    GradientTape tape;
    for (const Tensor &t : rc.operands)
      tape.watch(t);
    auto y = einsum(rc.equation, rc.operands);
    ASSERT_TRUE((bool)y) << rc.equation << ": " << error(std::move(y));
    Tensor w = make(DType::F64, y->shape().vec(),
                    [&](int64_t e) { return weights[e]; });
    std::vector<Tensor> grads =
        ok(tape.gradient(*y, rc.operands, &w, UnconnectedGradients::Zero));
    ASSERT_EQ(grads.size(), rc.operands.size());
    for (size_t k = 0; k < grads.size(); ++k) {
      // An operand passed twice has one gradient: the sum, given to both.
      expectNear(values(grads[k]), want[k], 1e-7,
                 rc.equation + " operand " + std::to_string(k));
      EXPECT_EQ(grads[k].shape(), rc.operands[k].shape()) << rc.equation;
    }
    // Both strategies of the joint plan, per position: keep (the path's
    // steps backwards) where it saves flops, and recompute (a budget of
    // one byte); an operand passed twice sums its positions.
    GradientPlan plan = ok(planEinsumGradients(
        rc.equation, bound->inputShapes, bound->inputTypes, /*keepBytes=*/0));
    kept += plan.strategy == GradientPlan::Strategy::Keep;
    for (int64_t budget : {int64_t(0), int64_t(1)}) {
      std::vector<Tensor> each =
          ok(einsumGradients(rc.equation, rc.operands, w, {}, budget));
      ASSERT_EQ(each.size(), rc.operands.size());
      for (size_t k = 0; k < each.size(); ++k) {
        std::vector<double> total = values(each[k]);
        for (size_t j = 0; j < each.size(); ++j)
          if (j != k && rc.operands[j].id() == rc.operands[k].id())
            for (auto [t, v] : llvm::zip(total, values(each[j])))
              t += v;
        expectNear(total, want[k], 1e-7,
                   rc.equation + " budget " + std::to_string(budget) +
                       " operand " + std::to_string(k));
      }
    }
  }
  EXPECT_GT(kept, 10); // the keep strategy is exercised
  EXPECT_GE(checked, 100);
  // The draw covers the cases the rule distinguishes.
  EXPECT_GT(repeatedOut, 3);
  EXPECT_GT(withEllipsis, 10);
  EXPECT_GT(many, 20);
  EXPECT_GT(twice, 2);
}

/// The gradient of sum(op(inputs) * weights) from the tape, against
/// central differences of `reference` (the op's formula, elementwise).
void checkOp(
    const std::string &name,
    const std::function<llvm::Expected<Tensor>(llvm::ArrayRef<Tensor>)> &op,
    const std::function<std::vector<double>(llvm::ArrayRef<Tensor>)> &reference,
    std::vector<Tensor> inputs, double tol = 1e-6) {
  std::vector<double> y0 = reference(inputs);
  std::vector<double> weights;
  for (size_t e = 0; e < y0.size(); ++e)
    weights.push_back(0.5 + std::sin(2.0 + e));
  std::vector<std::vector<double>> want =
      finiteDifferences(reference, inputs, weights, 1e-5);
  GradientTape tape;
  for (const Tensor &t : inputs)
    tape.watch(t);
  Tensor y = ok(op(inputs));
  expectNear(values(y), y0, 1e-12, name + " forward");
  Tensor w =
      make(DType::F64, y.shape().vec(), [&](int64_t e) { return weights[e]; });
  std::vector<Tensor> grads = ok(tape.gradient(y, inputs, &w));
  for (size_t k = 0; k < inputs.size(); ++k)
    expectNear(values(grads[k]), want[k], tol,
               name + " operand " + std::to_string(k));
}

/// Elementwise reference of a unary op.
std::function<std::vector<double>(llvm::ArrayRef<Tensor>)>
unary(double (*f)(double)) {
  return [f](llvm::ArrayRef<Tensor> in) {
    std::vector<double> v = values(in[0]);
    for (double &x : v)
      x = f(x);
    return v;
  };
}

/// Reference of a broadcasting binary op on a [3,4] and a [4] or [3,1].
std::function<std::vector<double>(llvm::ArrayRef<Tensor>)>
binary(double (*f)(double, double)) {
  return [f](llvm::ArrayRef<Tensor> in) {
    std::vector<double> out;
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        int64_t bi = in[1].rank() == 2 && in[1].shape()[0] != 1 ? i : 0;
        int64_t bj = in[1].shape().back() == 1 ? 0 : j;
        double b = in[1].rank() == 2 ? at(in[1], {bi, bj}) : at(in[1], {bj});
        out.push_back(f(at(in[0], {i, j}), b));
      }
    return out;
  };
}

Tensor sample(std::vector<int64_t> shape, double offset = 0) {
  return make(DType::F64, shape,
              [&](int64_t e) { return offset + std::sin(0.7 * e + 0.3); });
}

TEST(TapeTest, ElementwiseOps) {
  checkOp("exp", [](auto in) { return exp(in[0]); },
          unary([](double x) { return std::exp(x); }), {sample({3, 4})});
  checkOp("log", [](auto in) { return log(in[0]); },
          unary([](double x) { return std::log(x); }), {sample({3, 4}, 2)});
  checkOp("tanh", [](auto in) { return tanh(in[0]); },
          unary([](double x) { return std::tanh(x); }), {sample({3, 4})});
  checkOp("sqrt", [](auto in) { return sqrt(in[0]); },
          unary([](double x) { return std::sqrt(x); }), {sample({3, 4}, 2)});
  // Away from 0, where relu has no derivative.
  checkOp("relu", [](auto in) { return relu(in[0]); },
          unary([](double x) { return x > 0 ? x : 0; }),
          {make(DType::F64, {3, 4},
                [](int64_t e) { return (e % 2 ? 1 : -1) * (0.1 + e); })});
  checkOp("gelu", [](auto in) { return gelu(in[0]); },
          unary([](double x) { return 0.5 * x * (1 + std::erf(x / M_SQRT2)); }),
          {sample({3, 4}, 0.2)});
  checkOp("neg", [](auto in) { return neg(in[0]); },
          unary([](double x) { return -x; }), {sample({3, 4})});
  checkOp("scale", [](auto in) { return scale(in[0], -2.5); },
          unary([](double x) { return -2.5 * x; }), {sample({3, 4})});
}

TEST(TapeTest, BinaryOpsSumOverBroadcastDims) {
  for (std::vector<int64_t> bshape :
       {std::vector<int64_t>{3, 4}, {4}, {3, 1}, {1, 4}}) {
    std::string tag = shapeString(bshape);
    std::vector<Tensor> in = {sample({3, 4}), sample(bshape, 2.5)};
    checkOp(
        "add" + tag, [](auto v) { return add(v[0], v[1]); },
        binary([](double a, double b) { return a + b; }), in);
    checkOp(
        "sub" + tag, [](auto v) { return sub(v[0], v[1]); },
        binary([](double a, double b) { return a - b; }), in);
    checkOp(
        "mul" + tag, [](auto v) { return mul(v[0], v[1]); },
        binary([](double a, double b) { return a * b; }), in);
    checkOp(
        "div" + tag, [](auto v) { return div(v[0], v[1]); },
        binary([](double a, double b) { return a / b; }), in);
  }
}

TEST(TapeTest, ReductionsAndSoftmax) {
  // Reference of a reduction of a [3,4,5] along `axes` (keepDims or not:
  // the same elements in the same order).
  auto reduce = [](std::vector<int64_t> axes, bool isMax) {
    return [=](llvm::ArrayRef<Tensor> in) {
      std::vector<double> out;
      std::vector<int64_t> idx(3);
      auto reduced = [&](int64_t d) {
        return axes.empty() || llvm::is_contained(axes, d);
      };
      int64_t n[3] = {3, 4, 5};
      for (idx[0] = 0; idx[0] < (reduced(0) ? 1 : n[0]); ++idx[0])
        for (idx[1] = 0; idx[1] < (reduced(1) ? 1 : n[1]); ++idx[1])
          for (idx[2] = 0; idx[2] < (reduced(2) ? 1 : n[2]); ++idx[2]) {
            double acc = isMax ? -INFINITY : 0;
            for (int64_t a = 0; a < (reduced(0) ? 3 : 1); ++a)
              for (int64_t b = 0; b < (reduced(1) ? 4 : 1); ++b)
                for (int64_t c = 0; c < (reduced(2) ? 5 : 1); ++c) {
                  double x = at(in[0], {idx[0] + a, idx[1] + b, idx[2] + c});
                  acc = isMax ? std::max(acc, x) : acc + x;
                }
            out.push_back(acc);
          }
      return out;
    };
  };
  // Distinct values: max has a derivative.
  Tensor x = make(DType::F64, {3, 4, 5},
                  [](int64_t e) { return std::sin(1.3 * e) + 0.001 * e; });
  for (std::vector<int64_t> axes :
       {std::vector<int64_t>{}, {0}, {1}, {2}, {0, 2}, {-1}}) {
    for (bool keep : {false, true}) {
      std::vector<int64_t> positive;
      for (int64_t a : axes)
        positive.push_back(a < 0 ? a + 3 : a);
      std::string tag = shapeString(axes) + (keep ? " keep" : "");
      checkOp("sum" + tag, [&](auto in) { return sum(in[0], axes, keep); },
              reduce(positive, false), {x});
      checkOp("max" + tag, [&](auto in) { return max(in[0], axes, keep); },
              reduce(positive, true), {x});
    }
  }
  for (int64_t axis : {0, 1, -1}) {
    int64_t a = axis < 0 ? 2 : axis;
    auto softmaxRef = [a](bool logOf) {
      return [=](llvm::ArrayRef<Tensor> in) {
        std::vector<double> out;
        int64_t n[3] = {3, 4, 5};
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 4; ++j)
            for (int64_t k = 0; k < 5; ++k) {
              int64_t idx[3] = {i, j, k};
              double m = -INFINITY, s = 0;
              for (int64_t t = 0; t < n[a]; ++t) {
                int64_t o[3] = {i, j, k};
                o[a] = t;
                m = std::max(m, at(in[0], {o[0], o[1], o[2]}));
              }
              for (int64_t t = 0; t < n[a]; ++t) {
                int64_t o[3] = {i, j, k};
                o[a] = t;
                s += std::exp(at(in[0], {o[0], o[1], o[2]}) - m);
              }
              double v = at(in[0], {idx[0], idx[1], idx[2]}) - m;
              out.push_back(logOf ? v - std::log(s) : std::exp(v) / s);
            }
        return out;
      };
    };
    std::string tag = " axis " + std::to_string(axis);
    checkOp("softmax" + tag, [&](auto in) { return softmax(in[0], axis); },
            softmaxRef(false), {x});
    checkOp("log_softmax" + tag,
            [&](auto in) { return logSoftmax(in[0], axis); }, softmaxRef(true),
            {x});
  }
}

TEST(TapeTest, Views) {
  Tensor x = sample({3, 4});
  auto valuesOf = [](llvm::Expected<Tensor> t) {
    return values(ok(std::move(t)));
  };
  checkOp(
      "reshape", [](auto in) { return in[0].reshape({2, 6}); },
      [&](auto in) { return valuesOf(in[0].reshape({2, 6})); }, {x});
  checkOp(
      "transpose", [](auto in) { return in[0].transpose(); },
      [&](auto in) { return valuesOf(in[0].transpose()); }, {x});
  checkOp(
      "slice", [](auto in) { return in[0].slice(1, 3, 0, -2); },
      [&](auto in) { return valuesOf(in[0].slice(1, 3, 0, -2)); }, {x});
  checkOp(
      "broadcast_to", [](auto in) { return in[0].broadcastTo({2, 3, 4}); },
      [&](auto in) { return valuesOf(in[0].broadcastTo({2, 3, 4})); }, {x});
  // A view through a chain of ops: exp of a transposed slice.
  checkOp(
      "exp of a view",
      [](auto in) -> llvm::Expected<Tensor> {
        auto t = in[0].transpose();
        if (!t)
          return t.takeError();
        auto s = t->slice(0, 1, 4);
        if (!s)
          return s.takeError();
        return exp(*s);
      },
      [&](auto in) {
        std::vector<double> v = valuesOf(ok(in[0].transpose()).slice(0, 1, 4));
        for (double &e : v)
          e = std::exp(e);
        return v;
      },
      {x});
}

TEST(TapeTest, VariablesAreWatchedWhenRead) {
  Variable w(sample({2, 3}), "w");
  Variable frozen(sample({3}), "frozen", /*trainable=*/false);
  Tensor x = sample({4, 2}, 1);
  GradientTape tape;
  Tensor y = ok(einsum("bi,ij->bj", {x, w.value()}));
  Tensor z = ok(mul(y, frozen.value()));
  Tensor loss = ok(sum(z));
  EXPECT_EQ(tape.watchedCount(), 1u); // w, not the frozen one nor x
  std::vector<Tensor> g = ok(tape.gradient(loss, {w, frozen}));
  ASSERT_EQ(g.size(), 2u);
  EXPECT_FALSE(g[1].defined()); // not watched: no gradient, as tf's None
  // d loss / d w[i][j] = sum_b x[b][i] * frozen[j]
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      double want = 0;
      for (int64_t b = 0; b < 4; ++b)
        want += at(x, {b, i}) * at(frozen.value(), {j});
      EXPECT_NEAR(at(g[0], {i, j}), want, 1e-12);
    }
}

TEST(TapeTest, PersistenceAndErrors) {
  Tensor x = sample({3});
  {
    GradientTape tape;
    tape.watch(x);
    Tensor y = ok(exp(x));
    Tensor z = ok(sum(y));
    ok(tape.gradient(z, {x}));
    EXPECT_EQ(error(tape.gradient(z, {x})),
              "this GradientTape has given its gradient already; make it "
              "persistent to take more than one");
  }
  {
    GradientTape tape(/*persistent=*/true);
    tape.watch(x);
    Tensor y = ok(mul(x, x));
    Tensor s = ok(sum(y));
    Tensor first = ok(tape.gradient(s, {x}))[0];
    Tensor second = ok(tape.gradient(y, {x}))[0];
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_NEAR(at(first, {i}), 2 * at(x, {i}), 1e-12);
      EXPECT_NEAR(at(second, {i}), 2 * at(x, {i}), 1e-12);
    }
    // Unconnected: None by default, zeros when asked.
    Tensor other = sample({2});
    auto none = ok(tape.gradient(s, {other}));
    EXPECT_FALSE(none[0].defined());
    auto zero =
        ok(tape.gradient(s, {other}, nullptr, UnconnectedGradients::Zero));
    EXPECT_EQ(at(zero[0], {1}), 0.0);
    Tensor wrong = sample({4});
    EXPECT_EQ(error(tape.gradient(s, {x}, &wrong)),
              "the output gradient is (4) but the target is ()");
  }
  {
    // Recording stops and resumes.
    GradientTape tape;
    tape.watch(x);
    tape.stopRecording();
    Tensor y = ok(exp(x));
    tape.resumeRecording();
    EXPECT_EQ(tape.recordedCount(), 0u);
    Tensor z = ok(exp(x));
    EXPECT_EQ(tape.recordedCount(), 1u);
    (void)y;
    (void)z;
  }
}

TEST(TapeTest, NestedTapesGiveSecondDerivatives) {
  // d2/dx2 of sum(x^3) = 6x.
  Tensor x = sample({4}, 1);
  GradientTape outer;
  outer.watch(x);
  Tensor dx;
  {
    GradientTape inner;
    inner.watch(x);
    Tensor y = ok(einsum("i,i,i->", {x, x, x}));
    dx = ok(inner.gradient(y, {x}))[0];
  }
  Tensor d2 = ok(outer.gradient(ok(sum(dx)), {x}))[0];
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(at(dx, {i}), 3 * at(x, {i}) * at(x, {i}), 1e-12);
    EXPECT_NEAR(at(d2, {i}), 6 * at(x, {i}), 1e-12);
  }
}

TEST(TapeTest, SecondDerivativeThroughRelu) {
  // f = sum(relu(x) * x): f' = 2x where x > 0, else 0; f'' = 2 or 0.
  Tensor x = make(DType::F64, {6},
                  [](int64_t e) { return (e % 2 ? 1 : -1) * (0.5 + e); });
  GradientTape outer;
  outer.watch(x);
  Tensor dx;
  {
    GradientTape inner;
    inner.watch(x);
    Tensor f = ok(sum(ok(mul(ok(relu(x)), x))));
    dx = ok(inner.gradient(f, {x}))[0];
  }
  Tensor d2 = ok(outer.gradient(ok(sum(dx)), {x}))[0];
  for (int64_t i = 0; i < 6; ++i) {
    bool positive = at(x, {i}) > 0;
    EXPECT_NEAR(at(dx, {i}), positive ? 2 * at(x, {i}) : 0.0, 1e-12);
    EXPECT_NEAR(at(d2, {i}), positive ? 2.0 : 0.0, 1e-12) << i;
  }
}

TEST(TapeTest, TracedFunctionsAreAnErrorNotASilentNone) {
  FunctionOptions options;
  options.name = "square";
  Function square(
      [](llvm::ArrayRef<Sym> x) { return std::vector<Sym>{x[0] * x[0]}; },
      options);
  Tensor x = sample({3});
  GradientTape tape;
  tape.watch(x);
  std::vector<Tensor> y = ok(square({x}));
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(error(tape.gradient(ok(sum(y[0])), {x})),
            "no gradient through traced function 'square' yet: call its ops "
            "eagerly under the tape");
}

TEST(TapeTest, ATapeDestroyedOnAnotherThreadStopsRecording) {
  Tensor x = sample({3});
  auto *tape = new GradientTape();
  tape->watch(x);
  ok(exp(x));
  EXPECT_EQ(tape->recordedCount(), 1u);
  std::thread([tape] { delete tape; }).join();
  // This thread's ops go on, recorded by nothing (under ASan: no use of
  // the freed tape), and a new tape records as before.
  Tensor y = ok(exp(x));
  GradientTape next;
  next.watch(x);
  Tensor z = ok(sum(ok(mul(x, x))));
  EXPECT_EQ(next.recordedCount(), 2u);
  Tensor g = ok(next.gradient(z, {x}))[0];
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_NEAR(at(g, {i}), 2 * at(x, {i}), 1e-12);
  (void)y;
}

TEST(TapeTest, RepeatedOutputLabels) {
  // einjit's extension: i->ii lays a vector on a diagonal.
  Tensor v = sample({3});
  Tensor d = ok(einsum("i->ii", {v}));
  ASSERT_EQ(d.shape(), llvm::ArrayRef<int64_t>({3, 3}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j)
      EXPECT_EQ(at(d, {i, j}), i == j ? at(v, {i}) : 0.0);
  Tensor m = sample({2, 3});
  Tensor e = ok(einsum("ij->jij", {m}));
  ASSERT_EQ(e.shape(), llvm::ArrayRef<int64_t>({3, 2, 3}));
  for (int64_t j = 0; j < 3; ++j)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t k = 0; k < 3; ++k)
        EXPECT_EQ(at(e, {j, i, k}), j == k ? at(m, {i, j}) : 0.0);
}

} // namespace
