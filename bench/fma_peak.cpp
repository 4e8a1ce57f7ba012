//===- fma_peak.cpp - fp32 FMA peak and copy bandwidth of this machine ----===//
//
// The two ceilings bench/einsum_peers.py divides by, measured in the same run
// as the einsum timings (the CPU differs from one machine to the next):
//
//   fma_peak fma THREADS    fp32 GFLOP/s of THREADS pinned threads, each
//                           running 12 independent FMA chains of vector
//                           registers (enough to cover a 4-cycle latency on
//                           two FMA ports); 512-bit and 256-bit variants
//   fma_peak dot THREADS    the packed-type dot products' peaks where the
//                           CPU has them: AVX512-BF16's vdpbf16ps
//                           (bf16dot_gflops, 2 flops per bf16 pair
//                           element) and AVX512-VNNI's vpdpbusd (vnni_gops,
//                           2 ops per u8 x i8 product), 12 chains each
//   fma_peak copy THREADS MIB
//                           GB/s of memcpy between two MIB-MiB arrays per
//                           thread, counting bytes read plus bytes written
//
// Each prints `key: value` lines. Thread i is pinned to the i-th CPU of the
// process's affinity mask. Build: g++ -O3 -march=native -pthread (the script
// does this in a temporary folder); not part of the CMake build.
//
//===----------------------------------------------------------------------===//

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kChains = 12;
volatile float sink;

// Pins the calling thread to the index-th CPU the process may run on.
void pinToCpu(int index) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  sched_getaffinity(0, sizeof(allowed), &allowed);
  int seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed))
      continue;
    if (seen++ != index)
      continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
    return;
  }
}

// Runs body(thread) on `threads` pinned threads released together; returns
// the wall time from the release to the last thread's end.
template <typename Body>
double runPinned(int threads, const Body &body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  Clock::time_point start;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      pinToCpu(t);
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire))
        ;
      body(t);
    });
  while (ready.load() != threads)
    ;
  start = Clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread &th : pool)
    th.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// acc = acc * m + a converges to a / (1 - m): no overflow, no denormals.
#if defined(__AVX512F__)
float chains512(long iters) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = _mm512_set1_ps(static_cast<float>(c));
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-6f);
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c)
      acc[c] = _mm512_fmadd_ps(acc[c], m, a);
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c)
    sum = _mm512_add_ps(sum, acc[c]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  float total = 0;
  for (float x : lanes)
    total += x;
  return total;
}
#endif

#if defined(__FMA__)
float chains256(long iters) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = _mm256_set1_ps(static_cast<float>(c));
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-6f);
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c)
      acc[c] = _mm256_fmadd_ps(acc[c], m, a);
  __m256 sum = acc[0];
  for (int c = 1; c < kChains; ++c)
    sum = _mm256_add_ps(sum, acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  float total = 0;
  for (float x : lanes)
    total += x;
  return total;
}
#endif

#if defined(__AVX512BF16__)
// Each step adds 32 products of 2^-10 * 2^-10 per lane pair: far from
// overflow for the iterations run.
float chainsBF16(long iters) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = _mm512_set1_ps(static_cast<float>(c));
  const __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1.0f / 1024),
                                         _mm512_set1_ps(1.0f / 1024));
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c)
      acc[c] = _mm512_dpbf16_ps(acc[c], x, x);
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c)
    sum = _mm512_add_ps(sum, acc[c]);
  return _mm512_reduce_add_ps(sum);
}
#endif

#if defined(__AVX512VNNI__)
// i32 lanes that wrap harmlessly.
float chainsVnni(long iters) {
  __m512i acc[kChains];
  for (int c = 0; c < kChains; ++c)
    acc[c] = _mm512_set1_epi32(c);
  const __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c)
      acc[c] = _mm512_dpbusd_epi32(acc[c], u, s);
  __m512i sum = acc[0];
  for (int c = 1; c < kChains; ++c)
    sum = _mm512_add_epi32(sum, acc[c]);
  return static_cast<float>(_mm512_reduce_add_epi32(sum));
}
#endif

// Best GFLOP/s over five repetitions of ~0.2 s each.
template <typename Chains>
double fmaGflops(int threads, int lanes, Chains chains) {
  long iters = 1 << 20;
  for (;;) { // calibrate on one thread to ~0.2 s
    auto start = Clock::now();
    sink = chains(iters);
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    if (s > 0.05) {
      iters = static_cast<long>(iters * 0.2 / s);
      break;
    }
    iters *= 4;
  }
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    double s = runPinned(threads, [&](int) { sink = chains(iters); });
    double flops = 2.0 * lanes * kChains * static_cast<double>(iters) * threads;
    best = std::max(best, flops / s * 1e-9);
  }
  return best;
}

int fma(int threads) {
  double best = 0;
#if defined(__AVX512F__)
  double g512 = fmaGflops(threads, 16, chains512);
  std::printf("fma512_gflops: %.1f\n", g512);
  best = std::max(best, g512);
#endif
#if defined(__FMA__)
  double g256 = fmaGflops(threads, 8, chains256);
  std::printf("fma256_gflops: %.1f\n", g256);
  best = std::max(best, g256);
#endif
  std::printf("peak_gflops: %.1f\n", best);
  return best > 0 ? 0 : 1;
}

// A dot product of `lanes` lanes counts 2 * `perLane` flops (or ops) per
// lane: bf16 pairs, u8 x i8 quads.
int dot(int threads) {
#if defined(__AVX512BF16__)
  std::printf("bf16dot_gflops: %.1f\n", fmaGflops(threads, 32, chainsBF16));
#endif
#if defined(__AVX512VNNI__)
  std::printf("vnni_gops: %.1f\n", fmaGflops(threads, 64, chainsVnni));
#endif
  (void)threads;
  return 0;
}

int copy(int threads, long mib) {
  size_t bytes = static_cast<size_t>(mib) << 20;
  std::vector<char *> src(threads), dst(threads);
  // Each thread touches its own arrays first, so pages sit near it.
  runPinned(threads, [&](int t) {
    src[t] = static_cast<char *>(std::aligned_alloc(4096, bytes));
    dst[t] = static_cast<char *>(std::aligned_alloc(4096, bytes));
    std::memset(src[t], 1, bytes);
    std::memset(dst[t], 2, bytes);
  });
  int reps = std::max(3, static_cast<int>(4096 / mib));
  double best = 0;
  for (int rep = 0; rep < reps; ++rep) {
    double s =
        runPinned(threads, [&](int t) { std::memcpy(dst[t], src[t], bytes); });
    best = std::max(best, 2.0 * bytes * threads / s * 1e-9);
  }
  for (int t = 0; t < threads; ++t) {
    sink = dst[t][bytes / 2];
    std::free(src[t]);
    std::free(dst[t]);
  }
  std::printf("copy_gbs: %.1f\n", best);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  if (threads < 1)
    threads = 1;
  if (mode == "fma")
    return fma(threads);
  if (mode == "dot")
    return dot(threads);
  if (mode == "copy")
    return copy(threads, argc > 3 ? std::max(1, std::atoi(argv[3])) : 1024);
  std::fprintf(
      stderr, "usage: fma_peak fma THREADS | dot THREADS | copy THREADS MIB\n");
  return 1;
}
