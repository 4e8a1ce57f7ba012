//===- OpsTest.cpp - Eager ops and tensor views ---------------------------===//
//
// References are computed here with loops and the C library's math
// functions (std::exp, std::erf, ...), never with einjit. Sizes are odd
// (1, 3, 5, 127, 129) and operands include strided views.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Ops.h"
#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Function.h"
#include "einjit/runtime/Session.h"

#include "TensorTestUtils.h"
#include "gtest/gtest.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <complex>
#include <functional>
#include <limits>

using namespace einjit;
using namespace einjit::test;

namespace {

double wave(int64_t e) { return std::sin(e * 0.7) * 3.0; }

/// Relative-or-absolute closeness, NaN equal to NaN, infinities exact.
void expectClose(double got, double want, double tol, const std::string &what) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what << ": " << got;
    return;
  }
  if (std::isinf(want)) {
    EXPECT_EQ(got, want) << what;
    return;
  }
  EXPECT_NEAR(got, want, tol * std::max(1.0, std::abs(want))) << what;
}

TEST(OpsTest, BinaryOpsBroadcast) {
  // (3,1,5) with (4,1) -> (3,4,5), in both orders and every dtype pair.
  for (DType type : {DType::F32, DType::F64}) {
    Tensor a = make(type, {3, 1, 5}, wave);
    Tensor b = make(type, {4, 1}, [](int64_t e) { return e + 0.5; });
    struct Case {
      llvm::Expected<Tensor> (*op)(const Tensor &, const Tensor &);
      std::function<double(double, double)> ref;
      const char *name;
    } cases[] = {{add, std::plus<double>(), "add"},
                 {sub, std::minus<double>(), "sub"},
                 {mul, std::multiplies<double>(), "mul"},
                 {div, std::divides<double>(), "div"}};
    for (const Case &c : cases) {
      Tensor r = ok(c.op(a, b));
      ASSERT_EQ(r.shape(), llvm::ArrayRef<int64_t>({3, 4, 5})) << c.name;
      EXPECT_EQ(r.dtype(), type);
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 4; ++j)
          for (int64_t k = 0; k < 5; ++k)
            expectClose(at(r, {i, j, k}),
                        c.ref(at(a, {i, 0, k}), at(b, {j, 0})),
                        type == DType::F32 ? 1e-6 : 1e-15, c.name);
      Tensor swapped = ok(c.op(b, a)); // (4,1) with (3,1,5)
      ASSERT_EQ(swapped.shape(), llvm::ArrayRef<int64_t>({3, 4, 5}));
      expectClose(at(swapped, {2, 3, 4}),
                  c.ref(at(b, {3, 0}), at(a, {2, 0, 4})), 1e-6, c.name);
    }
  }
}

TEST(OpsTest, IntegerOpsFollowNumpy) {
  Tensor a = make(DType::I32, {5}, [](int64_t e) { return e - 2; });
  Tensor b = make(DType::I64, {5}, [](int64_t e) { return 3 * e + 1; });
  Tensor s = ok(add(a, b));
  EXPECT_EQ(s.dtype(), DType::I64); // i32 + i64 -> i64
  Tensor q = ok(div(a, b));
  EXPECT_EQ(q.dtype(), DType::F64); // true division
  for (int64_t e = 0; e < 5; ++e) {
    EXPECT_EQ(s.data<int64_t>()[e], (e - 2) + (3 * e + 1));
    EXPECT_DOUBLE_EQ(q.data<double>()[e], double(e - 2) / double(3 * e + 1));
  }
  Tensor r = ok(relu(a));
  EXPECT_EQ(r.dtype(), DType::I32);
  EXPECT_EQ(r.data<int32_t>()[0], 0);
  EXPECT_EQ(r.data<int32_t>()[4], 2);
  Tensor n = ok(neg(a));
  EXPECT_EQ(n.data<int32_t>()[0], 2);
  Tensor e = ok(exp(a));
  EXPECT_EQ(e.dtype(), DType::F64);
  EXPECT_DOUBLE_EQ(e.data<double>()[4], std::exp(2.0));
  Tensor sc = ok(scale(a, 0.5));
  EXPECT_EQ(sc.dtype(), DType::F64);
  EXPECT_EQ(sc.data<double>()[0], -1.0);
  // i32 + f32 -> f64, as np.result_type.
  EXPECT_EQ(ok(add(a, make(DType::F32, {5}, wave))).dtype(), DType::F64);
  Tensor total = ok(sum(a));
  EXPECT_EQ(total.dtype(), DType::I64); // numpy sums i32 into i64
  EXPECT_EQ(total.data<int64_t>()[0], 0);
}

TEST(OpsTest, UnaryMathMatchesTheCLibrary) {
  // 129 values from -6 to 6, in f32 (polynomial approximations) and f64
  // (the C library).
  auto value = [](int64_t e) { return -6.0 + e * (12.0 / 128); };
  struct Case {
    const char *name;
    llvm::Expected<Tensor> (*op)(const Tensor &);
    std::function<double(double)> ref;
    bool positive; // defined for x > 0 only
  } cases[] = {
      {"exp", exp, [](double x) { return std::exp(x); }, false},
      {"log", log, [](double x) { return std::log(x); }, true},
      {"tanh", tanh, [](double x) { return std::tanh(x); }, false},
      {"sqrt", sqrt, [](double x) { return std::sqrt(x); }, true},
      {"relu", relu, [](double x) { return x > 0 ? x : 0.0; }, false},
      {"gelu", gelu,
       [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); },
       false},
      {"neg", neg, [](double x) { return -x; }, false},
  };
  for (DType type : {DType::F32, DType::F64, DType::F16}) {
    for (const Case &c : cases) {
      auto input = [&](int64_t e) {
        return c.positive ? std::abs(value(e)) + 0.01 : value(e);
      };
      Tensor x = make(type, {129}, input);
      Tensor y = ok(c.op(x));
      ASSERT_EQ(y.dtype(), type) << c.name;
      ASSERT_EQ(y.numel(), 129);
      double tol = type == DType::F64   ? 1e-14
                   : type == DType::F32 ? 3e-6
                                        : 2e-3;
      for (int64_t e = 0; e < 129; ++e)
        expectClose(at(y, {e}), c.ref(at(x, {e})), tol,
                    std::string(c.name) + " " + dtypeName(type).str() + " at " +
                        std::to_string(at(x, {e})));
    }
  }
}

TEST(OpsTest, GeluInF32FollowsErfDensely) {
  // f32's erf is a rational function fitted on [0, 3.92] (einsum-approximate-
  // math): 40001 points over [-10, 10] cover the fit, the clamp at 3.92 and
  // beyond, on both signs. Within 1e-6 of the C library's erf in double
  // (the fit is within 6 ulp of erf).
  int64_t n = 40001;
  auto value = [&](int64_t e) { return -10.0 + e * (20.0 / (n - 1)); };
  Tensor x = make(DType::F32, {n}, value);
  Tensor g = ok(gelu(x));
  for (int64_t e = 0; e < n; ++e) {
    double v = at(x, {e});
    expectClose(at(g, {e}), 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6,
                "gelu at " + std::to_string(v));
  }
}

TEST(OpsTest, UnaryMathAtTheEdges) {
  double inf = std::numeric_limits<double>::infinity();
  double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> xs = {0.0,  -0.0, 100.0, -100.0, 1e-30, inf,
                            -inf, nan,  -1.0,  20.0,   -20.0};
  for (DType type : {DType::F32, DType::F64}) {
    Tensor x =
        make(type, {(int64_t)xs.size()}, [&](int64_t e) { return xs[e]; });
    std::string t = dtypeName(type).str();
    Tensor e = ok(exp(x)), l = ok(log(x)), h = ok(tanh(x)), s = ok(sqrt(x)),
           r = ok(relu(x)), g = ok(gelu(x));
    for (size_t i = 0; i < xs.size(); ++i) {
      double v = at(x, {(int64_t)i});
      std::string where = t + " at " + std::to_string(v);
      // f32 overflows exp(100) to inf; f64 does not.
      expectClose(at(e, {(int64_t)i}),
                  type == DType::F32 ? (double)std::exp((float)v) : std::exp(v),
                  3e-6, "exp " + where);
      expectClose(at(l, {(int64_t)i}),
                  type == DType::F32 ? (double)std::log((float)v) : std::log(v),
                  3e-6, "log " + where);
      expectClose(at(h, {(int64_t)i}), std::tanh(v), 3e-6, "tanh " + where);
      expectClose(at(s, {(int64_t)i}), std::sqrt(v), 3e-6, "sqrt " + where);
      expectClose(at(r, {(int64_t)i}), std::isnan(v) ? nan : std::max(v, 0.0),
                  0, "relu " + where);
      double gref = std::isinf(v)
                        ? (v > 0 ? inf : 0.0)
                        : 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
      if (std::isinf(v) && v < 0)
        continue; // -inf * 0: NaN in every library
      expectClose(at(g, {(int64_t)i}), gref, 3e-6, "gelu " + where);
    }
  }
}

TEST(OpsTest, ReductionsAlongAxes) {
  for (DType type : {DType::F32, DType::F64, DType::I64}) {
    Tensor a = make(type, {3, 127, 5}, [&](int64_t e) {
      return type == DType::I64 ? double(e % 17 - 8) : wave(e);
    });
    double tol = type == DType::F32 ? 1e-5 : 1e-12;
    Tensor s1 = ok(sum(a, {1}));
    ASSERT_EQ(s1.shape(), llvm::ArrayRef<int64_t>({3, 5}));
    Tensor s1k = ok(sum(a, {-2}, /*keepDims=*/true));
    ASSERT_EQ(s1k.shape(), llvm::ArrayRef<int64_t>({3, 1, 5}));
    Tensor m02 = ok(max(a, {0, 2}));
    ASSERT_EQ(m02.shape(), llvm::ArrayRef<int64_t>({127}));
    Tensor all = ok(sum(a));
    ASSERT_EQ(all.rank(), 0);
    double total = 0;
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t k = 0; k < 5; ++k) {
        double ref = 0;
        for (int64_t j = 0; j < 127; ++j)
          ref += at(a, {i, j, k});
        total += ref;
        expectClose(at(s1, {i, k}), ref, tol, "sum axis 1");
        expectClose(at(s1k, {i, 0, k}), ref, tol, "sum axis -2 keepdims");
      }
    expectClose(at(all, {}), total, tol, "sum of all");
    for (int64_t j = 0; j < 127; ++j) {
      double ref = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t k = 0; k < 5; ++k)
          ref = std::max(ref, at(a, {i, j, k}));
      EXPECT_EQ(at(m02, {j}), ref);
    }
  }
  // f16 sums in f32 and gives f16.
  Tensor h = make(DType::F16, {1000}, [](int64_t) { return 0.1; });
  Tensor hs = ok(sum(h));
  EXPECT_EQ(hs.dtype(), DType::F16);
  EXPECT_NEAR(at(hs, {}), 1000 * (double)halfToFloat(floatToHalf(0.1)), 0.1);
  // NaN propagates through max, as numpy.max.
  Tensor n = make(DType::F32, {3}, [](int64_t e) {
    return e == 1 ? std::numeric_limits<double>::quiet_NaN() : 1.0;
  });
  EXPECT_TRUE(std::isnan(at(ok(max(n)), {})));
  // A sum over an empty axis is 0; a max is an error.
  Tensor empty = make(DType::F32, {4, 0}, wave);
  Tensor z = ok(sum(empty, {1}));
  ASSERT_EQ(z.numel(), 4);
  EXPECT_EQ(at(z, {3}), 0.0);
  EXPECT_EQ(error(max(empty, {1})),
            "max: axis 1 has size 0, and max of nothing is undefined");
}

TEST(OpsTest, SoftmaxIsStableAndNormalized) {
  for (DType type : {DType::F32, DType::F64}) {
    // Rows of 129 logits, some near 1000 (exp overflows without the shift).
    Tensor a = make(type, {3, 129}, [](int64_t e) {
      return (e / 129 == 2 ? 1000.0 : 0.0) + wave(e);
    });
    for (int64_t axis : {-1, 1}) {
      Tensor p = ok(softmax(a, axis)), lp = ok(logSoftmax(a, axis));
      ASSERT_EQ(p.shape(), a.shape());
      for (int64_t i = 0; i < 3; ++i) {
        double m = -1e300, z = 0;
        for (int64_t j = 0; j < 129; ++j)
          m = std::max(m, at(a, {i, j}));
        for (int64_t j = 0; j < 129; ++j)
          z += std::exp(at(a, {i, j}) - m);
        double total = 0;
        for (int64_t j = 0; j < 129; ++j) {
          double ref = std::exp(at(a, {i, j}) - m) / z;
          total += at(p, {i, j});
          expectClose(at(p, {i, j}), ref, type == DType::F32 ? 1e-5 : 1e-13,
                      "softmax");
          expectClose(at(lp, {i, j}), at(a, {i, j}) - m - std::log(z),
                      type == DType::F32 ? 1e-5 : 1e-13, "log_softmax");
        }
        EXPECT_NEAR(total, 1.0, 1e-5);
      }
    }
    // One kernel that writes the probabilities in place: its scratch holds
    // the rows' maxima and sums, no tensor of the operand's size.
    auto kernel = compileOp(OpKind::Softmax, {a}, {1});
    ASSERT_TRUE(!!kernel) << llvm::toString(kernel.takeError());
    EXPECT_LE((*kernel)->workspaceBytes(), 2 * 3 * 8 + 128);
    // Along axis 0 too.
    Tensor p0 = ok(softmax(a, 0));
    double column = 0;
    for (int64_t i = 0; i < 3; ++i)
      column += at(p0, {i, 7});
    EXPECT_NEAR(column, 1.0, 1e-5);
  }
  EXPECT_EQ(error(softmax(make(DType::F32, {}, wave))),
            "softmax needs an operand of rank 1 or more");
  EXPECT_EQ(error(logSoftmax(make(DType::F32, {2, 3}, wave), 2)),
            "log_softmax: axis 2 is out of range for an operand of rank 2");
  // Ints give f64, as exp does; an axis of size 0 gives an empty result.
  Tensor ints = make(DType::I32, {2, 3}, [](int64_t e) { return e; });
  Tensor pi = ok(softmax(ints, -1));
  ASSERT_EQ(pi.dtype(), DType::F64);
  double z = std::exp(0.0) + std::exp(1.0) + std::exp(2.0);
  EXPECT_NEAR(at(pi, {1, 2}), std::exp(2.0) / z, 1e-15);
  Tensor none = ok(softmax(make(DType::F32, {4, 0}, wave), 1));
  EXPECT_EQ(none.shape(), llvm::ArrayRef<int64_t>({4, 0}));
}

TEST(OpsTest, SoftmaxOfARowWithNaNIsNaN) {
  // The row's max only shifts it, yet a NaN anywhere in a row makes the
  // whole row NaN, as in
  // numpy's exp(x - max) / sum, torch.softmax and tf.nn.softmax; a row of
  // -inf is NaN too (-inf - -inf), and +inf with finite values gives NaN
  // where x is finite (inf - inf) as well. Rows without NaN are exact.
  // Eager and traced, f32 and f64, rows of 3 and of 37 (vector lanes and
  // their remainder).
  const double nan = std::nan(""), inf = INFINITY;
  for (DType type : {DType::F32, DType::F64})
    for (int64_t n : {3, 37}) {
      std::vector<std::vector<double>> rows = {
          std::vector<double>(n, 0.5), std::vector<double>(n, 1.0),
          std::vector<double>(n, nan), std::vector<double>(n, -inf),
          std::vector<double>(n, 2.0)};
      for (int64_t j = 0; j < n; ++j)
        rows[0][j] = 0.25 * j;
      rows[1][n / 2] = nan;
      rows[4][n - 1] = inf;
      Tensor a =
          make(type, {5, n}, [&](int64_t e) { return rows[e / n][e % n]; });
      Function traced =
          function([](Sym x) { return std::vector<Sym>{softmax(x, -1)}; });
      for (bool isTraced : {false, true}) {
        Tensor p = isTraced ? ok(traced({a}))[0] : ok(softmax(a, -1));
        double z = 0;
        for (int64_t j = 0; j < n; ++j)
          z += std::exp(0.25 * j - 0.25 * (n - 1));
        for (int64_t j = 0; j < n; ++j) {
          SCOPED_TRACE(llvm::formatv("{0} n {1} j {2} traced {3}",
                                     dtypeName(type), n, j, isTraced)
                           .str());
          EXPECT_NEAR(at(p, {0, j}), std::exp(0.25 * j - 0.25 * (n - 1)) / z,
                      1e-6);
          EXPECT_TRUE(std::isnan(at(p, {1, j})));
          EXPECT_TRUE(std::isnan(at(p, {2, j})));
          EXPECT_TRUE(std::isnan(at(p, {3, j})));
          EXPECT_TRUE(std::isnan(at(p, {4, j})));
        }
      }
    }
  // Softmax of a traced relu, along axes of 1 and of 3: relu keeps its NaN
  // (relu's max is not a reduction: einsum-lower-reductions leaves it be).
  Function reluSoftmax =
      function([](Sym x) { return std::vector<Sym>{softmax(relu(x), -1)}; });
  for (int64_t n : {1, 3}) {
    Tensor a = make(DType::F32, {2, n},
                    [&](int64_t e) { return e == 0 ? nan : 0.5 * e; });
    Tensor p = ok(reluSoftmax({a}))[0];
    for (int64_t j = 0; j < n; ++j)
      EXPECT_TRUE(std::isnan(at(p, {0, j}))) << n << " " << j;
    EXPECT_NEAR(at(p, {1, 0}),
                n == 1 ? 1.0 : 1.0 / (1 + std::exp(0.5) + std::exp(1.0)), 1e-6);
  }
}

TEST(OpsTest, ViewsShareMemory) {
  Tensor a = make(DType::F64, {3, 4, 5}, [](int64_t e) { return e; });
  // transpose: element (k, i, j) of the view is a[i, j, k].
  Tensor t = ok(a.transpose({2, 0, 1}));
  ASSERT_EQ(t.shape(), llvm::ArrayRef<int64_t>({5, 3, 4}));
  EXPECT_EQ(t.data(), a.data());
  EXPECT_EQ(at(t, {4, 2, 1}), at(a, {2, 1, 4}));
  EXPECT_EQ(ok(a.transpose()).shape(), llvm::ArrayRef<int64_t>({5, 4, 3}));
  // slice: Python's semantics.
  Tensor s = ok(a.slice(2, -1, -6, -2)); // [..., ::-2] from the end: 4, 2, 0
  ASSERT_EQ(s.shape(), llvm::ArrayRef<int64_t>({3, 4, 3}));
  EXPECT_EQ(at(s, {1, 2, 0}), at(a, {1, 2, 4}));
  EXPECT_EQ(at(s, {1, 2, 2}), at(a, {1, 2, 0}));
  EXPECT_EQ(ok(a.slice(1, 1, 100)).shape()[1], 3); // clamped
  EXPECT_EQ(ok(a.slice(1, 3, 1)).numel(), 0);      // empty
  EXPECT_EQ(ok(a.slice(0, -2, 3)).shape()[0], 2);
  // broadcastTo: stride 0.
  Tensor row = make(DType::F64, {1, 5}, [](int64_t e) { return e * 10; });
  Tensor b = ok(row.broadcastTo({2, 3, 5}));
  EXPECT_EQ(b.strides(), llvm::ArrayRef<int64_t>({0, 0, 1}));
  EXPECT_EQ(at(b, {1, 2, 4}), 40.0);
  // reshape: a view of a contiguous tensor, a copy of a strided one.
  Tensor r = ok(a.reshape({-1, 10}));
  ASSERT_EQ(r.shape(), llvm::ArrayRef<int64_t>({6, 10}));
  EXPECT_EQ(r.data(), a.data());
  Tensor rt = ok(t.reshape({60}));
  EXPECT_NE(rt.data(), a.data());
  EXPECT_EQ(at(rt, {1}), at(a, {0, 1, 0})); // t[0,0,1] = a[0,1,0]
  // Errors.
  EXPECT_EQ(error(a.reshape({7, -1})),
            "cannot reshape a tensor of shape (3,4,5) to (7,-1)");
  EXPECT_EQ(error(a.reshape({-1, -1})),
            "cannot reshape to (-1,-1): dim 1 is -1 (only one dim may be -1)");
  EXPECT_EQ(error(a.transpose({0, 0, 1})),
            "the axes (0,0,1) are not a permutation of a tensor of rank 3");
  EXPECT_EQ(error(a.slice(3, 0, 1)),
            "slice: axis 3 is out of range for a tensor of rank 3");
  EXPECT_EQ(error(a.slice(0, 0, 1, 0)), "slice: the step must not be 0");
  EXPECT_EQ(error(row.broadcastTo({2, 4})),
            "cannot broadcast a tensor of shape (1,5) to (2,4)");
}

TEST(OpsTest, OpsAndEinsumTakeViews) {
  Tensor a = make(DType::F32, {5, 3}, wave);
  Tensor b = make(DType::F32, {3, 5}, [](int64_t e) { return e * 0.25; });
  Tensor at_ = ok(a.transpose()); // (3,5), strided
  Tensor s = ok(add(at_, b));
  Tensor rev = ok(b.slice(1, -1, -6, -1)); // columns reversed, stride -1
  Tensor m = ok(mul(rev, ok(ok(b.slice(0, 0, 1)).broadcastTo({3, 5}))));
  Tensor e = ok(einsum("ij,ij->i", {at_, rev}));
  for (int64_t i = 0; i < 3; ++i) {
    double dot = 0;
    for (int64_t j = 0; j < 5; ++j) {
      EXPECT_FLOAT_EQ(at(s, {i, j}), at(a, {j, i}) + at(b, {i, j}));
      EXPECT_FLOAT_EQ(at(m, {i, j}), at(b, {i, 4 - j}) * at(b, {0, j}));
      dot += at(a, {j, i}) * at(b, {i, 4 - j});
    }
    EXPECT_NEAR(at(e, {i}), dot, 1e-5);
  }
}

TEST(OpsTest, BadCallsGiveTheirMessage) {
  Tensor a = make(DType::F32, {3, 4}, wave), b = make(DType::F32, {5}, wave);
  EXPECT_EQ(error(add(a, b)),
            "add: operands could not be broadcast together with shapes (3,4) "
            "and (5): dim 1 is 4 against 5");
  EXPECT_EQ(error(sum(a, {2})),
            "sum: axis 2 is out of range for an operand of rank 2");
  EXPECT_EQ(error(sum(a, {1, -1})), "sum: axis -1 is given twice");
  EXPECT_EQ(error(add(a, Tensor())),
            "operand 1 of add is an empty tensor handle");
}

TEST(OpsTest, OpsAreCachedAndRetraceLikeEinsum) {
  clearCache();
  Tensor a = make(DType::F32, {8, 3}, wave), b = make(DType::F32, {3}, wave);
  ok(add(a, b));
  ok(add(a, b));
  ok(add(a, b));
  CacheStats s = cacheStats();
  EXPECT_EQ(s.compiles, 1u);
  EXPECT_EQ(s.hits, 2u);
  ok(sum(a, {0}));
  ok(sum(a, {1})); // other axes: another kernel, not a retrace of shapes
  EXPECT_EQ(cacheStats().compiles, 3u);
  ok(add(make(DType::F32, {16, 3}, wave), b));
  std::vector<Retrace> retraces = recentRetraces();
  ASSERT_FALSE(retraces.empty());
  EXPECT_EQ(retraces.back().equation, "add");
  EXPECT_EQ(retraces.back().reason, "dim 0 of operand 0: 8 -> 16");
  clearCache();
}

} // namespace

namespace {
TEST(OpsTest, LargeResultBuffersAreReused) {
  setTensorCacheBytes(0); // drops what earlier tests left
  setTensorCacheBytes(size_t(64) << 20);
  void *first = nullptr;
  {
    Tensor big = ok(Tensor::empty(DType::F32, {1009, 1031}));
    first = big.data();
    EXPECT_EQ(tensorCacheBytesKept(), 0u);
  }
  size_t kept = tensorCacheBytesKept();
  EXPECT_GE(kept, size_t(1009) * 1031 * 4);
  // A slightly smaller request takes the same block; the cache gives it up.
  Tensor again = ok(Tensor::empty(DType::F32, {1009, 1030}));
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(tensorCacheBytesKept(), 0u);
  // allocate() still zero-fills a reused block.
  float *raw = again.data<float>();
  raw[0] = 42;
  again = Tensor();
  Tensor zeroed = ok(Tensor::allocate(DType::F32, {1009, 1030}));
  ASSERT_EQ(zeroed.data(), (void *)raw);
  EXPECT_EQ(zeroed.data<float>()[0], 0.0f);
  // A block much larger than the request is not taken for it, nor for a
  // small buffer; a capacity of 0 frees everything.
  zeroed = Tensor();
  Tensor half = ok(Tensor::empty(DType::F32, {500, 1030}));
  EXPECT_NE(half.data(), (void *)raw);
  Tensor small = ok(Tensor::empty(DType::F32, {1000}));
  EXPECT_NE(small.data(), (void *)raw);
  small = Tensor();
  EXPECT_EQ(tensorCacheBytesKept(), kept);
  half = Tensor();
  EXPECT_GT(tensorCacheBytesKept(), kept);
  setTensorCacheBytes(0);
  EXPECT_EQ(tensorCacheBytesKept(), 0u);
  setTensorCacheBytes(kDefaultTensorCacheBytes);
}
} // namespace

namespace {
TEST(OpsTest, LargeBuffersAreHugePageAligned) {
  // Buffers of 4 MiB and more start on a 2 MiB boundary (madvised to use
  // transparent huge pages); smaller ones on 64 bytes.
  Tensor big = ok(Tensor::empty(DType::F32, {1031, 1033}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % (uintptr_t(2) << 20), 0u);
  Tensor small = ok(Tensor::empty(DType::F32, {127}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % 64, 0u);
}

TEST(OpsTest, SumsAndMaximaAlongLeadingAxes) {
  // Column sums (einsum-tile-and-vectorize streams whole rows into
  // accumulators): the rows of axis 0 and the middle axis summed and
  // maximized, at widths whole registers do and do not divide (1 column
  // left of 4099), with one row and with a NaN in one column.
  for (auto [rows, middle, cols] : {std::array<int64_t, 3>{1, 3, 1},
                                    {7, 129, 33},
                                    {3, 5, 4099},
                                    {300, 2, 129},
                                    {2, 1009, 17}}) {
    Tensor a = make(DType::F32, {rows, middle, cols}, wave);
    a.data<float>()[cols / 2] = NAN;
    for (int64_t axis : {0, 1}) {
      Tensor s = ok(sum(a, {axis}, /*keepDims=*/false));
      Tensor m = ok(max(a, {axis}, /*keepDims=*/false));
      int64_t outer = axis == 0 ? middle : rows,
              along = axis == 0 ? rows : middle;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t c = 0; c < cols; ++c) {
          double total = 0, most = -INFINITY;
          bool nan = false;
          for (int64_t r = 0; r < along; ++r) {
            double x = axis == 0 ? at(a, {r, o, c}) : at(a, {o, r, c});
            nan |= std::isnan(x);
            total += x;
            most = std::max(most, x);
          }
          std::string where =
              "shape " + std::to_string(rows) + "x" + std::to_string(middle) +
              "x" + std::to_string(cols) + " axis " + std::to_string(axis) +
              " at " + std::to_string(o) + "," + std::to_string(c);
          if (nan) {
            EXPECT_TRUE(std::isnan(at(s, {o, c}))) << where;
            EXPECT_TRUE(std::isnan(at(m, {o, c}))) << where;
            continue;
          }
          EXPECT_NEAR(at(s, {o, c}), total, 1e-5 * (1 + along)) << where;
          EXPECT_EQ(at(m, {o, c}), most) << where;
        }
    }
  }
}
} // namespace

namespace {
TEST(OpsTest, MaxAlongTheContiguousAxis) {
  // The lane-wise partial maxima path (einsum-tile-and-vectorize), at
  // lengths a SIMD register does and does not divide, with -inf, -0 and a
  // NaN in some rows.
  for (int64_t n : {1, 3, 17, 129, 512}) {
    Tensor a = make(DType::F32, {7, n}, [&](int64_t e) {
      return std::sin(e * 0.37) * 5 - (e % n == n / 2 ? 100 : 0);
    });
    a.data<float>()[n - 1] = -INFINITY;
    a.data<float>()[2 * n + n / 3] = NAN;
    a.data<float>()[4 * n] = -0.0f;
    Tensor m = ok(max(a, {-1}, /*keepDims=*/true));
    ASSERT_EQ(m.shape(), llvm::ArrayRef<int64_t>({7, 1}));
    for (int64_t i = 0; i < 7; ++i) {
      double ref = -INFINITY;
      bool nan = false;
      for (int64_t j = 0; j < n; ++j) {
        double x = at(a, {i, j});
        nan |= std::isnan(x);
        ref = std::max(ref, x);
      }
      if (nan)
        EXPECT_TRUE(std::isnan(at(m, {i, 0}))) << "n " << n << " row " << i;
      else
        EXPECT_EQ(at(m, {i, 0}), ref) << "n " << n << " row " << i;
    }
  }
}
} // namespace

namespace {
TEST(OpsTest, NegativeStridesAreReadInPlace) {
  // x[::-1] and x[:, ::-1] views (numpy's flips) as einsum operands, op
  // operands and traced-function arguments, against loops over the same
  // elements; odd sizes through the small kernels (3), the packed GEMM
  // (129) and the transposing copy (33 x 129).
  Session session;
  for (int64_t n : {3, 129}) {
    Tensor a = make(DType::F32, {n, n + 2}, wave);
    Tensor b = make(DType::F32, {n + 1, n + 2},
                    [](int64_t e) { return std::cos(e * 0.3); });
    Tensor flipRows = ok(b.slice(0, n, -n - 2, -1));     // b[::-1]
    Tensor flipCols = ok(a.slice(1, n + 1, -n - 3, -1)); // a[:, ::-1]
    auto mm = session.compileEinsum("ij,kj->ik", {flipCols, flipRows});
    ASSERT_TRUE(!!mm) << llvm::toString(mm.takeError());
    EXPECT_EQ((*mm)->inputStrides()[0], std::vector<int64_t>({n + 2, -1}));
    EXPECT_EQ((*mm)->inputStrides()[1], std::vector<int64_t>({-(n + 2), 1}));
    Tensor c = ok((**mm)({flipCols, flipRows}));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < n + 1; ++k) {
        double ref = 0;
        for (int64_t j = 0; j < n + 2; ++j)
          ref += at(a, {i, n + 1 - j}) * at(b, {n - k, j});
        EXPECT_NEAR(at(c, {i, k}), ref, 1e-5 * n) << i << "," << k;
      }
    // The kernel held for the reversed layouts, given contiguous operands,
    // copies them into its layouts (elements below the first one).
    Tensor again =
        ok((**mm)({ok(flipCols.contiguous()), ok(flipRows.contiguous())}));
    for (int64_t e = 0; e < again.numel(); ++e)
      EXPECT_EQ(again.data<float>()[e], c.data<float>()[e]);
    // A traced function copies them into its contiguous layout.
    Function scaled = function(
        [](Sym x, Sym y) { return einsum("ij,kj->ik", {x, y}) * 2.0; });
    Tensor traced = ok(scaled({flipCols, flipRows}))[0];
    for (int64_t e = 0; e < traced.numel(); ++e)
      EXPECT_NEAR(traced.data<float>()[e], 2 * c.data<float>()[e], 1e-5 * n);
    Tensor e = ok(exp(flipCols));
    Tensor t = ok(session.einsum("ij->ji", {flipRows}));
    Tensor s = ok(sum(flipRows, {0}));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n + 2; ++j) {
        EXPECT_NEAR(at(e, {i, j}), std::exp(at(a, {i, n + 1 - j})), 1e-5);
        EXPECT_EQ(at(t, {j, i}), at(b, {n - i, j}));
      }
    for (int64_t j = 0; j < n + 2; ++j) {
      double ref = 0;
      for (int64_t k = 0; k < n + 1; ++k)
        ref += at(b, {k, j});
      EXPECT_NEAR(at(s, {j}), ref, 1e-5 * n);
    }
  }
}

TEST(OpsTest, ViewsAreReadInPlace) {
  Session session;
  // A transposed, a stepped slice, a broadcast (stride 0) and a reversed
  // (negative stride) operand, at odd sizes through the packed GEMM (129)
  // and the small kernels (5).
  for (int64_t n : {5, 129}) {
    Tensor base = make(DType::F32, {n + 2, 2 * n + 1}, wave);
    Tensor at1 = ok(base.slice(0, 1, n + 1)); // n x (2n+1), row stride
    Tensor a = ok(ok(at1.slice(1, 0, 2 * n, 2)).transpose()); // n x n view
    Tensor b = make(DType::F32, {n, 3}, wave);
    Tensor bias = ok(make(DType::F32, {3}, wave).broadcastTo({n, 3}));
    auto mm = session.compileEinsum("ij,jk->ik", {a, b});
    ASSERT_TRUE(!!mm) << llvm::toString(mm.takeError());
    // The view's layout is the kernel's: no copy.
    ASSERT_EQ((*mm)->inputStrides().size(), 2u);
    EXPECT_EQ((*mm)->inputStrides()[0], std::vector<int64_t>({2, 2 * n + 1}));
    EXPECT_TRUE((*mm)->inputStrides()[1].empty());
    Tensor c = ok(session.einsum("ij,jk->ik", {a, b}));
    auto addOp = session.compileOp(OpKind::Add, {c, bias});
    ASSERT_TRUE(!!addOp);
    EXPECT_EQ((*addOp)->inputStrides()[1], std::vector<int64_t>({0, 1}));
    Tensor d = ok((**addOp)({c, bias}));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < 3; ++k) {
        double ref = 0;
        for (int64_t j = 0; j < n; ++j)
          ref += at(base, {1 + j, 2 * i}) * at(b, {j, k});
        EXPECT_NEAR(at(c, {i, k}), ref, 1e-4 * n);
        EXPECT_NEAR(at(d, {i, k}), ref + at(bias, {i, k}), 1e-4 * n);
      }
    // A held kernel given another layout copies into its own.
    Tensor dense = ok(a.contiguous());
    Tensor again = ok((**mm)({dense, b}));
    for (int64_t e = 0; e < again.numel(); ++e)
      EXPECT_EQ(again.data<float>()[e], c.data<float>()[e]);
    // A negative stride is read in place too: the kernel takes it.
    Tensor reversed = ok(b.slice(0, n - 1, -n - 1, -1));
    auto rev = session.compileEinsum("jk->k", {reversed});
    ASSERT_TRUE(!!rev);
    EXPECT_EQ((*rev)->inputStrides()[0], std::vector<int64_t>({-3, 1}));
  }
  // A new layout of the same shapes is a retrace that says so.
  Tensor square = make(DType::F32, {5, 5}, wave);
  ok(session.einsum("ij->i", {square}));
  ok(session.einsum("ij->i", {ok(square.transpose())}));
  ASSERT_FALSE(session.recentRetraces().empty());
  EXPECT_EQ(session.recentRetraces().back().reason,
            "layout of operand 0: contiguous -> strides [1,5]");
}
} // namespace

TEST(OpsTest, ScaleFactorsThatPrintAlikeGetTheirOwnKernels) {
  // 0.0031 and 0.0044 read "0.00" at formatv's default precision, which
  // was once the kernel cache's key: the second call ran the first's
  // kernel.
  Tensor a = make(DType::F64, {3}, [](int64_t e) { return 1.0 + e; });
  for (double factor : {0.0031, 0.0044, 1e-9, 1e-9 * (1 + 1e-15)}) {
    Tensor s = ok(scale(a, factor));
    for (int64_t i = 0; i < 3; ++i)
      EXPECT_EQ(at(s, {i}), (1.0 + i) * factor) << factor;
  }
}

namespace {

/// Ops on an int dtype against C++'s arithmetic on `T` (its own width, so
/// results wrap as NumPy's do), on values across the whole range.
template <typename T>
void checkIntegerOps(DType type) {
  using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
  // Values spread over the range (below 2^53 for 64-bit types, so that
  // `make` stores them exactly); b has no zero (it divides).
  double lo = std::is_signed_v<T> ? (double)std::numeric_limits<T>::min() : 0;
  double span =
      std::min((double)std::numeric_limits<T>::max() - lo, std::ldexp(1.0, 52));
  auto va = [&](int64_t e) {
    return std::floor(lo + span * ((e * 37) % 15) / 14);
  };
  auto vb = [&](int64_t e) {
    double v = std::floor(lo + span * ((e * 11 + 3) % 5) / 4);
    return v == 0 ? 1 : v;
  };
  Tensor a = make(type, {3, 5}, va), b = make(type, {5}, vb);
  std::string name(dtypeName(type));
  Tensor s = ok(add(a, b)), d = ok(sub(a, b)), p = ok(mul(a, b));
  Tensor q = ok(div(a, b));
  ASSERT_EQ(s.dtype(), type) << name;
  ASSERT_EQ(p.dtype(), type) << name;
  ASSERT_EQ(q.dtype(), DType::F64) << name; // true division
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 5; ++j) {
      T x = a.data<T>()[i * 5 + j], y = b.data<T>()[j];
      int64_t e = i * 5 + j;
      EXPECT_EQ(s.data<T>()[e], T(Wide(x) + Wide(y))) << name << " add " << e;
      EXPECT_EQ(d.data<T>()[e], T(Wide(x) - Wide(y))) << name << " sub " << e;
      EXPECT_EQ(p.data<T>()[e], T(Wide(x) * Wide(y))) << name << " mul " << e;
      EXPECT_DOUBLE_EQ(q.data<double>()[e], double(x) / double(y)) << name;
    }
  }
  // max compares with the type's sign; sum counts in i64 or u64.
  Tensor m = ok(max(a, {0}));
  ASSERT_EQ(m.dtype(), type);
  Tensor total = ok(sum(a));
  ASSERT_EQ(total.dtype(), std::is_signed_v<T> ? DType::I64 : DType::U64);
  Wide want = 0;
  for (int64_t e = 0; e < 15; ++e)
    want += Wide(a.data<T>()[e]);
  EXPECT_EQ(total.data<Wide>()[0], want) << name;
  for (int64_t j = 0; j < 5; ++j)
    EXPECT_EQ(m.data<T>()[j], std::max({a.data<T>()[j], a.data<T>()[5 + j],
                                        a.data<T>()[10 + j]}))
        << name << " max " << j;
  Tensor r = ok(relu(a));
  for (int64_t e = 0; e < 15; ++e)
    EXPECT_EQ(r.data<T>()[e], std::max(a.data<T>()[e], T(0))) << name;
  // Float functions give the smallest float that holds the int.
  Tensor small = make(type, {7}, [](int64_t e) { return e; });
  Tensor ex = ok(exp(small));
  DType want_float = sizeof(T) == 1   ? DType::F16
                     : sizeof(T) == 2 ? DType::F32
                                      : DType::F64;
  ASSERT_EQ(ex.dtype(), want_float) << name;
  double tol = want_float == DType::F16   ? 1e-3
               : want_float == DType::F32 ? 1e-6
                                          : 1e-14;
  for (int64_t e = 0; e < 7; ++e)
    expectClose(at(ex, {e}), std::exp(double(e)), tol, name + " exp");
}

TEST(OpsTest, NarrowAndUnsignedIntsFollowNumpy) {
  checkIntegerOps<int8_t>(DType::I8);
  checkIntegerOps<uint8_t>(DType::U8);
  checkIntegerOps<int16_t>(DType::I16);
  checkIntegerOps<uint16_t>(DType::U16);
  checkIntegerOps<uint32_t>(DType::U32);
  checkIntegerOps<uint64_t>(DType::U64);
  // u8 with i8 is i16, each read with its own sign: 200 + -1, not -56 + -1.
  Tensor u = make(DType::U8, {2}, [](int64_t e) { return e ? 255 : 200; });
  Tensor i = make(DType::I8, {2}, [](int64_t e) { return e ? -128 : -1; });
  Tensor s = ok(add(u, i));
  ASSERT_EQ(s.dtype(), DType::I16);
  EXPECT_EQ(s.data<int16_t>()[0], 199);
  EXPECT_EQ(s.data<int16_t>()[1], 127);
  // u64 with a signed int is f64, as np.result_type.
  EXPECT_EQ(ok(add(make(DType::U64, {1}, [](int64_t) { return 1; }),
                   make(DType::I8, {1}, [](int64_t) { return 1; })))
                .dtype(),
            DType::F64);
}

TEST(OpsTest, BoolsFollowNumpy) {
  // NumPy: + is OR, * is AND, - and unary - are errors, sum counts in i64,
  // max is any, true division and exp give floats.
  Tensor a = make(DType::Bool, {2, 2}, [](int64_t e) { return e & 1; });
  Tensor b = make(DType::Bool, {2}, [](int64_t e) { return e == 0; });
  Tensor o = ok(add(a, b)), n = ok(mul(a, b));
  ASSERT_EQ(o.dtype(), DType::Bool);
  ASSERT_EQ(n.dtype(), DType::Bool);
  for (int64_t e = 0; e < 4; ++e) {
    bool x = e & 1, y = (e % 2) == 0;
    EXPECT_EQ(o.data<uint8_t>()[e], uint8_t(x || y)) << e;
    EXPECT_EQ(n.data<uint8_t>()[e], uint8_t(x && y)) << e;
  }
  EXPECT_EQ(error(sub(a, b)),
            "sub of bools is not supported, as in NumPy (use add for a "
            "logical or, or convert to an int type first)");
  EXPECT_NE(error(neg(a)).find("neg of bools is not supported"),
            std::string::npos);
  Tensor count = ok(sum(a));
  ASSERT_EQ(count.dtype(), DType::I64);
  EXPECT_EQ(count.data<int64_t>()[0], 2);
  Tensor any = ok(max(a, {1}));
  ASSERT_EQ(any.dtype(), DType::Bool);
  EXPECT_EQ(any.data<uint8_t>()[0], 1);
  Tensor e = ok(exp(a));
  ASSERT_EQ(e.dtype(), DType::F16);
  expectClose(at(e, {0, 1}), std::exp(1.0), 1e-3, "exp(True)");
  EXPECT_EQ(ok(div(a, b)).dtype(), DType::F64);
  // A bool with an int is the int: True + 7 = 8.
  Tensor i = ok(add(a, make(DType::I16, {1}, [](int64_t) { return 7; })));
  ASSERT_EQ(i.dtype(), DType::I16);
  EXPECT_EQ(i.data<int16_t>()[1], 8);
}

TEST(OpsTest, NarrowContractionsOnViews) {
  // bf16 and 8-bit products (on AVX512-BF16's and AVX512-VNNI's dot
  // products where the host has them) of transposed and flipped views,
  // against double sums of the same elements: odd K (129, a padded group),
  // rows and columns that are not whole tiles. Ints wrap in the result's
  // width (i8 x i8 -> i8, u8 x i8 -> i16), as numpy's do.
  Session session;
  const int64_t m = 37, k = 129, n = 45;
  auto wave = [](int64_t e) { return std::sin(e * 0.37) * 2.0; };
  auto bytes = [](int64_t e) { return double((e * 37 + 11) % 256 - 128); };
  auto ubytes = [](int64_t e) { return double((e * 53 + 7) % 256); };
  struct Case {
    DType a, b;
    std::function<double(int64_t)> fa, fb;
  };
  for (const Case &c : {Case{DType::BF16, DType::BF16, wave, wave},
                        Case{DType::I8, DType::I8, bytes, bytes},
                        Case{DType::U8, DType::I8, ubytes, bytes},
                        Case{DType::I8, DType::U8, bytes, ubytes}}) {
    Tensor a = make(c.a, {k, m}, c.fa);           // read as a^T
    Tensor b = make(c.b, {n + 1, k}, c.fb);       // read as b[::-1]^T
    Tensor aT = ok(a.transpose({1, 0}));          // [m, k], strided
    Tensor bFlip = ok(b.slice(0, n, -n - 2, -1)); // [n + 1, k], reversed
    Tensor r = ok(session.einsum("ik,jk->ij", {aT, bFlip}));
    ASSERT_EQ(r.shape(), llvm::ArrayRef<int64_t>({m, n + 1}));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j <= n; ++j) {
        double ref = 0;
        for (int64_t l = 0; l < k; ++l)
          ref += at(a, {l, i}) * at(b, {n - j, l});
        double got = at(r, {i, j});
        if (c.a == DType::BF16) {
          EXPECT_NEAR(got, ref, std::ldexp(1.0, -7) * (std::abs(ref) + 4))
              << i << "," << j;
          continue;
        }
        // The exact sum, wrapped to the result's width.
        int64_t bits = r.dtype() == DType::I8 ? 8 : 16;
        int64_t wrapped = int64_t(ref) & ((int64_t(1) << bits) - 1);
        if (wrapped >= (int64_t(1) << (bits - 1)))
          wrapped -= int64_t(1) << bits;
        EXPECT_EQ(int64_t(got), wrapped) << i << "," << j;
      }
  }
}

TEST(OpsTest, BFloat16ComputesInF32) {
  // bf16 in, bf16 out, f32 inside: each result is the f32 result rounded
  // once (relative error at most 2^-9).
  auto v = [](int64_t e) { return std::sin(e * 0.7) * 3.0; };
  Tensor a = make(DType::BF16, {3, 129}, v);
  Tensor b = make(DType::BF16, {129}, [](int64_t e) { return 0.5 + e / 64.0; });
  auto close = [](double got, double want, const std::string &what) {
    EXPECT_LE(std::abs(got - want),
              std::ldexp(1.0, -8) * std::abs(want) + 1e-30)
        << what << ": " << got << " against " << want;
  };
  Tensor s = ok(add(a, b)), p = ok(mul(a, b)), e = ok(exp(a));
  ASSERT_EQ(s.dtype(), DType::BF16);
  ASSERT_EQ(e.dtype(), DType::BF16);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 129; ++j) {
      double x = at(a, {i, j}), y = at(b, {j});
      close(at(s, {i, j}), x + y, "add");
      close(at(p, {i, j}), x * y, "mul");
      close(at(e, {i, j}), std::exp(x), "exp");
    }
  Tensor sm = ok(softmax(a, 1));
  ASSERT_EQ(sm.dtype(), DType::BF16);
  for (int64_t i = 0; i < 3; ++i) {
    double m = -1e300, z = 0;
    for (int64_t j = 0; j < 129; ++j)
      m = std::max(m, at(a, {i, j}));
    for (int64_t j = 0; j < 129; ++j)
      z += std::exp(at(a, {i, j}) - m);
    for (int64_t j = 0; j < 129; ++j)
      close(at(sm, {i, j}), std::exp(at(a, {i, j}) - m) / z, "softmax");
  }
  // f16 with bf16: neither holds the other, so f32.
  EXPECT_EQ(
      ok(add(a, make(DType::F16, {1}, [](int64_t) { return 1; }))).dtype(),
      DType::F32);
}

} // namespace

namespace {

/// A c64 or c128 tensor whose element e is f(e).
Tensor makeComplex(DType type, std::vector<int64_t> shape,
                   const std::function<std::complex<double>(int64_t)> &f) {
  Tensor t = ok(Tensor::allocate(type, shape));
  for (int64_t e = 0; e < t.numel(); ++e) {
    if (type == DType::C64)
      t.data<std::complex<float>>()[e] = std::complex<float>(f(e));
    else
      t.data<std::complex<double>>()[e] = f(e);
  }
  return t;
}

std::complex<double> complexAt(const Tensor &t, int64_t e) {
  if (t.dtype() == DType::C64)
    return std::complex<double>(t.data<std::complex<float>>()[e]);
  return t.data<std::complex<double>>()[e];
}

TEST(OpsTest, ComplexOpsFollowNumpy) {
  // References: std::complex<double>, whose exp, log and sqrt have C99's
  // (and NumPy's) branch cuts. Values on every side of the cuts, zeros,
  // and both parts large (against overflow in |z|).
  auto value = [](int64_t e) {
    const std::complex<double> v[] = {
        {1.5, -0.5}, {-2, 0.25}, {0, 0},       {-3, -0.0}, {-3, 0.0},
        {0.5, 2},    {-1, -1},   {1e30, 1e30}, {0, -4},    {2, 0},
        {-0.25, 3},  {7, -7},    {1e-3, 1e-3}, {-5, 1},    {3, 4}};
    return v[e % 15];
  };
  auto other = [](int64_t e) {
    return std::complex<double>(0.5 + e * 0.25, e % 2 ? -1.25 : 0.75);
  };
  for (DType type : {DType::C64, DType::C128}) {
    double tol = type == DType::C64 ? 3e-6 : 1e-14;
    std::string name(dtypeName(type));
    Tensor a = makeComplex(type, {3, 5}, value);
    Tensor b = makeComplex(type, {5}, other);
    auto close = [&](std::complex<double> got, std::complex<double> want,
                     const std::string &what) {
      double scale = std::max(1.0, std::abs(want));
      EXPECT_NEAR(got.real(), want.real(), tol * scale) << what;
      EXPECT_NEAR(got.imag(), want.imag(), tol * scale) << what;
    };
    struct Binary {
      const char *name;
      llvm::Expected<Tensor> (*op)(const Tensor &, const Tensor &);
      std::function<std::complex<double>(std::complex<double>,
                                         std::complex<double>)>
          ref;
    } binary[] = {
        {"add", add, std::plus<std::complex<double>>()},
        {"sub", sub, std::minus<std::complex<double>>()},
        {"mul", mul, std::multiplies<std::complex<double>>()},
        {"div", div, std::divides<std::complex<double>>()},
    };
    for (const Binary &c : binary) {
      Tensor r = ok(c.op(a, b));
      ASSERT_EQ(r.dtype(), type) << c.name;
      for (int64_t e = 0; e < 15; ++e) {
        if (std::abs(value(e)) > 1e20 && type == DType::C64 &&
            std::string(c.name) == "mul")
          continue; // overflows f32, as in NumPy
        close(complexAt(r, e), c.ref(value(e), other(e % 5)),
              name + " " + c.name + " at " + std::to_string(e));
      }
    }
    struct Unary {
      const char *name;
      llvm::Expected<Tensor> (*op)(const Tensor &);
      std::function<std::complex<double>(std::complex<double>)> ref;
    } unary[] = {
        {"neg", neg, [](std::complex<double> z) { return -z; }},
        {"exp", exp, [](std::complex<double> z) { return std::exp(z); }},
        {"log", log, [](std::complex<double> z) { return std::log(z); }},
        {"sqrt", sqrt, [](std::complex<double> z) { return std::sqrt(z); }},
        {"tanh", tanh, [](std::complex<double> z) { return std::tanh(z); }},
    };
    for (const Unary &c : unary) {
      Tensor r = ok(c.op(a));
      ASSERT_EQ(r.dtype(), type) << c.name;
      for (int64_t e = 0; e < 15; ++e) {
        std::complex<double> z = value(e);
        if (std::string(c.name) == "exp" && std::abs(z) > 100)
          continue; // e^1e30: overflow
        if (std::string(c.name) == "log" && z == 0.0)
          continue; // -inf + 0i
        close(complexAt(r, e), c.ref(z),
              name + " " + c.name + " of (" + std::to_string(z.real()) + "," +
                  std::to_string(z.imag()) + ")");
      }
    }
    Tensor scaled = ok(scale(b, -2.5));
    for (int64_t e = 0; e < 5; ++e)
      close(complexAt(scaled, e), -2.5 * other(e), name + " scale");
    Tensor rows = ok(sum(b));
    ASSERT_EQ(rows.dtype(), type);
    std::complex<double> total = 0;
    for (int64_t e = 0; e < 5; ++e)
      total += other(e);
    close(complexAt(rows, 0), total, name + " sum");
    Tensor columns = ok(sum(makeComplex(type, {3, 5}, other), {0}, true));
    ASSERT_EQ(columns.shape(), llvm::ArrayRef<int64_t>({1, 5}));
    for (int64_t j = 0; j < 5; ++j)
      close(complexAt(columns, j), other(j) + other(5 + j) + other(10 + j),
            name + " sum axis 0");
  }
  // A real operand is a complex one with imaginary part 0, promoted as
  // NumPy does: c64 with f32 is c64, with f64 or i32 c128.
  Tensor z = makeComplex(DType::C64, {2}, [](int64_t e) {
    return std::complex<double>(1 + e, -1);
  });
  Tensor x = make(DType::F32, {2}, [](int64_t e) { return 2 + e; });
  Tensor p = ok(mul(z, x));
  ASSERT_EQ(p.dtype(), DType::C64);
  EXPECT_EQ(complexAt(p, 1), std::complex<double>(6, -3));
  EXPECT_EQ(ok(add(z, make(DType::F64, {2}, wave))).dtype(), DType::C128);
  EXPECT_EQ(ok(add(z, make(DType::I32, {2}, wave))).dtype(), DType::C128);
  EXPECT_EQ(ok(add(z, make(DType::I16, {2}, wave))).dtype(), DType::C64);
  EXPECT_EQ(error(gelu(z)),
            "gelu of complex numbers is not supported (einjit's complex ops: "
            "add, sub, mul, div, neg, scale, exp, log, sqrt, tanh, sum)");
}

} // namespace
