// reduction_order.c - The order a reduction kernel reads its rows in.
//
// Sums rows of a 64 MiB f32 matrix (rows of 256, 1024 and 4096 floats) and
// multiplies a 4096 x 4096 matrix by a vector, with G rows read side by
// side (one 16-float register from each in turn) and A registers of
// partial sums per row: the same loads, adds or FMAs and registers in
// every order. einsum-tile-and-vectorize's partial-reduction kernels take
// their row order from these figures (docs/performance.md).
//
// Build and run (AVX-512):
//   cc -O3 -march=native bench/reduction_order.c -o /tmp/reduction_order
//   taskset -c 0 /tmp/reduction_order   (SMALL_PAGES=1: no huge pages)

#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double nowMs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

enum { kElements = 256 * 256 * 256, kMatvec = 4096 };
static float *data, *vec;
float sums[kElements / 256]; // read at the end: the sums are not dead

// Row sums of rows of `length`: G rows side by side, A registers each.
static void rowSums(long length, int g, int a) {
  long rows = kElements / length;
  for (long r = 0; r < rows; r += g) {
    __m512 acc[8][4];
    for (int i = 0; i < g; ++i)
      for (int x = 0; x < a; ++x)
        acc[i][x] = _mm512_setzero_ps();
    for (long k = 0; k < length; k += 16 * a)
      for (int i = 0; i < g; ++i)
        for (int x = 0; x < a; ++x)
          acc[i][x] = _mm512_add_ps(
              acc[i][x], _mm512_loadu_ps(data + (r + i) * length + k + 16 * x));
    for (int i = 0; i < g; ++i) {
      __m512 s = acc[i][0];
      for (int x = 1; x < a; ++x)
        s = _mm512_add_ps(s, acc[i][x]);
      sums[r + i] = _mm512_reduce_add_ps(s);
    }
  }
}

// A 4096 x 4096 matrix times a vector, G rows side by side sharing each
// register of the vector, A registers per row.
static void matvec(int g, int a) {
  for (long r = 0; r < kMatvec; r += g) {
    __m512 acc[8][4];
    for (int i = 0; i < g; ++i)
      for (int x = 0; x < a; ++x)
        acc[i][x] = _mm512_setzero_ps();
    for (long k = 0; k < kMatvec; k += 16 * a)
      for (int x = 0; x < a; ++x) {
        __m512 v = _mm512_loadu_ps(vec + k + 16 * x);
        for (int i = 0; i < g; ++i)
          acc[i][x] = _mm512_fmadd_ps(
              _mm512_loadu_ps(data + (r + i) * kMatvec + k + 16 * x), v,
              acc[i][x]);
      }
    for (int i = 0; i < g; ++i) {
      __m512 s = acc[i][0];
      for (int x = 1; x < a; ++x)
        s = _mm512_add_ps(s, acc[i][x]);
      sums[r + i] = _mm512_reduce_add_ps(s);
    }
  }
}

static void report(const char *what, long length, int g, int a) {
  double best = 1e30;
  for (int rep = 0; rep < 15; ++rep) {
    double start = nowMs();
    if (length)
      rowSums(length, g, a);
    else
      matvec(g, a);
    double ms = nowMs() - start;
    if (ms < best)
      best = ms;
  }
  printf("%-8s rows of %4ld  G=%d A=%d  %7.3f ms  %5.1f GB/s\n", what,
         length ? length : (long)kMatvec, g, a, best,
         kElements * 4.0 / best / 1e6);
}

int main(void) {
  // On transparent huge pages, as einjit's runtime and numpy allocate
  // large buffers: on 4 KiB pages the prefetchers stop at every page.
  data = aligned_alloc(2 << 20, (size_t)kElements * 4);
  if (data && !getenv("SMALL_PAGES"))
    madvise(data, (size_t)kElements * 4, MADV_HUGEPAGE);
  vec = aligned_alloc(64, kMatvec * 4);
  if (!data || !vec)
    return 1;
  for (long e = 0; e < kElements; ++e)
    data[e] = (float)(e % 7) * 0.25f;
  for (long e = 0; e < kMatvec; ++e)
    vec[e] = 1.0f;
  const int orders[][2] = {{1, 1}, {1, 2}, {1, 4}, {4, 1}, {4, 2}, {8, 1}};
  const long lengths[] = {256, 1024, 4096};
  for (int l = 0; l < 3; ++l)
    for (int o = 0; o < 6; ++o)
      report("sum", lengths[l], orders[o][0], orders[o][1]);
  const int matvecOrders[][2] = {{1, 2}, {1, 4}, {4, 1}, {4, 2}, {8, 1}};
  for (int o = 0; o < 5; ++o)
    report("matvec", 0, matvecOrders[o][0], matvecOrders[o][1]);
  double check = 0;
  for (long r = 0; r < kElements / 256; ++r)
    check += sums[r];
  printf("checksum %g\n", check);
  return 0;
}
