//===- GpuTest.cpp - Device tensors, einsum and traced functions ----------===//
//
// The CUDA path of the C++ API. Without EINJIT_CUDA_DRIVER set, the tests
// run on the test suite's fake driver (test/fake-cuda) with
// EINJIT_GPU_EMULATE=1: the GPU pipeline's kernels, compiled for the host,
// run on its host memory (runtime/lib/GpuEmulator.h), so results are real.
// On a GPU machine, EINJIT_CUDA_DRIVER=libcuda.so.1 runs them on the
// device. References are computed here with plain loops in double.
//
//===----------------------------------------------------------------------===//

#include "CudaAbi.h"
#include "GpuEmulator.h"
#include "TensorTestUtils.h"

#include "einjit/runtime/Device.h"
#include "einjit/runtime/DeviceOps.h"
#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Function.h"
#include "einjit/runtime/Session.h"

#include <cmath>
#include <cstdlib>

using namespace einjit;
using namespace einjit::test;

namespace {
/// Before the driver loads (at the first device call): the fake driver and
/// the emulator, unless a driver was named.
const bool onFakeDriver = [] {
  if (std::getenv("EINJIT_CUDA_DRIVER"))
    return false;
  setenv("EINJIT_CUDA_DRIVER", EINJIT_FAKE_CUDA, 1);
  setenv("EINJIT_GPU_EMULATE", "1", 1);
  // The driver's log of every call (FAKE_CUDA_LOG names a file for it).
  setenv("FAKE_CUDA_LOG", "/dev/null", 0);
  return true;
}();

Tensor random(std::vector<int64_t> shape, int seed) {
  return make(DType::F32, std::move(shape), [seed](int64_t e) {
    uint64_t x = (uint64_t(e) + 1) * 0x9E3779B97F4A7C15ull + seed * 7919;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return double(x % 20001) / 10000.0 - 1.0;
  });
}

DeviceTensor onDevice(const Tensor &t) { return ok(DeviceTensor::fromHost(t)); }

Tensor onHost(const DeviceTensor &t) { return ok(t.toHost()); }

/// The largest |got - want| over a row-major f32 tensor and a reference.
double maxError(const Tensor &got, const std::vector<double> &want) {
  EXPECT_EQ(got.numel(), (int64_t)want.size());
  double err = 0;
  for (int64_t e = 0; e < got.numel() && e < (int64_t)want.size(); ++e)
    err = std::max(err, std::abs(got.getDouble(e) - want[e]));
  return err;
}

/// Multi-head attention, [b, s, h, d] in and out: softmax(q.k / sqrt(d)) v.
std::vector<double> attention(const Tensor &q, const Tensor &k, const Tensor &v,
                              int64_t b, int64_t s, int64_t h, int64_t d) {
  std::vector<double> out(b * s * h * d, 0);
  auto idx = [&](int64_t bi, int64_t si, int64_t hi, int64_t di) {
    return ((bi * s + si) * h + hi) * d + di;
  };
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t qi = 0; qi < s; ++qi) {
        std::vector<double> p(s);
        double top = -INFINITY, total = 0;
        for (int64_t ki = 0; ki < s; ++ki) {
          double dot = 0;
          for (int64_t di = 0; di < d; ++di)
            dot += q.getDouble(idx(bi, qi, hi, di)) *
                   k.getDouble(idx(bi, ki, hi, di));
          p[ki] = dot / std::sqrt(double(d));
          top = std::max(top, p[ki]);
        }
        for (double &x : p)
          total += x = std::exp(x - top);
        for (int64_t di = 0; di < d; ++di) {
          double acc = 0;
          for (int64_t ki = 0; ki < s; ++ki)
            acc += p[ki] / total * v.getDouble(idx(bi, ki, hi, di));
          out[idx(bi, qi, hi, di)] = acc;
        }
      }
  return out;
}
} // namespace

TEST(GpuTest, EinsumOnDeviceTensorsAtOddSizes) {
  // The tiled kernel (both tiles), a transposed operand, a reduction.
  struct Case {
    const char *eq;
    std::vector<int64_t> a, b;
  };
  for (const Case &c : {Case{"ij,jk->ik", {129, 67}, {67, 131}},
                        Case{"ij,jk->ik", {3, 5}, {5, 7}},
                        Case{"ij,kj->ki", {37, 300}, {41, 300}},
                        Case{"ij,ij->i", {50, 999}, {50, 999}}}) {
    SCOPED_TRACE(c.eq);
    Tensor a = random(c.a, 1), b = random(c.b, 2);
    DeviceTensor out = ok(einsum(c.eq, {onDevice(a), onDevice(b)}));
    Tensor got = onHost(out);
    bool transposed = std::string(c.eq) == "ij,kj->ki";
    bool rows = std::string(c.eq) == "ij,ij->i";
    int64_t m = c.a[0], kk = c.a[1], n = rows ? 1 : c.b[transposed ? 0 : 1];
    std::vector<double> want(rows ? m : m * n, 0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < kk; ++p)
          acc +=
              a.getDouble(i * kk + p) * (rows         ? b.getDouble(i * kk + p)
                                         : transposed ? b.getDouble(j * kk + p)
                                                      : b.getDouble(p * n + j));
        want[rows ? i : transposed ? j * m + i : i * n + j] = acc;
      }
    EXPECT_LT(maxError(got, want), 1e-5 * kk);
  }
}

TEST(GpuTest, TracedAttentionRunsOnTheDevice) {
  int64_t b = 2, s = 37, h = 3, d = 16;
  Function attend = function([d](Sym q, Sym k, Sym v) {
    Sym scores = einsum("bqhd,bkhd->bhqk", {q, k}) * (1 / std::sqrt(double(d)));
    return einsum("bhqk,bkhd->bqhd", {softmax(scores, -1), v});
  });
  Tensor q = random({b, s, h, d}, 3), k = random({b, s, h, d}, 4),
         v = random({b, s, h, d}, 5);
  std::vector<DeviceTensor> out =
      ok(attend({onDevice(q), onDevice(k), onDevice(v)}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), llvm::ArrayRef<int64_t>({b, s, h, d}));
  EXPECT_LT(maxError(onHost(out[0]), attention(q, k, v, b, s, h, d)), 1e-5);

  // A second call reuses the kernel; another sequence length retraces.
  ok(attend({onDevice(q), onDevice(k), onDevice(v)}));
  EXPECT_EQ(attend.stats().traces, 1u);
  Tensor q2 = random({b, 20, h, d}, 6), k2 = random({b, 20, h, d}, 7),
         v2 = random({b, 20, h, d}, 8);
  out = ok(attend({onDevice(q2), onDevice(k2), onDevice(v2)}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_LT(maxError(onHost(out[0]), attention(q2, k2, v2, b, 20, h, d)), 1e-5);
  EXPECT_EQ(attend.stats().traces, 2u);
  EXPECT_EQ(attend.stats().retraces, 1u);
  EXPECT_EQ(attend.stats().signatures, 2u);
  // A host call is one more signature of the same function.
  std::vector<Tensor> host = ok(attend({q, k, v}));
  ASSERT_EQ(host.size(), 1u);
  EXPECT_LT(maxError(host[0], attention(q, k, v, b, s, h, d)), 1e-5);
  EXPECT_EQ(attend.stats().signatures, 3u);
}

TEST(GpuTest, TracedElementwiseAndReductions) {
  // y = relu(x W + c) and its row sums and maxima; gelu, tanh, exp, log.
  int64_t n = 33, in = 70, outDim = 45;
  Function layer = function([](Sym x, Sym w, Sym c) {
    Sym y = relu(einsum("ni,io->no", {x, w}) + c);
    Sym g = gelu(y) + tanh(y) * exp(neg(y)) + log(y + full(y, {}, 2.0));
    return std::vector<Sym>{y, sum(g, {1}), max(y, {0})};
  });
  Tensor x = random({n, in}, 9), w = random({in, outDim}, 10),
         c = random({outDim}, 11);
  std::vector<DeviceTensor> got =
      ok(layer({onDevice(x), onDevice(w), onDevice(c)}));
  ASSERT_EQ(got.size(), 3u);
  std::vector<double> y(n * outDim), rows(n, 0), cols(outDim, -INFINITY);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < outDim; ++o) {
      double acc = c.getDouble(o);
      for (int64_t p = 0; p < in; ++p)
        acc += x.getDouble(i * in + p) * w.getDouble(p * outDim + o);
      double r = std::max(acc, 0.0);
      y[i * outDim + o] = r;
      double gelu = 0.5 * r * (1 + std::erf(r / std::sqrt(2.0)));
      rows[i] += gelu + std::tanh(r) * std::exp(-r) + std::log(r + 2.0);
      cols[o] = std::max(cols[o], r);
    }
  EXPECT_LT(maxError(onHost(got[0]), y), 1e-4);
  EXPECT_LT(maxError(onHost(got[1]), rows), 1e-3);
  EXPECT_LT(maxError(onHost(got[2]), cols), 1e-4);
}

TEST(GpuTest, TracedSoftmaxFusesItsElementwiseOps) {
  if (!onFakeDriver)
    GTEST_SKIP() << "the emulator counts the launches";
  // softmax(x / 2) along rows of 300: the scale, the subtraction of the
  // maxima and the exponential are computed inside the sum and the
  // division (einsum-fuse-elementwise); the maxima (a thread per row) and
  // the sums (a block per row that reads the maxima through a unit dim)
  // start from their fill values (einsum-gpu-map-loops). So the graph runs
  // as three kernels: the rows' maxima, their sums and the quotients. It
  // was eight: the scale, the subtraction, the exponential and both fills
  // of their own, and the sum a thread per row.
  int64_t rows = 37, cols = 300;
  Function f = function([](Sym x) { return softmax(x * 0.5, -1); });
  Tensor x = random({rows, cols}, 12);
  DeviceTensor input = onDevice(x);
  ok(f({input}));
  uint64_t before = cuda::emulatedLaunches();
  std::vector<DeviceTensor> out = ok(f({input}));
  uint64_t launches = cuda::emulatedLaunches() - before;
  ASSERT_EQ(out.size(), 1u);
  std::vector<double> want(rows * cols);
  for (int64_t i = 0; i < rows; ++i) {
    double top = -INFINITY, total = 0;
    for (int64_t j = 0; j < cols; ++j)
      top = std::max(top, 0.5 * x.getDouble(i * cols + j));
    for (int64_t j = 0; j < cols; ++j)
      total += want[i * cols + j] =
          std::exp(0.5 * x.getDouble(i * cols + j) - top);
    for (int64_t j = 0; j < cols; ++j)
      want[i * cols + j] /= total;
  }
  EXPECT_LT(maxError(onHost(out[0]), want), 1e-6);
  EXPECT_EQ(launches, 3u);
}

TEST(GpuTest, TracedFunctionErrors) {
  Function twice = function([](Sym a) { return a + a; });
  Tensor a = random({4, 5}, 12);
  EXPECT_EQ(error(twice(std::vector<DeviceTensor>{onDevice(a), onDevice(a)})),
            "'function' takes 1 arguments, got 2");
  EXPECT_EQ(error(twice(std::vector<DeviceTensor>{DeviceTensor()})),
            "argument 0 of 'function' is an empty tensor handle");
  // A body error is the call's error, as on the host.
  Function bad =
      function([](Sym a, Sym b) { return einsum("ij,jk->ik", {a, b}); });
  EXPECT_NE(error(bad({onDevice(a), onDevice(a)})).find("in traced function"),
            std::string::npos);
  // An empty tensor: the graph runs on the host, the result comes back.
  Tensor none = random({0, 5}, 13);
  std::vector<DeviceTensor> out = ok(twice({onDevice(none)}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), llvm::ArrayRef<int64_t>({0, 5}));
}

TEST(GpuTest, TracedGradientsRunOnTheDevice) {
  // loss = sum(tanh(x W)^2); dL/dW = x^T (2 tanh(xW) (1 - tanh(xW)^2)),
  // dL/dx = (2 t (1 - t^2)) W^T, traced with the forward into one graph.
  int64_t n = 19, in = 23, out = 29;
  Function step = function([](Sym x, Sym w) {
    Sym t = tanh(einsum("ni,io->no", {x, w}));
    Sym loss = sum(t * t);
    std::vector<Sym> grads = gradients(loss, {w, x});
    return std::vector<Sym>{loss, grads[0], grads[1]};
  });
  Tensor x = random({n, in}, 14), w = random({in, out}, 15);
  std::vector<DeviceTensor> got = ok(step({onDevice(x), onDevice(w)}));
  ASSERT_EQ(got.size(), 3u);
  std::vector<double> t(n * out), dw(in * out, 0), dx(n * in, 0);
  double loss = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double acc = 0;
      for (int64_t p = 0; p < in; ++p)
        acc += x.getDouble(i * in + p) * w.getDouble(p * out + o);
      t[i * out + o] = std::tanh(acc);
      loss += t[i * out + o] * t[i * out + o];
    }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double tt = t[i * out + o], g = 2 * tt * (1 - tt * tt);
      for (int64_t p = 0; p < in; ++p) {
        dw[p * out + o] += x.getDouble(i * in + p) * g;
        dx[i * in + p] += g * w.getDouble(p * out + o);
      }
    }
  EXPECT_LT(maxError(onHost(got[0]), {loss}), 1e-3);
  EXPECT_LT(maxError(onHost(got[1]), dw), 1e-4);
  EXPECT_LT(maxError(onHost(got[2]), dx), 1e-4);
}

TEST(GpuTest, EagerOpsOnDeviceTensors) {
  // Broadcasting add, exp, softmax along the last axis, sums over axes,
  // scale: one-op graphs through the GPU pipeline.
  Tensor a = random({7, 1, 13}, 16), b = random({5, 13}, 17);
  DeviceTensor da = onDevice(a), db = onDevice(b);
  Tensor sum0 = onHost(ok(add(da, db)));
  ASSERT_EQ(sum0.shape(), llvm::ArrayRef<int64_t>({7, 5, 13}));
  std::vector<double> want(7 * 5 * 13), soft(7 * 5 * 13), rows(7 * 13, 0);
  for (int64_t i = 0; i < 7; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      double top = -INFINITY, total = 0;
      for (int64_t k = 0; k < 13; ++k) {
        double v = a.getDouble(i * 13 + k) + b.getDouble(j * 13 + k);
        want[(i * 5 + j) * 13 + k] = v;
        top = std::max(top, v);
        rows[i * 13 + k] += std::exp(v) * 0.5;
      }
      for (int64_t k = 0; k < 13; ++k)
        total += std::exp(want[(i * 5 + j) * 13 + k] - top);
      for (int64_t k = 0; k < 13; ++k)
        soft[(i * 5 + j) * 13 + k] =
            std::exp(want[(i * 5 + j) * 13 + k] - top) / total;
    }
  EXPECT_LT(maxError(sum0, want), 1e-6);
  DeviceTensor s = ok(add(da, db));
  EXPECT_LT(maxError(onHost(ok(softmax(s, -1))), soft), 1e-6);
  DeviceTensor half = ok(scale(ok(exp(s)), 0.5));
  EXPECT_LT(maxError(onHost(ok(sum(half, {1}))), rows), 1e-5);
  // Errors are bindOp's, as on the host.
  EXPECT_NE(error(add(da, onDevice(random({4}, 18)))).find("broadcast"),
            std::string::npos);
}

TEST(GpuTest, DeviceGradientTape) {
  // loss = sum(tanh(x W) * tanh(x W)), recorded eagerly on the device; the
  // gradients replay it with its backward as one traced graph.
  int64_t n = 11, in = 17, out = 13;
  Tensor x = random({n, in}, 19), w = random({in, out}, 20);
  DeviceTensor dx = onDevice(x), dw = onDevice(w), other = onDevice(x);
  DeviceGradientTape tape(/*persistent=*/true);
  tape.watch(dw);
  tape.watch(dx);
  tape.watch(other);
  DeviceTensor t = ok(tanh(ok(einsum("ni,io->no", {dx, dw}))));
  DeviceTensor loss = ok(sum(ok(mul(t, t))));
  EXPECT_EQ(tape.recordedCount(), 4u);
  std::vector<DeviceTensor> grads = ok(tape.gradient(loss, {dw, dx, other}));
  ASSERT_EQ(grads.size(), 3u);
  std::vector<double> dW(in * out, 0), dX(n * in, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double acc = 0;
      for (int64_t p = 0; p < in; ++p)
        acc += x.getDouble(i * in + p) * w.getDouble(p * out + o);
      double tt = std::tanh(acc), g = 2 * tt * (1 - tt * tt);
      for (int64_t p = 0; p < in; ++p) {
        dW[p * out + o] += x.getDouble(i * in + p) * g;
        dX[i * in + p] += g * w.getDouble(p * out + o);
      }
    }
  EXPECT_LT(maxError(onHost(grads[0]), dW), 1e-4);
  EXPECT_LT(maxError(onHost(grads[1]), dX), 1e-4);
  // A source the loss does not read: None, or zeros when asked.
  EXPECT_FALSE(grads[2].defined());
  grads = ok(tape.gradient(loss, {other}, nullptr, UnconnectedGradients::Zero));
  ASSERT_EQ(grads.size(), 1u);
  EXPECT_EQ(maxError(onHost(grads[0]), std::vector<double>(n * in, 0)), 0);

  // Weighed by an output gradient: d(sum(g * t)) / dW.
  Tensor weights = random({n, out}, 21);
  DeviceTensor dg = onDevice(weights);
  grads = ok(tape.gradient(t, {dw}, &dg));
  ASSERT_EQ(grads.size(), 1u);
  std::fill(dW.begin(), dW.end(), 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double acc = 0;
      for (int64_t p = 0; p < in; ++p)
        acc += x.getDouble(i * in + p) * w.getDouble(p * out + o);
      double tt = std::tanh(acc);
      double g = weights.getDouble(i * out + o) * (1 - tt * tt);
      for (int64_t p = 0; p < in; ++p)
        dW[p * out + o] += x.getDouble(i * in + p) * g;
    }
  EXPECT_LT(maxError(onHost(grads[0]), dW), 1e-4);

  // A tape that is not persistent gives gradients once.
  DeviceGradientTape once;
  once.watch(dw);
  DeviceTensor y = ok(scale(dw, 3.0));
  ok(once.gradient(y, {dw}));
  EXPECT_EQ(error(once.gradient(y, {dw})),
            "a device gradient tape that is not persistent gives gradients "
            "once");
}

namespace {
/// Hand-written kernels for the emulator: 64 threads share `shared`.
float shared[64];
float results[64];
int32_t tid() { return einjitEmuSreg(0); }
void writeThenRead(bool barrier) {
  int32_t t = tid();
  einjitEmuShared(&shared[t], 4, 1);
  shared[t] = float(t);
  if (barrier)
    einjitEmuBarrier();
  int32_t next = (t + 1) % 64;
  einjitEmuShared(&shared[next], 4, 0);
  results[t] = shared[next];
}
void withBarrier(void **) { writeThenRead(true); }
void withoutBarrier(void **) { writeThenRead(false); }
void divergent(void **) {
  if (tid() == 0)
    einjitEmuBarrier();
}

/// Each of 64 threads reads element tid + 1 of a 64-element device array
/// (params[0] points to its address): thread 63 reads past its end.
void readsPastTheEnd(void **params) {
  float *data = *static_cast<float **>(params[0]);
  float *at = data + tid() + 1;
  einjitEmuGlobal(at, 4, 0);
}

/// The emulator's failure for `kernel` on 64 threads, or "".
std::string launch(void (*kernel)(void **), void **params = nullptr) {
  einjitEmuLaunch(kernel, /*cooperative=*/1, 1, 1, 1, 64, 1, 1, params);
  return cuda::takeAbiFailure();
}
} // namespace

TEST(GpuTest, EmulatorChecksBarriersSharedMemoryAndBounds) {
  if (!onFakeDriver)
    GTEST_SKIP() << "the emulator runs on the fake driver only";
  // Written, a barrier, read: every thread sees its neighbour's value.
  EXPECT_EQ(launch(withBarrier), "");
  for (int t = 0; t < 64; ++t)
    EXPECT_EQ(results[t], float((t + 1) % 64));
  // Without the barrier, thread 0 reads what thread 1 has not written yet
  // on a GPU: a race, reported whatever the fibers' order made of it.
  EXPECT_NE(launch(withoutBarrier).find("a data race"), std::string::npos);
  // A barrier only thread 0 reaches: an error, not a hang.
  EXPECT_NE(launch(divergent).find("reached different barriers"),
            std::string::npos);
  // An access outside every device allocation (the fake driver knows
  // them): thread 63 reads one float past the end of 64.
  DeviceTensor data = ok(DeviceTensor::empty(DType::F32, {64}));
  void *address = data.data();
  void *params[] = {&address};
  std::string outside = launch(readsPastTheEnd, params);
  char end[32];
  std::snprintf(end, sizeof(end), "%p", static_cast<char *>(address) + 256);
  EXPECT_EQ(outside, std::string("a GPU kernel's thread (63,0,0) of block "
                                 "(0,0,0) reads 4 bytes at ") +
                         end +
                         ", outside every device allocation (an "
                         "out-of-bounds access)");
  // Inside it, nothing.
  address = static_cast<char *>(address) - 4;
  EXPECT_EQ(launch(readsPastTheEnd, params), "");
}
