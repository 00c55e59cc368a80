// x86-64 AVX-512 matrix-product kernels for BF16 weights, chosen at run time (TensorCore's `StoredGemm`).
//
// Every kernel computes C[M, N] = beta·C + A[M, K] · B[N, K]ᵀ, all row-major, with B a weight matrix in
// the Hugging Face `nn.Linear` layout [out, in] stored as bfloat16. Both operands are read along K,
// their contiguous dimension ("dot form"): no operand is packed or converted, so a weight matrix is
// read straight from the memory-mapped checkpoint. The kernels are single-threaded; the caller splits
// the work. On other CPUs (or builds) `el_kernel_level` returns 0 and the caller uses its portable path.
#ifndef C_TENSOR_KERNELS_H
#define C_TENSOR_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 2: AVX512-BF16 (vdpbf16ps) and AVX-512F/BW/VL; 1: AVX-512F/BW/VL only; 0: neither (or not x86-64).
int el_kernel_level(void);

/// A bf16 [M, K] (lda), B bf16 [N, K] (ldb): products of bf16 pairs (vdpbf16ps), F32 accumulation.
/// Needs level 2.
void el_gemm_bf16_nt(long m, long n, long k, const uint16_t *a, long lda, const uint16_t *b, long ldb, float beta,
                     float *c, long ldc);

/// A float [M, K] (lda), B bf16 [N, K] (ldb) widened to F32 in registers: exact F32 products and FMA
/// accumulation. Needs level ≥ 1.
void el_gemm_f32_bf16_nt(long m, long n, long k, const float *a, long lda, const uint16_t *b, long ldb, float beta,
                         float *c, long ldc);

/// Elements (uint32) of `el_pack_bf16_pairs`' output for A [M, K]: M rounded up to 16 rows, (K + 1) / 2 pairs.
long el_packed_bf16_count(long m, long k);

/// A float [M, K] (lda) rounded to bfloat16 (as `el_f32_to_bf16`) and packed for `el_gemm_bf16_packed`:
/// panels of 16 rows; in panel q, the pair (A[t, 2p], A[t, 2p+1]) of row t is the 32-bit element
/// (q·pairs + p)·16 + t (first element in the low half). Rows past M and the element past an odd K are
/// zero. Panels are independent: rows 16q... of A pack into the elements from q·pairs·16 on. Needs level 2.
void el_pack_bf16_pairs(long m, long k, const float *a, long lda, uint32_t *packed);

/// C[M, N] = beta·C + A·Bᵀ with A packed by `el_pack_bf16_pairs` and B bf16 [N, K] (ldb) read in place:
/// 64 rows × 6 weight rows per register tile (32 × 12 for the last rows), vdpbf16ps, F32 accumulation along K
/// in order (each element of C is the same whatever M, N or the split of N). Needs level 2.
void el_gemm_bf16_packed(long m, long n, long k, const uint32_t *ap, const uint16_t *b, long ldb, float beta,
                         float *c, long ldc);

/// Elements (float) of `el_pack_f32`'s output for A [M, K]: M rounded up to 16 rows, K per row.
long el_packed_f32_count(long m, long k);

/// A float [M, K] (lda) packed for `el_gemm_f32_bf16_packed`: panels of 16 rows; in panel q, A[t, kk] of row
/// t is element (q·K + kk)·16 + t. Rows past M are zero. Panels are independent. Needs level ≥ 1.
void el_pack_f32(long m, long k, const float *a, long lda, float *packed);

/// C[M, N] = beta·C + A·Bᵀ with A packed by `el_pack_f32` and B bf16 [N, K] (ldb) widened 6 rows at a time:
/// exact F32 products, FMA accumulation in blocks of 256 elements of K (each element of C is the same
/// whatever M, N or the split of N). Needs level ≥ 1.
void el_gemm_f32_bf16_packed(long m, long n, long k, const float *ap, const uint16_t *b, long ldb, float beta,
                             float *c, long ldc);

/// Float32 → bfloat16, round to nearest even (vcvtneps2bf16; NaN stays NaN). Needs level 2.
void el_f32_to_bf16(const float *src, uint16_t *dst, long count);

#ifdef __cplusplus
}
#endif

#endif
