//===- EinsumFuzzer.cpp - libFuzzer harness: einsum against loops ---------===//
//
// The input is a source of random choices (FuzzedDataProvider), from which
// the harness builds a VALID einsum: one to four operands over a few labels
// of size 0..4, labels repeated within an operand (diagonals), `...` with
// broadcasting of size-1 dimensions (labeled ones too), implicit or explicit
// output, spaces, f64 data and sometimes f32, f16, i64, i32 or a mix (NumPy
// promotion), contiguous or strided operands (permuted, padded, negative
// strides), with kernels for this machine, for AVX2 or for SSE. It runs
// einjit::einsum and compares the result with a plain loop
// over every label that sums the products (numpy semantics, written here from
// scratch). An error from einjit, a wrong shape or dtype, or a value off by
// more than the tolerance aborts with the equation and the operands.
//
// Values are small dyadic rationals (k/4), so most sums are exact and the
// tolerances (relative to the sum of |products| of each element) only absorb
// the rounding of f32 intermediates and of the final f16.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Einsum.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

using namespace einjit;

namespace {

/// A dimension of the loop nest: a letter, or an ellipsis dimension counted
/// from the right (1 is the last one).
struct Dim {
  char letter = 0;
  int fromRight = 0;
  bool operator<(const Dim &o) const {
    return letter != o.letter ? letter < o.letter : fromRight < o.fromRight;
  }
  bool operator==(const Dim &o) const {
    return letter == o.letter && fromRight == o.fromRight;
  }
};

struct Operand {
  std::string labels;   // letters, in order
  int ellipsisAt = -1;  // index into labels before which `...` stands
  int ellipsisRank = 0; // dimensions `...` stands for
  std::vector<Dim> dims;
  std::vector<int64_t> shape;
  DType type = DType::F64;
  std::vector<double> values; // row-major, logical
};

struct Case {
  std::vector<Operand> operands;
  bool hasOutput = false;
  std::string outputLabels;
  int outputEllipsisAt = -1;
  std::string text;
};

const char kLetters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

[[noreturn]] void fail(const Case &c, const std::string &what) {
  std::fprintf(stderr, "EinsumFuzzer: '%s' on", c.text.c_str());
  for (const Operand &op : c.operands)
    std::fprintf(stderr, " %s%s", dtypeName(op.type).str().c_str(),
                 shapeString(op.shape).c_str());
  std::fprintf(stderr, ": %s\n", what.c_str());
  std::abort();
}

/// NumPy's result type (np.result_type), written independently of einjit.
DType expectedType(const std::vector<Operand> &ops) {
  bool anyFloat = false, anyInt = false;
  int floatBytes = 0, intBytes = 0;
  for (const Operand &op : ops) {
    bool f =
        op.type == DType::F16 || op.type == DType::F32 || op.type == DType::F64;
    int bytes = op.type == DType::F16   ? 2
                : op.type == DType::F32 ? 4
                : op.type == DType::I32 ? 4
                                        : 8;
    (f ? anyFloat : anyInt) = true;
    int &widest = f ? floatBytes : intBytes;
    widest = std::max(widest, bytes);
  }
  if (anyFloat && anyInt)
    return DType::F64;
  if (anyInt)
    return intBytes == 8 ? DType::I64 : DType::I32;
  return floatBytes == 2   ? DType::F16
         : floatBytes == 4 ? DType::F32
                           : DType::F64;
}

void store(void *base, DType type, int64_t at, double v) {
  switch (type) {
  case DType::F16:
    static_cast<uint16_t *>(base)[at] = floatToHalf(float(v));
    break;
  case DType::F32:
    static_cast<float *>(base)[at] = float(v);
    break;
  case DType::F64:
    static_cast<double *>(base)[at] = v;
    break;
  case DType::I32:
    static_cast<int32_t *>(base)[at] = int32_t(v);
    break;
  case DType::I64:
    static_cast<int64_t *>(base)[at] = int64_t(v);
    break;
  }
}

/// Builds a random valid einsum from `fdp`.
Case generate(FuzzedDataProvider &fdp) {
  Case c;
  // Labels and their sizes (1..4; sometimes one of them 0).
  std::string pool;
  std::map<char, int64_t> size;
  int numLabels = fdp.ConsumeIntegralInRange<int>(1, 5);
  for (int i = 0; i < numLabels; ++i) {
    char l = kLetters[fdp.ConsumeIntegralInRange<int>(0, 51)];
    if (size.count(l))
      continue;
    pool += l;
    size[l] = fdp.ConsumeIntegralInRange<int64_t>(1, 4);
  }
  if (fdp.ConsumeIntegralInRange<int>(0, 7) == 0)
    size[pool[fdp.ConsumeIntegralInRange<size_t>(0, pool.size() - 1)]] = 0;
  // The ellipsis: up to two dimensions of size 1..3.
  bool useEllipsis = fdp.ConsumeIntegralInRange<int>(0, 3) == 0;
  int ellipsisRank = useEllipsis ? fdp.ConsumeIntegralInRange<int>(0, 2) : 0;
  std::vector<int64_t> ellipsisSize(ellipsisRank + 1);
  for (int k = 1; k <= ellipsisRank; ++k)
    ellipsisSize[k] = fdp.ConsumeIntegralInRange<int64_t>(1, 3);

  // Dtypes: mostly f64.
  int typeMode = fdp.ConsumeIntegralInRange<int>(0, 15);
  static constexpr DType kTypes[] = {DType::F64, DType::F32, DType::F16,
                                     DType::I64, DType::I32};
  auto typeFor = [&]() -> DType {
    if (typeMode <= 8)
      return DType::F64;
    if (typeMode <= 10)
      return DType::F32;
    if (typeMode == 11)
      return DType::I64;
    if (typeMode == 12)
      return DType::I32;
    if (typeMode == 13)
      return DType::F16;
    return kTypes[fdp.ConsumeIntegralInRange<int>(0, 4)];
  };

  int numOperands = fdp.ConsumeIntegralInRange<int>(1, 4);
  for (int i = 0; i < numOperands; ++i) {
    Operand op;
    int rank = fdp.ConsumeIntegralInRange<int>(0, 4);
    for (int d = 0; d < rank; ++d)
      op.labels += pool[fdp.ConsumeIntegralInRange<size_t>(0, pool.size() - 1)];
    if (useEllipsis && fdp.ConsumeBool()) {
      op.ellipsisAt = fdp.ConsumeIntegralInRange<int>(0, rank);
      op.ellipsisRank =
          ellipsisRank - fdp.ConsumeIntegralInRange<int>(0, ellipsisRank);
    }
    // Which labels this operand broadcasts (size 1 in it, whatever their
    // size elsewhere): all occurrences alike, so diagonals stay square.
    std::map<char, bool> broadcast;
    for (char l : op.labels)
      if (!broadcast.count(l))
        broadcast[l] = fdp.ConsumeIntegralInRange<int>(0, 7) == 0;
    for (int j = 0; j <= rank; ++j) {
      if (j == op.ellipsisAt)
        for (int k = op.ellipsisRank; k >= 1; --k) {
          op.dims.push_back({0, k});
          bool one = fdp.ConsumeIntegralInRange<int>(0, 3) == 0;
          op.shape.push_back(one ? 1 : ellipsisSize[k]);
        }
      if (j < rank) {
        char l = op.labels[j];
        op.dims.push_back({l, 0});
        op.shape.push_back(broadcast[l] ? 1 : size[l]);
      }
    }
    op.type = typeFor();
    c.operands.push_back(std::move(op));
  }

  // The output: implicit a third of the time.
  c.hasOutput = fdp.ConsumeIntegralInRange<int>(0, 2) != 0;
  if (c.hasOutput) {
    std::string used;
    bool anyEllipsis = false;
    int maxEllipsis = 0;
    for (const Operand &op : c.operands) {
      for (char l : op.labels)
        if (used.find(l) == std::string::npos)
          used += l;
      anyEllipsis |= op.ellipsisAt >= 0;
      maxEllipsis = std::max(maxEllipsis, op.ellipsisRank);
    }
    // A random subset in a random order.
    while (!used.empty()) {
      size_t at = fdp.ConsumeIntegralInRange<size_t>(0, used.size() - 1);
      if (fdp.ConsumeIntegralInRange<int>(0, 2) != 0)
        c.outputLabels += used[at];
      used.erase(at, 1);
    }
    // `...` must be there when it stands for any dimension.
    if (maxEllipsis > 0 || (anyEllipsis && fdp.ConsumeBool()))
      c.outputEllipsisAt =
          fdp.ConsumeIntegralInRange<int>(0, c.outputLabels.size());
  }

  // The text, with spaces now and then.
  bool spaces = fdp.ConsumeIntegralInRange<int>(0, 7) == 0;
  auto space = [&] {
    if (spaces && fdp.ConsumeBool())
      c.text += ' ';
  };
  auto term = [&](const std::string &labels, int ellipsisAt) {
    for (size_t j = 0; j <= labels.size(); ++j) {
      space();
      if ((int)j == ellipsisAt)
        c.text += "...";
      if (j < labels.size())
        c.text += labels[j];
    }
    space();
  };
  for (size_t i = 0; i < c.operands.size(); ++i) {
    if (i)
      c.text += ',';
    term(c.operands[i].labels, c.operands[i].ellipsisAt);
  }
  if (c.hasOutput) {
    c.text += "->";
    term(c.outputLabels, c.outputEllipsisAt);
  }
  return c;
}

/// The result's dimensions, by numpy's rules.
std::vector<Dim> outputDims(const Case &c) {
  int maxEllipsis = 0;
  for (const Operand &op : c.operands)
    maxEllipsis = std::max(maxEllipsis, op.ellipsisRank);
  std::vector<Dim> out;
  auto ellipsis = [&] {
    for (int k = maxEllipsis; k >= 1; --k)
      out.push_back({0, k});
  };
  if (c.hasOutput) {
    for (size_t j = 0; j <= c.outputLabels.size(); ++j) {
      if ((int)j == c.outputEllipsisAt)
        ellipsis();
      if (j < c.outputLabels.size())
        out.push_back({c.outputLabels[j], 0});
    }
    return out;
  }
  // Implicit: the ellipsis, then letters used exactly once, in ASCII order.
  ellipsis();
  std::map<char, int> count;
  for (const Operand &op : c.operands)
    for (char l : op.labels)
      ++count[l];
  for (auto [l, n] : count) // std::map: ASCII order, 'A'-'Z' first
    if (n == 1)
      out.push_back({l, 0});
  return out;
}

/// Fills each operand with values and wraps it as a tensor, contiguous or
/// strided. `storage` keeps the memory of borrowed tensors alive.
std::vector<Tensor> makeTensors(FuzzedDataProvider &fdp, Case &c,
                                std::vector<std::vector<uint64_t>> &storage) {
  std::vector<Tensor> tensors;
  for (Operand &op : c.operands) {
    int64_t n = 1;
    for (int64_t d : op.shape)
      n *= d;
    bool isInt = op.type == DType::I32 || op.type == DType::I64;
    for (int64_t e = 0; e < n; ++e) {
      int k = fdp.ConsumeIntegralInRange<int>(-8, 8);
      op.values.push_back(isInt ? k / 2 : k / 4.0);
    }
    int rank = op.shape.size();
    if (n == 0 || rank == 0 || fdp.ConsumeIntegralInRange<int>(0, 3) != 0) {
      Tensor t = llvm::cantFail(Tensor::allocate(op.type, op.shape));
      for (int64_t e = 0; e < n; ++e)
        store(t.data(), op.type, e, op.values[e]);
      tensors.push_back(t);
      continue;
    }
    // Strided: dimensions laid out in a random order, each padded by up to
    // one element, some walked backwards.
    std::vector<int> order(rank);
    for (int d = 0; d < rank; ++d)
      order[d] = d;
    for (int d = rank - 1; d > 0; --d)
      std::swap(order[d], order[fdp.ConsumeIntegralInRange<int>(0, d)]);
    std::vector<int64_t> strides(rank);
    int64_t extent = 1, base = 0;
    for (int k = rank - 1; k >= 0; --k) {
      int d = order[k];
      strides[d] = extent;
      extent *= op.shape[d] + fdp.ConsumeIntegralInRange<int>(0, 1);
    }
    for (int d = 0; d < rank; ++d)
      if (fdp.ConsumeIntegralInRange<int>(0, 3) == 0) {
        base += (op.shape[d] - 1) * strides[d];
        strides[d] = -strides[d];
      }
    storage.emplace_back((extent * dtypeBytes(op.type) + 7) / 8 + 1, 0);
    char *memory = reinterpret_cast<char *>(storage.back().data());
    void *origin = memory + base * dtypeBytes(op.type);
    std::vector<int64_t> index(rank, 0);
    for (int64_t e = 0; e < n; ++e) {
      int64_t at = 0;
      for (int d = 0; d < rank; ++d)
        at += index[d] * strides[d];
      store(origin, op.type, at, op.values[e]);
      for (int d = rank - 1; d >= 0 && ++index[d] == op.shape[d]; --d)
        index[d] = 0;
    }
    auto t = Tensor::borrow(origin, op.type, op.shape, strides);
    if (!t)
      fail(c, "Tensor::borrow refused a valid view: " +
                  llvm::toString(t.takeError()));
    tensors.push_back(*t);
  }
  return tensors;
}

/// The reference: one loop over every dimension, summing products.
void reference(const Case &c, const std::vector<Dim> &out,
               std::vector<int64_t> &outShape, std::vector<double> &sum,
               std::vector<double> &magnitude, std::vector<int64_t> &intSum) {
  // Every dimension of the loop nest and its size after broadcasting.
  std::map<Dim, int64_t> sizes;
  for (const Operand &op : c.operands)
    for (auto [d, s] : llvm::zip(op.dims, op.shape)) {
      auto [it, fresh] = sizes.insert({d, s});
      if (!fresh && it->second == 1)
        it->second = s;
    }
  std::vector<Dim> loops;
  std::vector<int64_t> ranges;
  for (auto [d, s] : sizes) {
    loops.push_back(d);
    ranges.push_back(s);
  }
  auto position = [&](const Dim &d) {
    return std::find(loops.begin(), loops.end(), d) - loops.begin();
  };
  int64_t outCount = 1;
  for (const Dim &d : out) {
    outShape.push_back(sizes.at(d));
    outCount *= sizes.at(d);
  }
  sum.assign(outCount, 0.0);
  magnitude.assign(outCount, 0.0);
  intSum.assign(outCount, 0);
  for (int64_t r : ranges)
    if (r == 0)
      return;

  std::vector<int64_t> at(loops.size(), 0);
  while (true) {
    double product = 1;
    int64_t intProduct = 1;
    for (const Operand &op : c.operands) {
      int64_t flat = 0;
      for (auto [d, s] : llvm::zip(op.dims, op.shape))
        flat = flat * s + (s == 1 ? 0 : at[position(d)]);
      product *= op.values[flat];
      intProduct *= int64_t(op.values[flat]);
    }
    int64_t o = 0;
    for (auto [d, s] : llvm::zip(out, outShape))
      o = o * s + at[position(d)];
    sum[o] += product;
    magnitude[o] += std::fabs(product);
    intSum[o] += intProduct;
    size_t k = loops.size();
    while (k > 0 && ++at[k - 1] == ranges[k - 1])
      at[--k] = 0;
    if (k == 0)
      break;
  }
}

void check(const Case &c, const Tensor &result) {
  std::vector<Dim> out = outputDims(c);
  std::vector<int64_t> shape;
  std::vector<double> sum, magnitude;
  std::vector<int64_t> intSum;
  reference(c, out, shape, sum, magnitude, intSum);

  DType type = expectedType(c.operands);
  if (result.dtype() != type)
    fail(c, "result dtype " + dtypeName(result.dtype()).str() + ", expected " +
                dtypeName(type).str());
  if (result.shape() != llvm::ArrayRef<int64_t>(shape))
    fail(c, "result shape " + shapeString(result.shape()) + ", expected " +
                shapeString(shape));
  if (!result.isContiguous())
    fail(c, "result is not contiguous");
  for (int64_t e = 0; e < (int64_t)sum.size(); ++e) {
    double got = result.getDouble(e);
    double want = sum[e], tolerance = 0;
    switch (type) {
    case DType::I32:
    case DType::I64:
      want =
          double(type == DType::I32 ? int64_t(int32_t(intSum[e])) : intSum[e]);
      break;
    case DType::F64:
      tolerance = 1e-12 * magnitude[e];
      break;
    case DType::F32:
      tolerance = 1e-5 * magnitude[e];
      break;
    case DType::F16:
      // Summed in f32, rounded once to f16 (spacing 2^-10 relative, 2^-24
      // among subnormals).
      tolerance = 1e-3 * std::max(magnitude[e], std::fabs(want)) + 6e-8;
      break;
    }
    if (!(std::fabs(got - want) <= tolerance)) {
      char what[160];
      std::snprintf(what, sizeof what,
                    "element %lld of the result is %.17g, expected %.17g "
                    "(tolerance %.3g)",
                    (long long)e, got, want, tolerance);
      fail(c, what);
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  Case c = generate(fdp);
  std::vector<std::vector<uint64_t>> storage;
  std::vector<Tensor> tensors = makeTensors(fdp, c, storage);

  // EINJIT_FUZZ_PRINT=1 prints each case (to see what a reproducer does).
  static const bool print = std::getenv("EINJIT_FUZZ_PRINT");
  if (print) {
    std::fprintf(stderr, "EinsumFuzzer: '%s' on", c.text.c_str());
    for (auto [op, t] : llvm::zip(c.operands, tensors))
      std::fprintf(stderr, " %s%s%s", dtypeName(op.type).str().c_str(),
                   shapeString(op.shape).c_str(),
                   t.isContiguous()
                       ? ""
                       : ("/strides" + shapeString(t.strides())).c_str());
    std::fprintf(stderr, "\n");
  }

  // Kernels are cached for the life of the process; keep memory bounded.
  if (cacheStats().entries > 200)
    clearCache();

  // Kernels for this machine, for AVX2 (haswell) and for SSE (x86-64):
  // their tiles and instructions differ, and every project machine runs
  // all three.
  static const TargetInfo targets[] = {
      TargetInfo::host(), llvm::cantFail(TargetInfo::forCPU("haswell")),
      llvm::cantFail(TargetInfo::forCPU("x86-64"))};
  const TargetInfo &target = targets[fdp.ConsumeIntegralInRange<int>(0, 2)];
  setTarget(target);
  if (print)
    std::fprintf(stderr, "EinsumFuzzer: target %s\n", target.str().c_str());

  if (fdp.ConsumeIntegralInRange<int>(0, 3) == 0) {
    // Through a compiled kernel, into a caller-provided output.
    auto kernel = compileEinsum(c.text, tensors);
    if (!kernel)
      fail(c, "compileEinsum failed: " + llvm::toString(kernel.takeError()));
    const BoundEquation &eq = (*kernel)->equation();
    Tensor out =
        llvm::cantFail(Tensor::allocate(eq.resultType, eq.outputShape()));
    if (auto err = (*kernel)->run(tensors, out))
      fail(c, "CompiledEinsum::run failed: " + llvm::toString(std::move(err)));
    check(c, out);
    return 0;
  }
  auto result = einsum(c.text, tensors);
  if (!result)
    fail(c, "einsum failed: " + llvm::toString(result.takeError()));
  check(c, *result);
  return 0;
}
