// Micro benchmark of the BF16-weight kernels in Sources/CTensorKernels (one thread, no Swift):
// GFLOP/s of C[M, N] = A[M, K]·Wᵀ, W [N, K] bfloat16, at the shapes of real MoE experts and a square one.
//
//   cc -O3 -ISources/CTensorKernels/include scripts/bench/stored_gemm_micro.c \
//      Sources/CTensorKernels/StoredGemmKernels.c -o /tmp/stored_gemm_micro && /tmp/stored_gemm_micro [seconds [peak]]
//
// Per shape and kernel it prints the best of several timed repetitions (each about `seconds`/5, default
// 0.5 s in all) on the process's CPU-time clock and on the wall clock: on a shared machine the CPU-time
// figure is the kernel's, the wall figure what a user sees. "packed" includes packing A (once per product,
// as StoredGemm does); "dot" is the unpacked dot-form kernel; "f32w" the F32 kernel with BF16 weights.
// Each kernel's result is also checked against a double-precision product of the same rounded operands.
// The first line is the core's roof: zmm FMA and vdpbf16ps with nothing loaded.
// "f32pk" is the packed F32 kernel StoredGemm uses for f32 products with a large A (packing included).
// Built with -DWITH_BLAS (and -lopenblas at the end of the line above) it also times "f32p": W widened 256
// rows at a time into a Float32 panel and multiplied by OpenBLAS's sgemm (one thread: set
// OPENBLAS_NUM_THREADS=1), what StoredGemm did for those products before the packed kernel.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>
#include "CTensorKernels.h"
#ifdef WITH_BLAS
#include <cblas.h>
#endif

static double now(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static uint16_t to_bf16(float x) {  // round to nearest even
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}
static float from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

enum { DOT, PACKED, F32W, F32PK, F32P };
static const char *names[] = {"dot", "packed", "f32w", "f32pk", "f32p"};
static float *f32_packed;  // el_pack_f32's output for the shape being timed
#ifdef WITH_BLAS
enum { KINDS = 5 };
static float panel[256 * 8192];
#else
enum { KINDS = 4 };
#endif

static void run(int kind, long m, long n, long k, const float *a, const uint16_t *ab, uint32_t *ap,
                const uint16_t *w, float *c) {
    switch (kind) {
    case DOT: el_gemm_bf16_nt(m, n, k, ab, k, w, k, 0, c, n); break;
    case PACKED:
        el_pack_bf16_pairs(m, k, a, k, ap);
        el_gemm_bf16_packed(m, n, k, ap, w, k, 0, c, n);
        break;
    case F32W: el_gemm_f32_bf16_nt(m, n, k, a, k, w, k, 0, c, n); break;
    case F32PK:
        el_pack_f32(m, k, a, k, f32_packed);
        el_gemm_f32_bf16_packed(m, n, k, f32_packed, w, k, 0, c, n);
        break;
#ifdef WITH_BLAS
    default:
        for (long j0 = 0; j0 < n; j0 += 256) {
            long nb = n - j0 < 256 ? n - j0 : 256;
            for (long r = 0; r < nb * k; r++) panel[r] = from_bf16(w[j0 * k + r]);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, nb, k, 1, a, k, panel, k, 0, c + j0, n);
        }
        break;
#else
    default: break;
#endif
    }
}

// The roof: zmm FMA and vdpbf16ps back to back on 12 independent accumulators, nothing loaded (what one core
// can issue at all; on Zen 4 one of each per cycle: 32 and 64 FLOP per cycle).
#define PEAK_TARGET __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl"), noinline))
PEAK_TARGET static float fma_peak(long iterations) {
    __m512 acc[12], x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iterations; it++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
        __asm__ volatile("" : : "v"(acc[0]), "v"(acc[11]));
    }
    for (int i = 1; i < 12; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    return _mm512_reduce_add_ps(acc[0]);
}
PEAK_TARGET static float bf16_peak(long iterations) {
    __m512 acc[12];
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80);
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iterations; it++) {
        for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbf16_ps(acc[i], x, x);
        __asm__ volatile("" : : "v"(acc[0]), "v"(acc[11]));
    }
    for (int i = 1; i < 12; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    return _mm512_reduce_add_ps(acc[0]);
}
static void print_peaks(void) {
    const long iterations = 20000000;
    double f32 = 1e30, bf16 = 1e30;
    volatile float sink = 0;
    for (int trial = 0; trial < 5; trial++) {
        double t0 = now(CLOCK_PROCESS_CPUTIME_ID);
        sink += fma_peak(iterations);
        double t1 = now(CLOCK_PROCESS_CPUTIME_ID);
        sink += bf16_peak(iterations);
        double t2 = now(CLOCK_PROCESS_CPUTIME_ID);
        f32 = t1 - t0 < f32 ? t1 - t0 : f32;
        bf16 = t2 - t1 < bf16 ? t2 - t1 : bf16;
    }
    printf("peak (registers only, one core): zmm FMA %.1f GFLOP/s, vdpbf16ps %.1f GFLOP/s (%.2f G instructions/s)\n",
           iterations * 12 * 32 / f32 / 1e9, iterations * 12 * 64 / bf16 / 1e9, iterations * 12 / bf16 / 1e9);
}

int main(int argc, char **argv) {
    double budget = argc > 1 ? atof(argv[1]) : 0.5;
    if (el_kernel_level() < 2) {
        fprintf(stderr, "this CPU has no AVX512-BF16 (level %d)\n", el_kernel_level());
        return 2;
    }
    print_peaks();
    if (argc > 2 && strcmp(argv[2], "peak") == 0) return 0;  // the roof only
    long shapes[][3] = {{32, 768, 2048},  {32, 2048, 768},  {64, 768, 2048},  {64, 2048, 768},
                        {128, 768, 2048}, {128, 2048, 768}, {256, 1024, 2048}, {256, 2048, 1024},
                        {512, 2048, 2048}, {2048, 2048, 2048}, {8, 2048, 2048}, {33, 771, 1023},
                        {2048, 512, 2048}, {1024, 768, 2048}, {256, 768, 2048}};
    printf("%6s %6s %6s %-7s %10s %10s %10s\n", "M", "N", "K", "kernel", "GFLOP/s cpu", "GFLOP/s wall", "max err");
    for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        long m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc(sizeof(float) * m * k), *c = malloc(sizeof(float) * m * n);
        uint16_t *ab = malloc(2 * m * k), *w = malloc(2 * n * k);
        uint32_t *ap = malloc(4 * el_packed_bf16_count(m, k));
        f32_packed = malloc(sizeof(float) * el_packed_f32_count(m, k));
        double *ref = malloc(sizeof(double) * m * n), *refw = malloc(sizeof(double) * m * n);
        srand(7);
        for (long i = 0; i < m * k; i++) a[i] = (float)rand() / RAND_MAX - 0.5f;
        for (long i = 0; i < n * k; i++) w[i] = to_bf16(((float)rand() / RAND_MAX - 0.5f) * 0.1f);
        el_f32_to_bf16(a, ab, m * k);
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) {
                double sb = 0, sf = 0;
                for (long l = 0; l < k; l++) {
                    sb += (double)from_bf16(ab[i * k + l]) * from_bf16(w[j * k + l]);
                    sf += (double)a[i * k + l] * from_bf16(w[j * k + l]);
                }
                ref[i * n + j] = sb;
                refw[i * n + j] = sf;
            }
        double flops = 2.0 * m * n * k;
        for (int kind = 0; kind < KINDS; kind++) {
            run(kind, m, n, k, a, ab, ap, w, c);
            double err = 0;
            for (long i = 0; i < m * n; i++) {
                double e = fabs(c[i] - (kind >= F32W ? refw[i] : ref[i]));
                err = e > err ? e : err;
            }
            long reps = 1;
            double t0 = now(CLOCK_PROCESS_CPUTIME_ID);
            run(kind, m, n, k, a, ab, ap, w, c);
            double once = now(CLOCK_PROCESS_CPUTIME_ID) - t0;
            reps = (long)(budget / 5 / (once > 1e-6 ? once : 1e-6)) + 1;
            double best_cpu = 1e30, best_wall = 1e30;
            for (int trial = 0; trial < 5; trial++) {
                double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
                for (long r = 0; r < reps; r++) run(kind, m, n, k, a, ab, ap, w, c);
                double dc = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / reps, dw = (now(CLOCK_MONOTONIC) - w0) / reps;
                best_cpu = dc < best_cpu ? dc : best_cpu;
                best_wall = dw < best_wall ? dw : best_wall;
            }
            printf("%6ld %6ld %6ld %-7s %10.1f %10.1f %10.2e\n", m, n, k, names[kind], flops / best_cpu / 1e9,
                   flops / best_wall / 1e9, err);
        }
        free(a); free(c); free(ab); free(w); free(ap); free(f32_packed); free(ref); free(refw);
    }
    return 0;
}
