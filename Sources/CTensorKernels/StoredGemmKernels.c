// AVX-512 kernels of CTensorKernels.h. Compiled for the x86-64 baseline: only the functions marked with a
// `target` attribute use AVX-512, and they run only after `el_kernel_level` found the instructions.
#include "CTensorKernels.h"

#include <stdlib.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define EL_F32 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define EL_BF16 __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl,avx512dq")))
#define EL_INLINE static inline __attribute__((always_inline))

int el_kernel_level(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"))
        return 0;
    return __builtin_cpu_supports("avx512bf16") ? 2 : 1;
}

// The four sums of four 16-lane accumulators, as [Σa0, Σa1, Σa2, Σa3] (a transposing tree: 12 instructions
// for four outputs instead of four full reductions).
EL_INLINE EL_F32 __m128 sum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    __m512 s01 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
    __m512 s23 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
    __m512d d01 = _mm512_castps_pd(s01), d23 = _mm512_castps_pd(s23);
    __m512 s = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(d01, d23)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(d01, d23)));  // [a0 a1 a2 a3] per 128-bit lane
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(s), _mm512_extractf32x8_ps(s, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Row r of the tile: C[r, 0..<rn] = beta·C + the sums of acc[0..<rn].
EL_INLINE EL_F32 void store_row(const int rn, __m512 a0, __m512 a1, __m512 a2, __m512 a3, float beta, float *c) {
    __m128 s = sum4(a0, a1, a2, a3);
    __mmask8 mask = (__mmask8)((1u << rn) - 1);
    if (beta != 0) s = _mm_fmadd_ps(_mm_set1_ps(beta), _mm_maskz_loadu_ps(mask, c), s);
    _mm_mask_storeu_ps(c, mask, s);
}

// One rm × rn tile (rm, rn ≤ 4, constants after inlining): 16 accumulators of 16 lanes each, loaded once
// per 32 elements of K: rm + rn loads feed rm·rn vdpbf16ps.
EL_INLINE EL_BF16 void tile_bf16(const int rm, const int rn, long k, const uint16_t *a, long lda, const uint16_t *b,
                                 long ldb, float beta, float *c, long ldc) {
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_ps();
    __m512i av[4], bv[4];
    long kk = 0;
    for (; kk + 32 <= k; kk += 32) {
        for (int r = 0; r < rm; r++) av[r] = _mm512_loadu_si512((const void *)(a + r * lda + kk));
        for (int j = 0; j < rn; j++) bv[j] = _mm512_loadu_si512((const void *)(b + j * ldb + kk));
        for (int r = 0; r < rm; r++)
            for (int j = 0; j < rn; j++) acc[r][j] = _mm512_dpbf16_ps(acc[r][j], (__m512bh)av[r], (__m512bh)bv[j]);
    }
    if (kk < k) {  // the last k mod 32 elements, the rest of the registers zero
        __mmask32 mask = (__mmask32)((1ull << (k - kk)) - 1);
        for (int r = 0; r < rm; r++) av[r] = _mm512_maskz_loadu_epi16(mask, a + r * lda + kk);
        for (int j = 0; j < rn; j++) bv[j] = _mm512_maskz_loadu_epi16(mask, b + j * ldb + kk);
        for (int r = 0; r < rm; r++)
            for (int j = 0; j < rn; j++) acc[r][j] = _mm512_dpbf16_ps(acc[r][j], (__m512bh)av[r], (__m512bh)bv[j]);
    }
    for (int r = 0; r < rm; r++) store_row(rn, acc[r][0], acc[r][1], acc[r][2], acc[r][3], beta, c + r * ldc);
}

// The same tile with F32 activations and BF16 weights widened in registers (a shift: bf16 is the top half
// of a float), 16 elements of K per step.
EL_INLINE EL_F32 __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

EL_INLINE EL_F32 void tile_f32(const int rm, const int rn, long k, const float *a, long lda, const uint16_t *b,
                               long ldb, float beta, float *c, long ldc) {
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++) acc[r][j] = _mm512_setzero_ps();
    __m512 av[4], bv[4];
    long kk = 0;
    for (; kk + 16 <= k; kk += 16) {
        for (int j = 0; j < rn; j++) bv[j] = widen(_mm256_loadu_si256((const __m256i *)(b + j * ldb + kk)));
        for (int r = 0; r < rm; r++) av[r] = _mm512_loadu_ps(a + r * lda + kk);
        for (int r = 0; r < rm; r++)
            for (int j = 0; j < rn; j++) acc[r][j] = _mm512_fmadd_ps(av[r], bv[j], acc[r][j]);
    }
    if (kk < k) {
        __mmask16 mask = (__mmask16)((1u << (k - kk)) - 1);
        for (int j = 0; j < rn; j++) bv[j] = widen(_mm256_maskz_loadu_epi16(mask, b + j * ldb + kk));
        for (int r = 0; r < rm; r++) av[r] = _mm512_maskz_loadu_ps(mask, a + r * lda + kk);
        for (int r = 0; r < rm; r++)
            for (int j = 0; j < rn; j++) acc[r][j] = _mm512_fmadd_ps(av[r], bv[j], acc[r][j]);
    }
    for (int r = 0; r < rm; r++) store_row(rn, acc[r][0], acc[r][1], acc[r][2], acc[r][3], beta, c + r * ldc);
}

// Rows of B per block: the block stays in L2 (about 128 KB; 512 KB measured slower) while every row tile of
// A passes over it, and a tile of A (4 rows) stays in L1 across the block.
static long block_rows(long k, long bytes_per_element) {
    long rows = (128L << 10) / (k * bytes_per_element > 0 ? k * bytes_per_element : 1);
    rows = rows < 16 ? 16 : rows > 256 ? 256 : rows;
    return rows & ~3L;
}

#define EL_DISPATCH(TILE, rm, rn, ...)                                                    \
    switch ((rm) * 8 + (rn)) {                                                            \
    case 4 * 8 + 4: TILE(4, 4, __VA_ARGS__); break;                                       \
    case 4 * 8 + 3: TILE(4, 3, __VA_ARGS__); break;                                       \
    case 4 * 8 + 2: TILE(4, 2, __VA_ARGS__); break;                                       \
    case 4 * 8 + 1: TILE(4, 1, __VA_ARGS__); break;                                       \
    case 3 * 8 + 4: TILE(3, 4, __VA_ARGS__); break;                                       \
    case 3 * 8 + 3: TILE(3, 3, __VA_ARGS__); break;                                       \
    case 3 * 8 + 2: TILE(3, 2, __VA_ARGS__); break;                                       \
    case 3 * 8 + 1: TILE(3, 1, __VA_ARGS__); break;                                       \
    case 2 * 8 + 4: TILE(2, 4, __VA_ARGS__); break;                                       \
    case 2 * 8 + 3: TILE(2, 3, __VA_ARGS__); break;                                       \
    case 2 * 8 + 2: TILE(2, 2, __VA_ARGS__); break;                                       \
    case 2 * 8 + 1: TILE(2, 1, __VA_ARGS__); break;                                       \
    case 1 * 8 + 4: TILE(1, 4, __VA_ARGS__); break;                                       \
    case 1 * 8 + 3: TILE(1, 3, __VA_ARGS__); break;                                       \
    case 1 * 8 + 2: TILE(1, 2, __VA_ARGS__); break;                                       \
    default: TILE(1, 1, __VA_ARGS__); break;                                              \
    }

EL_BF16 void el_gemm_bf16_nt(long m, long n, long k, const uint16_t *a, long lda, const uint16_t *b, long ldb,
                             float beta, float *c, long ldc) {
    long nb = block_rows(k, 2);
    for (long j0 = 0; j0 < n; j0 += nb) {
        long j1 = j0 + nb < n ? j0 + nb : n;
        for (long i = 0; i < m; i += 4) {
            int rm = m - i < 4 ? (int)(m - i) : 4;
            for (long j = j0; j < j1; j += 4) {
                int rn = j1 - j < 4 ? (int)(j1 - j) : 4;
                EL_DISPATCH(tile_bf16, rm, rn, k, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc)
            }
        }
    }
}

EL_F32 void el_gemm_f32_bf16_nt(long m, long n, long k, const float *a, long lda, const uint16_t *b, long ldb,
                                float beta, float *c, long ldc) {
    long nb = block_rows(k, 6);  // the block's BF16 rows and the A tile's F32 rows share the caches
    for (long j0 = 0; j0 < n; j0 += nb) {
        long j1 = j0 + nb < n ? j0 + nb : n;
        for (long i = 0; i < m; i += 4) {
            int rm = m - i < 4 ? (int)(m - i) : 4;
            for (long j = j0; j < j1; j += 4) {
                int rn = j1 - j < 4 ? (int)(j1 - j) : 4;
                EL_DISPATCH(tile_f32, rm, rn, k, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc)
            }
        }
    }
}

// ---- Packed ("outer product") BF16 kernel ----
//
// The dot form above reads both operands along K and reduces 16 lanes per output; its tiles do not fit
// L1, so it streams from L2 and stays near 150 GFLOP/s. Here activations are packed once per product into
// pairs: panel q holds 16 rows, and pair p of row t, the 32-bit (A[t, 2p], A[t, 2p+1]), sits at
// packed[(q·pairs + p)·16 + t]. One zmm load gives a pair of K for 16 rows; the weights stay where they lie
// and each weight pair (B[j, 2p], B[j, 2p+1]) is broadcast (a 4-byte load) against it. A tile of 64 rows ×
// 6 weight rows keeps 24 accumulators: per pair 4 loads and 6 broadcasts feed 24 vdpbf16ps (one core,
// scripts/bench/stored_gemm_micro.c: 205-216 GFLOP/s at expert shapes and 2048³, 90% of the 234 that
// vdpbf16ps peaks at on this Zen 4, against 180-205 for the 32 × 12 tile, whose 12 broadcasts per 24
// products cost issue slots). Rows left over past the 64-row tiles take 32 × 12 tiles. Every element
// of C is the same sum in the same order whichever tile computes it.

long el_packed_bf16_count(long m, long k) { return (m + 15) / 16 * ((k + 1) / 2) * 16; }

// 16×16 transpose of 32-bit elements, in place over r[0..<16].
EL_INLINE EL_F32 void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    // r[4b + j] now holds, per 128-bit lane L, elements 4L + j' of rows 4b..4b+3 (j' from j's order).
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);       // lanes 0, 2 of r[i], then of r[i + 4]
        t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xdd);   // lanes 1, 3
        t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

EL_BF16 void el_pack_bf16_pairs(long m, long k, const float *a, long lda, uint32_t *packed) {
    long pairs = (k + 1) / 2;
    for (long q = 0; q * 16 < m; q++) {
        long rows = m - q * 16 < 16 ? m - q * 16 : 16;
        uint32_t *panel = packed + q * pairs * 16;
        for (long p0 = 0; p0 < pairs; p0 += 16) {  // 16 pairs = 32 elements of K per row
            long k0 = 2 * p0, left = k - k0;
            __mmask16 lo = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
            __mmask16 hi = left >= 32 ? 0xffff : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
            __m512i r[16];
            for (long t = 0; t < 16; t++) {
                if (t < rows) {
                    const float *src = a + (q * 16 + t) * lda + k0;
                    __m512 x0 = _mm512_maskz_loadu_ps(lo, src), x1 = _mm512_maskz_loadu_ps(hi, src + 16);
                    r[t] = (__m512i)_mm512_cvtne2ps_pbh(x1, x0);
                } else {
                    r[t] = _mm512_setzero_si512();
                }
            }
            transpose16(r);
            long count = pairs - p0 < 16 ? pairs - p0 : 16;
            for (long j = 0; j < count; j++) _mm512_storeu_si512((void *)(panel + (p0 + j) * 16), r[j]);
        }
    }
}

#define EL_NR 12
#define EL_NR64 6

// C[0..<64, 0..<nr] = beta·C + four packed panels against nr ≤ 6 weight rows.
EL_INLINE EL_BF16 void tile_packed64(const int nr, long k, const uint32_t *ap, long pstride, const uint16_t *b,
                                     long ldb, float beta, float *c, long ldc) {
    __m512 acc[4][EL_NR64];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < 4; v++) acc[v][r] = _mm512_setzero_ps();
    long full = k / 2;
    for (long p = 0; p < full; p++) {
        __m512bh a[4];
        for (int v = 0; v < 4; v++) a[v] = (__m512bh)_mm512_loadu_si512((const void *)(ap + v * pstride + p * 16));
        for (int r = 0; r < nr; r++) {
            int w;
            __builtin_memcpy(&w, b + r * ldb + 2 * p, 4);
            __m512bh bw = (__m512bh)_mm512_set1_epi32(w);
            for (int v = 0; v < 4; v++) acc[v][r] = _mm512_dpbf16_ps(acc[v][r], a[v], bw);
        }
    }
    if (k & 1) {  // as in tile_packed
        __m512bh a[4];
        for (int v = 0; v < 4; v++) a[v] = (__m512bh)_mm512_loadu_si512((const void *)(ap + v * pstride + full * 16));
        for (int r = 0; r < nr; r++) {
            __m512bh bw = (__m512bh)_mm512_set1_epi32((int)b[r * ldb + k - 1]);
            for (int v = 0; v < 4; v++) acc[v][r] = _mm512_dpbf16_ps(acc[v][r], a[v], bw);
        }
    }
    float out[EL_NR64][64];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < 4; v++) _mm512_storeu_ps(out[r] + 16 * v, acc[v][r]);
    for (long t = 0; t < 64; t++) {
        float *ct = c + t * ldc;
        if (beta != 0)
            for (int r = 0; r < nr; r++) ct[r] = beta * ct[r] + out[r][t];
        else
            for (int r = 0; r < nr; r++) ct[r] = out[r][t];
    }
}

static EL_BF16 void tile_packed64_any(int nr, long k, const uint32_t *ap, long pstride, const uint16_t *b, long ldb,
                                      float beta, float *c, long ldc) {
    switch (nr) {
    case 1: tile_packed64(1, k, ap, pstride, b, ldb, beta, c, ldc); break;
    case 2: tile_packed64(2, k, ap, pstride, b, ldb, beta, c, ldc); break;
    case 3: tile_packed64(3, k, ap, pstride, b, ldb, beta, c, ldc); break;
    case 4: tile_packed64(4, k, ap, pstride, b, ldb, beta, c, ldc); break;
    case 5: tile_packed64(5, k, ap, pstride, b, ldb, beta, c, ldc); break;
    default: tile_packed64(6, k, ap, pstride, b, ldb, beta, c, ldc); break;
    }
}

// C[0..<rows, 0..<nr] = beta·C + the tile of packed rows (1 or 2 panels, `nv`) against nr weight rows.
EL_INLINE EL_BF16 void tile_packed(const int nv, const int nr, long k, const uint32_t *ap, long pstride,
                                   const uint16_t *b, long ldb, long rows, float beta, float *c, long ldc) {
    __m512 acc[2][EL_NR];
    for (int r = 0; r < nr; r++) {
        acc[0][r] = _mm512_setzero_ps();
        if (nv > 1) acc[1][r] = _mm512_setzero_ps();
    }
    long full = k / 2;
    for (long p = 0; p < full; p++) {
        __m512bh a0 = (__m512bh)_mm512_loadu_si512((const void *)(ap + p * 16));
        __m512bh a1 = nv > 1 ? (__m512bh)_mm512_loadu_si512((const void *)(ap + pstride + p * 16)) : a0;
        for (int r = 0; r < nr; r++) {
            int w;
            __builtin_memcpy(&w, b + r * ldb + 2 * p, 4);
            __m512bh bw = (__m512bh)_mm512_set1_epi32(w);
            acc[0][r] = _mm512_dpbf16_ps(acc[0][r], a0, bw);
            if (nv > 1) acc[1][r] = _mm512_dpbf16_ps(acc[1][r], a1, bw);
        }
    }
    if (k & 1) {  // the last element alone: its pair's second half is zero in the packing and here
        __m512bh a0 = (__m512bh)_mm512_loadu_si512((const void *)(ap + full * 16));
        __m512bh a1 = nv > 1 ? (__m512bh)_mm512_loadu_si512((const void *)(ap + pstride + full * 16)) : a0;
        for (int r = 0; r < nr; r++) {
            __m512bh bw = (__m512bh)_mm512_set1_epi32((int)b[r * ldb + k - 1]);
            acc[0][r] = _mm512_dpbf16_ps(acc[0][r], a0, bw);
            if (nv > 1) acc[1][r] = _mm512_dpbf16_ps(acc[1][r], a1, bw);
        }
    }
    float out[EL_NR][32];
    for (int r = 0; r < nr; r++) {
        _mm512_storeu_ps(out[r], acc[0][r]);
        if (nv > 1) _mm512_storeu_ps(out[r] + 16, acc[1][r]);
    }
    for (long t = 0; t < rows; t++) {
        float *ct = c + t * ldc;
        if (beta != 0)
            for (int r = 0; r < nr; r++) ct[r] = beta * ct[r] + out[r][t];
        else
            for (int r = 0; r < nr; r++) ct[r] = out[r][t];
    }
}

#define EL_PACKED_CASE(nv, nr) \
    case (nv) * 16 + (nr): tile_packed(nv, nr, k, ap, pstride, b, ldb, rows, beta, c, ldc); break;
#define EL_PACKED_CASES(nv)                                                                              \
    EL_PACKED_CASE(nv, 1) EL_PACKED_CASE(nv, 2) EL_PACKED_CASE(nv, 3) EL_PACKED_CASE(nv, 4)              \
    EL_PACKED_CASE(nv, 5) EL_PACKED_CASE(nv, 6) EL_PACKED_CASE(nv, 7) EL_PACKED_CASE(nv, 8)              \
    EL_PACKED_CASE(nv, 9) EL_PACKED_CASE(nv, 10) EL_PACKED_CASE(nv, 11) EL_PACKED_CASE(nv, 12)

static EL_BF16 void tile_packed_any(int nv, int nr, long k, const uint32_t *ap, long pstride, const uint16_t *b,
                                    long ldb, long rows, float beta, float *c, long ldc) {
    switch (nv * 16 + nr) {
        EL_PACKED_CASES(1)
        EL_PACKED_CASES(2)
    default: __builtin_unreachable();
    }
}

EL_BF16 void el_gemm_bf16_packed(long m, long n, long k, const uint32_t *ap, const uint16_t *b, long ldb,
                                 float beta, float *c, long ldc) {
    long pairs = (k + 1) / 2, pstride = pairs * 16;
    // Rows per block (a multiple of 64): their packed panels (pairs · 4 bytes a row) stay in L2 (~384 KB of
    // 1 MB) while the block's 12 weight rows pass over them, so each weight row is read from memory once per
    // block.
    long mc = ((384L << 10) / (pairs * 4)) & ~63L;
    if (mc < 64) mc = 64;
    for (long i0 = 0; i0 < m; i0 += mc) {
        long i1 = i0 + mc < m ? i0 + mc : m;
        long tiled = i0 + (i1 - i0) / 64 * 64;  // rows [i0, tiled) in 64-row tiles, the rest in 32-row ones
        for (long j = 0; j < n; j += EL_NR) {
            int nr = n - j < EL_NR ? (int)(n - j) : EL_NR;
            for (long i = i0; i < tiled; i += 64) {
                const uint32_t *ai = ap + (i / 16) * pstride;
                tile_packed64_any(nr < EL_NR64 ? nr : EL_NR64, k, ai, pstride, b + j * ldb, ldb, beta, c + i * ldc + j,
                                  ldc);
                if (nr > EL_NR64)
                    tile_packed64_any(nr - EL_NR64, k, ai, pstride, b + (j + EL_NR64) * ldb, ldb, beta,
                                      c + i * ldc + j + EL_NR64, ldc);
            }
            for (long i = tiled; i < i1; i += 32) {
                long rows = i1 - i < 32 ? i1 - i : 32;
                tile_packed_any(rows > 16 ? 2 : 1, nr, k, ap + (i / 16) * pstride, pstride, b + j * ldb, ldb, rows,
                                beta, c + i * ldc + j, ldc);
            }
        }
    }
}

// ---- Packed F32 kernel (f32 products whose A outgrows the caches) ----
//
// The dot form reads all of A again for each block of weight rows, from memory once A outgrows L2 (60-80
// GFLOP/s at M = 2048). Here A is packed once per product in panels of 16 rows, element kk of row t at
// packed[(q·K + kk)·16 + t], and each block of 6 weight rows is widened into a small Float32 buffer; a
// tile of 64 rows × 6 weight rows keeps 24 accumulators fed by 4 loads and 6 broadcasts per element of K
// (94-101 GFLOP/s on one core at M = 2048, K = 2048, against 83-96 through OpenBLAS on widened panels).
// Each element of C sums K in blocks of EL_KC in order, each block in one accumulator, the blocks' sums
// added in order: the same bits whatever M, N or the split of N, and rounding like a blocked BLAS.

#define EL_KC 256

long el_packed_f32_count(long m, long k) { return (m + 15) / 16 * k * 16; }

EL_F32 void el_pack_f32(long m, long k, const float *a, long lda, float *packed) {
    for (long q = 0; q * 16 < m; q++) {
        long rows = m - q * 16 < 16 ? m - q * 16 : 16;
        float *panel = packed + q * k * 16;
        for (long k0 = 0; k0 < k; k0 += 16) {
            long left = k - k0;
            __mmask16 mask = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
            __m512i r[16];
            for (long t = 0; t < 16; t++)
                r[t] = t < rows ? _mm512_castps_si512(_mm512_maskz_loadu_ps(mask, a + (q * 16 + t) * lda + k0))
                                : _mm512_setzero_si512();
            transpose16(r);
            long count = left < 16 ? left : 16;
            for (long j = 0; j < count; j++) _mm512_storeu_si512((void *)(panel + (k0 + j) * 16), r[j]);
        }
    }
}

// C[0..<rows, 0..<nr] = beta·C + nv packed panels (16 rows each) against nr ≤ 6 weight rows widened in
// wb[r·k + kk].
EL_INLINE EL_F32 void tile_f32_packed(const int nv, const int nr, long k, const float *ap, long pstride,
                                      const float *wb, long rows, float beta, float *c, long ldc) {
    float out[6][64];
    for (long k0 = 0; k0 < k; k0 += EL_KC) {
        long k1 = k0 + EL_KC < k ? k0 + EL_KC : k;
        __m512 acc[4][6];
        for (int r = 0; r < nr; r++)
            for (int v = 0; v < nv; v++) acc[v][r] = _mm512_setzero_ps();
        for (long kk = k0; kk < k1; kk++) {
            __m512 a[4];
            for (int v = 0; v < nv; v++) a[v] = _mm512_loadu_ps(ap + v * pstride + kk * 16);
            for (int r = 0; r < nr; r++) {
                __m512 bw = _mm512_set1_ps(wb[r * k + kk]);
                for (int v = 0; v < nv; v++) acc[v][r] = _mm512_fmadd_ps(a[v], bw, acc[v][r]);
            }
        }
        for (int r = 0; r < nr; r++)
            for (int v = 0; v < nv; v++) {
                __m512 sum = k0 == 0 ? acc[v][r] : _mm512_add_ps(_mm512_loadu_ps(out[r] + 16 * v), acc[v][r]);
                _mm512_storeu_ps(out[r] + 16 * v, sum);
            }
    }
    for (long t = 0; t < rows; t++) {
        float *ct = c + t * ldc;
        if (beta != 0)
            for (int r = 0; r < nr; r++) ct[r] = beta * ct[r] + out[r][t];
        else
            for (int r = 0; r < nr; r++) ct[r] = out[r][t];
    }
}

#define EL_F32P_CASE(nv, nr) \
    case (nv) * 8 + (nr): tile_f32_packed(nv, nr, k, ap, pstride, wb, rows, beta, c, ldc); break;
#define EL_F32P_CASES(nv)                                                                                \
    EL_F32P_CASE(nv, 1) EL_F32P_CASE(nv, 2) EL_F32P_CASE(nv, 3) EL_F32P_CASE(nv, 4) EL_F32P_CASE(nv, 5) \
    EL_F32P_CASE(nv, 6)

static EL_F32 void tile_f32_packed_any(int nv, int nr, long k, const float *ap, long pstride, const float *wb,
                                       long rows, float beta, float *c, long ldc) {
    switch (nv * 8 + nr) {
        EL_F32P_CASES(1)
        EL_F32P_CASES(2)
        EL_F32P_CASES(3)
        EL_F32P_CASES(4)
    default: __builtin_unreachable();
    }
}

EL_F32 void el_gemm_f32_bf16_packed(long m, long n, long k, const float *ap, const uint16_t *b, long ldb,
                                    float beta, float *c, long ldc) {
    long pstride = k * 16;
    float *wb = (float *)malloc(sizeof(float) * 6 * (size_t)k);
    // Rows per block (a multiple of 64): their packed panels stay in L2 (~512 KB of 1 MB) while the
    // block's weight rows pass over them.
    long mc = ((512L << 10) / (k * 4)) & ~63L;
    if (mc < 64) mc = 64;
    for (long i0 = 0; i0 < m; i0 += mc) {
        long i1 = i0 + mc < m ? i0 + mc : m;
        for (long j = 0; j < n; j += 6) {
            int nr = n - j < 6 ? (int)(n - j) : 6;
            for (int r = 0; r < nr; r++) {
                const uint16_t *src = b + (j + r) * ldb;
                float *dst = wb + r * k;
                long kk = 0;
                for (; kk + 16 <= k; kk += 16)
                    _mm512_storeu_ps(dst + kk, widen(_mm256_loadu_si256((const __m256i *)(src + kk))));
                if (kk < k) {
                    __mmask16 mask = (__mmask16)((1u << (k - kk)) - 1);
                    _mm512_mask_storeu_ps(dst + kk, mask, widen(_mm256_maskz_loadu_epi16(mask, src + kk)));
                }
            }
            for (long i = i0; i < i1; i += 64) {
                long rows = i1 - i < 64 ? i1 - i : 64;
                tile_f32_packed_any((int)((rows + 15) / 16), nr, k, ap + (i / 16) * pstride, pstride, wb, rows, beta,
                                    c + i * ldc + j, ldc);
            }
        }
    }
    free(wb);
}

EL_BF16 void el_f32_to_bf16(const float *src, uint16_t *dst, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
    if (i < count) {
        __mmask16 mask = (__mmask16)((1u << (count - i)) - 1);
        __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, src + i));
        _mm256_mask_storeu_epi16(dst + i, mask, (__m256i)h);
    }
}

#else  // not x86-64: the callers use their portable path

int el_kernel_level(void) { return 0; }
void el_gemm_bf16_nt(long m, long n, long k, const uint16_t *a, long lda, const uint16_t *b, long ldb, float beta,
                     float *c, long ldc) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    __builtin_trap();
}
void el_gemm_f32_bf16_nt(long m, long n, long k, const float *a, long lda, const uint16_t *b, long ldb, float beta,
                         float *c, long ldc) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    __builtin_trap();
}
void el_f32_to_bf16(const float *src, uint16_t *dst, long count) {
    (void)src; (void)dst; (void)count;
    __builtin_trap();
}
long el_packed_bf16_count(long m, long k) { return (m + 15) / 16 * ((k + 1) / 2) * 16; }
void el_pack_bf16_pairs(long m, long k, const float *a, long lda, uint32_t *packed) {
    (void)m; (void)k; (void)a; (void)lda; (void)packed;
    __builtin_trap();
}
void el_gemm_bf16_packed(long m, long n, long k, const uint32_t *ap, const uint16_t *b, long ldb, float beta,
                         float *c, long ldc) {
    (void)m; (void)n; (void)k; (void)ap; (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    __builtin_trap();
}

long el_packed_f32_count(long m, long k) { return (m + 15) / 16 * k * 16; }
void el_pack_f32(long m, long k, const float *a, long lda, float *packed) {
    (void)m; (void)k; (void)a; (void)lda; (void)packed;
    __builtin_trap();
}
void el_gemm_f32_bf16_packed(long m, long n, long k, const float *ap, const uint16_t *b, long ldb, float beta,
                             float *c, long ldc) {
    (void)m; (void)n; (void)k; (void)ap; (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    __builtin_trap();
}

#endif
