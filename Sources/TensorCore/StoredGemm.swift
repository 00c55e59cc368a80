import CTensorKernels
import Foundation

/// Matrix products with bfloat16 weights as stored in the checkpoint: C[M, N] = beta·C + A[M, K]·Wᵀ,
/// W [N, K] in the `nn.Linear` layout, A in Float32, in either `Precision`. W is read where it lies
/// (a mapped file); no Float32 copy of it is made.
///
/// The code that runs is chosen once, at run time:
/// - `avx512bf16` (x86-64 with AVX512-BF16: AMD Zen 4/5, Intel Cooper Lake, Sapphire Rapids): bf16
///   products through `vdpbf16ps` (A packed once per product into bf16 pairs from `packedMinimumRows`
///   rows on, the weights broadcast in place); f32 products through AVX-512 FMA on weights widened in
///   registers, or, once A outgrows the caches (`f32PackedMinimumElements`), with A packed once per product
///   and W widened 6 rows at a time (`el_gemm_f32_bf16_packed`).
/// - `avx512` (AVX-512 without BF16): f32 as above; bf16 rounds A to bfloat16 and runs the f32 kernel,
///   which computes the same products (a product of two bfloat16 values is exact in Float32).
/// - `portable` (any other CPU, Apple silicon included): `portableBlockRows` weight rows at a time are
///   widened into a Float32 panel and multiplied by `Gemm.sgemm` (Accelerate, OpenBLAS or the Swift
///   kernel); that panel is the only Float32 copy of W.
///
/// The C kernels are single-threaded; products large enough are split here over columns of C, each
/// worker reading only its own rows of W.
public enum StoredGemm {
    /// Which kernels this process runs.
    public enum Kernel: Int, Sendable, Comparable, CaseIterable {
        case portable = 0, avx512 = 1, avx512bf16 = 2
        public static func < (a: Kernel, b: Kernel) -> Bool { a.rawValue < b.rawValue }
    }

    /// What the CPU supports.
    public static let detected = Kernel(rawValue: Int(el_kernel_level())) ?? .portable
    /// The kernel products use: `detected`, or a lower one named by `EXPERTLOCK_KERNEL` (`portable`,
    /// `avx512`; to compare the paths on one machine). Tests pass a kernel to each call instead.
    public static let kernel: Kernel = {
        let name = ProcessInfo.processInfo.environment["EXPERTLOCK_KERNEL"] ?? ""
        let asked = Kernel.allCases.first { "\($0)" == name } ?? detected
        return min(asked, detected)
    }()

    /// Weight rows widened per `Gemm.sgemm` call on the portable path (64 × K Float32: 512 KB at K = 2048).
    static let portableBlockRows = 64
    /// Rows of A from which the BF16 kernel packs A (`el_gemm_bf16_packed`, 16 rows per register): fewer
    /// rows would leave most lanes empty, and the unpacked dot form (`el_gemm_bf16_nt`) is faster there.
    static let packedMinimumRows = 16
    /// f32 products whose A holds at least this many elements (M × K: 8 MB of Float32) pack A once
    /// (`el_pack_f32`) for `el_gemm_f32_bf16_packed` instead of the AVX-512 dot form: that form reads all of A
    /// again for every block of weight rows, which once A outgrows the caches runs from memory (one core, CPU
    /// time, scripts/bench/stored_gemm_micro.c: 62-82 GFLOP/s at M 2048, K 2048, against 91-101 packed and
    /// 81-92 through OpenBLAS on widened panels, the path this replaced; at M 1024 the three are level, at
    /// M 256 the dot form leads, 106 to 95). Attention projections and the output head over a pass of
    /// thousands of tokens take this path; experts (a few hundred rows each) and anything small (every
    /// golden test's fixture) keep the dot form.
    static let f32PackedMinimumElements = 1 << 21
    /// Products below this many multiply-adds run on the calling thread.
    static let parallelThreshold = 1 << 18

    /// y = x·Wᵀ (+ bias): x [.., K] (leading dimensions flattened), W [N, K] -> [.., N].
    public static func linear(
        _ x: Tensor, _ w: BF16Matrix, bias: Tensor? = nil, precision: Precision, kernel: Kernel = kernel
    ) -> Tensor {
        precondition(x.lastDim == w.columns, "StoredGemm.linear: input \(x.shape) for weight [\(w.rows), \(w.columns)]")
        if let bias {
            precondition(bias.count == w.rows, "StoredGemm.linear: bias \(bias.shape) for \(w.rows) outputs")
        }
        let (m, n) = (x.rows, w.rows)
        var shape = Array(x.shape.dropLast())
        shape.append(n)
        return Tensor(shape: shape) { out in
            let po = out.baseAddress!
            if let bias {
                bias.withUnsafeBufferPointer { pb in
                    for r in 0..<m { (po + r * n).update(from: pb.baseAddress!, count: n) }
                }
            }
            x.withUnsafeBufferPointer { px in
                multiply(
                    m: m, a: px.baseAddress!, lda: w.columns, weights: w, precision: precision,
                    beta: bias == nil ? 0 : 1,
                    c: po, ldc: n, kernel: kernel)
            }
        }
    }

    /// C[M, N] = beta·C + A[M, K]·Wᵀ for the whole of W [N, K].
    public static func multiply(
        m: Int, a: UnsafePointer<Float>, lda: Int, weights w: BF16Matrix, precision: Precision, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int, kernel: Kernel = kernel
    ) {
        withExtendedLifetime(w.owner) {
            multiply(
                m: m, n: w.rows, k: w.columns, a: a, lda: lda, b: w.base, ldb: w.columns, precision: precision,
                beta: beta, c: c, ldc: ldc, kernel: kernel)
        }
    }

    /// C[M, N] = beta·C + A[M, K]·Bᵀ, B [N, K] bfloat16 with row stride `ldb`.
    public static func multiply(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int,
        precision: Precision, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, kernel: Kernel = kernel
    ) {
        precondition(kernel <= detected, "StoredGemm: kernel \(kernel) on a CPU that has \(detected)")
        if m == 0 || n == 0 { return }
        if k == 0 {
            Gemm.scaleC(m: m, n: n, beta: beta, c: c, ldc: ldc)
            return
        }
        withLeftOperand(m: m, k: k, a: a, lda: lda, precision: precision, kernel: kernel) { left in
            let threads = Parallel.isSerial || Parallel.isInsideRegion ? 1 : Parallel.threads
            if threads <= 1 || m * n * k < parallelThreshold || n < 32 {
                serial(left, m: m, n: n, k: k, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, kernel: kernel)
                return
            }
            // Columns of C in units of four tiles of the C kernels, or of the portable path's panel (its
            // BLAS calls then cover the same columns serial or parallel: the same bits), each worker
            // its own rows of B; A is rounded or packed once, before the split.
            let unit: Int
            switch left {
            case .packed: unit = 48  // four tiles of 12 weight rows (and a multiple of 16)
            case .f32 where kernel == .portable: unit = portableBlockRows
            case .f32Packed: unit = 48  // eight tiles of 6 weight rows
            default: unit = 16
            }
            let shared = UncheckedSendable(c)
            Parallel.forEach((n + unit - 1) / unit) { units in
                let (j0, j1) = (units.lowerBound * unit, min(n, units.upperBound * unit))
                serial(
                    left, m: m, n: j1 - j0, k: k, b: b + j0 * ldb, ldb: ldb, beta: beta, c: shared.value + j0, ldc: ldc,
                    kernel: kernel)
            }
        }
    }

    /// A as the kernels take it: Float32 rows, or rows rounded to bfloat16 (as bits for the BF16
    /// kernel, widened back to Float32 for the others).
    enum LeftOperand {
        case f32(UnsafePointer<Float>, ld: Int)
        case bf16(UnsafePointer<UInt16>, ld: Int)
        /// Float32 rows packed in panels of 16 (`el_pack_f32`), for products with a large A
        /// (`f32PackedMinimumElements`).
        case f32Packed(UnsafePointer<Float>)
        /// Rows rounded to bfloat16 and packed in pairs (`el_pack_bf16_pairs`).
        case packed(UnsafePointer<UInt32>)
    }

    static func withLeftOperand(
        m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, precision: Precision, kernel: Kernel,
        _ body: (LeftOperand) -> Void
    ) {
        switch (precision, kernel) {
        case (.f32, let kernel) where kernel >= .avx512 && m * k >= f32PackedMinimumElements:
            let count = el_packed_f32_count(m, k)
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: count)
            defer { packed.deallocate() }
            let shared = UncheckedSendable(packed)
            Parallel.forEach((m + 15) / 16, grain: max(1, 4_096 / k)) { panels in
                let r0 = panels.lowerBound * 16
                el_pack_f32(
                    min(m, panels.upperBound * 16) - r0, k, a + r0 * lda, lda, shared.value + panels.lowerBound * 16 * k
                )
            }
            body(.f32Packed(packed))
        case (.f32, _):
            body(.f32(a, ld: lda))
        case (.bf16, .avx512bf16) where m >= packedMinimumRows:
            let count = el_packed_bf16_count(m, k)
            let packed = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
            defer { packed.deallocate() }
            let shared = UncheckedSendable(packed)
            let panelElements = count / ((m + 15) / 16)
            Parallel.forEach((m + 15) / 16, grain: max(1, 4_096 / k)) { panels in
                let r0 = panels.lowerBound * 16
                el_pack_bf16_pairs(
                    min(m, panels.upperBound * 16) - r0, k, a + r0 * lda, lda,
                    shared.value + panels.lowerBound * panelElements)
            }
            body(.packed(packed))
        case (.bf16, .avx512bf16):
            let bits = UnsafeMutablePointer<UInt16>.allocate(capacity: m * k)
            defer { bits.deallocate() }
            let shared = UncheckedSendable(bits)
            Parallel.forEach(m, grain: max(1, 65_536 / k)) { rows in
                for r in rows { el_f32_to_bf16(a + r * lda, shared.value + r * k, k) }
            }
            body(.bf16(bits, ld: k))
        case (.bf16, _):
            let rounded = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
            defer { rounded.deallocate() }
            let shared = UncheckedSendable(rounded)
            Parallel.forEach(m, grain: max(1, 65_536 / k)) { rows in
                for r in rows {
                    for j in 0..<k {
                        let bits = HalfPrecision.bf16Bits(a[r * lda + j].bitPattern)
                        shared.value[r * k + j] = Float(bitPattern: UInt32(bits) &<< 16)
                    }
                }
            }
            body(.f32(rounded, ld: k))
        }
    }

    /// One worker's share: all rows of A against `n` rows of B.
    static func serial(
        _ left: LeftOperand, m: Int, n: Int, k: Int, b: UnsafePointer<UInt16>, ldb: Int, beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int, kernel: Kernel
    ) {
        switch left {
        case .bf16(let a, let lda):
            el_gemm_bf16_nt(m, n, k, a, lda, b, ldb, beta, c, ldc)
        case .packed(let a):
            el_gemm_bf16_packed(m, n, k, a, b, ldb, beta, c, ldc)
        case .f32(let a, let lda) where kernel >= .avx512:
            el_gemm_f32_bf16_nt(m, n, k, a, lda, b, ldb, beta, c, ldc)
        case .f32(let a, let lda):
            widened(m, n, k, a, lda, b, ldb, beta, c, ldc, rows: portableBlockRows)
        case .f32Packed(let a):
            el_gemm_f32_bf16_packed(m, n, k, a, b, ldb, beta, c, ldc)
        }
    }

    /// C = beta·C + A·Bᵀ with `rows` rows of B at a time widened into a Float32 panel (the only Float32 copy of B)
    /// and multiplied by `Gemm.sgemm`.
    static func widened(
        _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<UInt16>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, rows blockRows: Int
    ) {
        let rows = min(blockRows, n)
        let panel = UnsafeMutablePointer<Float>.allocate(capacity: rows * k)
        defer { panel.deallocate() }
        var j0 = 0
        while j0 < n {
            let nb = min(rows, n - j0)
            for r in 0..<nb {
                let src = b + (j0 + r) * ldb
                for j in 0..<k { panel[r * k + j] = Float(bitPattern: UInt32(src[j]) &<< 16) }
            }
            Gemm.sgemm(
                transB: true, m: m, n: nb, k: k, a: a, lda: lda, b: panel, ldb: k, beta: beta, c: c + j0, ldc: ldc)
            j0 += nb
        }
    }
}
