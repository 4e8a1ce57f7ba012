//===- EinsumBenchmark.cpp - einjit beside OpenBLAS, Google Benchmark -----===//
//
// For each case: BM_Compile (a cold compile of a new signature: pipeline,
// LLVM, ORC), BM_Run (a warm call of the cached kernel) and, where the case
// is matmul-shaped, BM_OpenBLAS (cblas_sgemm on one thread, per batch). At
// the end a table prints each run time beside the peer's and their ratio.
//
// Build and run: cmake --build build --target einsum-bench &&
//                build/bin/einsum-bench [--benchmark_filter=...]
// Both run on one thread (OMP_NUM_THREADS=1 unless already set).
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Einsum.h"

#include "benchmark/benchmark.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cblas.h>
#include <cstdlib>
#include <map>
#include <random>

using namespace einjit;

namespace {

struct Case {
  const char *name;
  const char *equation;
  std::vector<std::vector<int64_t>> shapes;
  /// batch, m, n, k of the equivalent sgemm calls; batch 0: no peer.
  int64_t batch, m, n, k;
};

const std::vector<Case> &cases() {
  static const std::vector<Case> all = {
      {"matmul256", "ij,jk->ik", {{256, 256}, {256, 256}}, 1, 256, 256, 256},
      {"matmul512", "ij,jk->ik", {{512, 512}, {512, 512}}, 1, 512, 512, 512},
      {"batch_matmul",
       "bij,bjk->bik",
       {{16, 128, 64}, {16, 64, 128}},
       16,
       128,
       128,
       64},
      {"attention_scores",
       "bhqd,bhkd->bhqk",
       {{2, 8, 128, 64}, {2, 8, 128, 64}},
       16,
       128,
       128,
       64},
      {"matvec", "ij,j->i", {{2048, 2048}, {2048}}, 1, 2048, 1, 2048},
      // The CPU kernel issue's workloads (bench/einsum_peers.py has them
      // beside numpy, torch, TensorFlow and JAX). Sizes the register tiles
      // do not divide:
      {"matmul999", "ij,jk->ik", {{999, 999}, {999, 999}}, 1, 999, 999, 999},
      {"matmul1009",
       "ij,jk->ik",
       {{1009, 1009}, {1009, 1009}},
       1,
       1009,
       1009,
       1009},
      {"matmul1024",
       "ij,jk->ik",
       {{1024, 1024}, {1024, 1024}},
       1,
       1024,
       1024,
       1024},
      {"batch_matmul_100",
       "bij,bjk->bik",
       {{24, 100, 100}, {24, 100, 100}},
       24,
       100,
       100,
       100},
      {"attention_scores_129",
       "bhqd,bhkd->bhqk",
       {{8, 12, 129, 64}, {8, 12, 129, 64}},
       96,
       129,
       129,
       64},
      // Label groups that are one GEMM for OpenBLAS after a free reshape:
      {"einsum_dense",
       "btd,dhk->bthk",
       {{8, 512, 768}, {768, 12, 64}},
       1,
       4096,
       768,
       768},
      {"abcd_cdef",
       "abcd,cdef->abef",
       {{24, 24, 24, 24}, {24, 24, 24, 24}},
       1,
       576,
       576,
       576},
      // No single sgemm call (permuted results, other kernel kinds):
      {"attention_wsum",
       "bhqk,bhkd->bqhd",
       {{4, 12, 512, 512}, {4, 12, 512, 64}},
       0,
       0,
       0,
       0},
      {"mode_n", "ijk,lj->ilk", {{256, 256, 256}, {128, 256}}, 0, 0, 0, 0},
      {"transpose", "ijk->kji", {{256, 256, 256}}, 0, 0, 0, 0},
      {"reduce_ijk_j", "ijk->j", {{256, 256, 256}}, 0, 0, 0, 0},
      {"quad_form", "i,ij,j->", {{4096}, {4096, 4096}, {4096}}, 0, 0, 0, 0},
      {"outer", "i,j->ij", {{4096}, {4096}}, 0, 0, 0, 0},
  };
  return all;
}

std::vector<Tensor> operandsOf(const Case &c) {
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<Tensor> ops;
  for (const auto &shape : c.shapes) {
    Tensor t = llvm::cantFail(Tensor::allocate(DType::F32, shape));
    for (int64_t i = 0; i < t.numel(); ++i)
      t.data<float>()[i] = dist(rng);
    ops.push_back(t);
  }
  return ops;
}

void BM_Compile(benchmark::State &state, const Case &c) {
  std::vector<Tensor> ops = operandsOf(c);
  for (auto _ : state) {
    clearCache();
    auto kernel = compileEinsum(c.equation, ops);
    if (!kernel) {
      state.SkipWithError(llvm::toString(kernel.takeError()).c_str());
      return;
    }
  }
}

void BM_Run(benchmark::State &state, const Case &c) {
  std::vector<Tensor> ops = operandsOf(c);
  auto kernel = compileEinsum(c.equation, ops);
  if (!kernel) {
    state.SkipWithError(llvm::toString(kernel.takeError()).c_str());
    return;
  }
  const BoundEquation &eq = (*kernel)->equation();
  Tensor out =
      llvm::cantFail(Tensor::allocate(eq.resultType, eq.outputShape()));
  for (auto _ : state)
    if (llvm::Error err = (*kernel)->run(ops, out)) {
      state.SkipWithError(llvm::toString(std::move(err)).c_str());
      return;
    }
  state.counters["FLOP/s"] = benchmark::Counter(
      (*kernel)->flops(), benchmark::Counter::kIsIterationInvariantRate);
}

/// The same products through cblas_sgemm (batched cases: one call per
/// batch; the transposed operand of attention scores as CblasTrans), or
/// cblas_sgemv for the matrix-vector product.
void BM_OpenBLAS(benchmark::State &state, const Case &c) {
  std::vector<Tensor> ops = operandsOf(c);
  std::vector<float> out(c.batch * c.m * c.n);
  bool transB = std::string(c.equation) == "bhqd,bhkd->bhqk";
  const float *a = ops[0].data<float>(), *b = ops[1].data<float>();
  for (auto _ : state)
    for (int64_t i = 0; i < c.batch; ++i)
      if (c.n == 1) // a matrix-vector product: OpenBLAS's gemv
        cblas_sgemv(CblasRowMajor, CblasNoTrans, c.m, c.k, 1.0f, a, c.k, b, 1,
                    0.0f, out.data(), 1);
      else
        cblas_sgemm(CblasRowMajor, CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans, c.m, c.n, c.k, 1.0f,
                    a + i * c.m * c.k, c.k, b + i * c.k * c.n,
                    transB ? c.k : c.n, 0.0f, out.data() + i * c.m * c.n, c.n);
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * c.batch * c.m * c.n * c.k,
                         benchmark::Counter::kIsIterationInvariantRate);
}

/// The console report, then each einjit run time beside OpenBLAS's.
class RatioReporter : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run> &runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run &run : runs)
      if (!run.error_occurred)
        times[run.benchmark_name()] = run.GetAdjustedRealTime();
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    llvm::outs() << "\nratio = OpenBLAS time / einjit time (>1: einjit "
                    "faster)\n";
    for (const Case &c : cases()) {
      auto run = times.find(std::string("BM_Run/") + c.name);
      auto peer = times.find(std::string("BM_OpenBLAS/") + c.name);
      if (run == times.end() || peer == times.end())
        continue;
      llvm::outs() << llvm::formatv("{0,-18} einjit {1,10:f1}  OpenBLAS "
                                    "{2,10:f1}  ratio {3:f2}\n",
                                    c.name, run->second, peer->second,
                                    peer->second / run->second);
    }
  }

private:
  std::map<std::string, double> times;
};

} // namespace

int main(int argc, char **argv) {
  // Like for like, one thread each: OpenBLAS through its API; einjit's
  // OpenMP runtime reads OMP_NUM_THREADS when the JIT first loads it.
  openblas_set_num_threads(1);
  setenv("OMP_NUM_THREADS", "1", /*overwrite=*/0);
  for (const Case &c : cases()) {
    benchmark::RegisterBenchmark((std::string("BM_Compile/") + c.name).c_str(),
                                 BM_Compile, c)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("BM_Run/") + c.name).c_str(),
                                 BM_Run, c)
        ->Unit(benchmark::kMicrosecond);
    if (c.batch)
      benchmark::RegisterBenchmark(
          (std::string("BM_OpenBLAS/") + c.name).c_str(), BM_OpenBLAS, c)
          ->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
