/// Single-precision matrix products: the system BLAS when loaded, otherwise a portable Swift kernel.
///
/// All matrices are row-major. `op(X)` is X or its transpose. Shapes: op(A) [M, K], op(B) [K, N],
/// C [M, N]. Every matrix product in ExpertLock goes through `Gemm.sgemm`.
public enum Gemm {
    /// Which implementation runs the products.
    public enum Backend: String, Sendable { case blas, swift }

    /// Forces a backend (tests compare the two); nil picks BLAS when available.
    nonisolated(unsafe) public static var forcedBackend: Backend?

    /// The backend `sgemm` will use.
    public static var backend: Backend {
        if let forced = forcedBackend { return forced == .blas && BLAS.shared == nil ? .swift : forced }
        return BLAS.shared == nil ? .swift : .blas
    }

    /// C = alpha * op(A) * op(B) + beta * C.
    public static func sgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            scaleC(m: m, n: n, beta: beta, c: c, ldc: ldc)
            return
        }
        if backend == .blas, let blas = BLAS.shared {
            blasInBlocks(
                blas, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
        } else {
            SwiftGemm.sgemm(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
        }
    }

    /// Products below this many multiply-adds run as one single-threaded BLAS call.
    static let parallelThreshold = 1 << 18

    /// Splits C into blocks of rows or of columns and runs one single-threaded BLAS call per block
    /// in parallel. Each call packs the whole of the operand it does not split, so the split goes
    /// along the larger output dimension: rows when M ≥ N (every thread packs op(B), [K, N]),
    /// columns otherwise (every thread packs op(A), [M, K]); an lm_head product [N, C]·[V, C]ᵀ with
    /// V > N splits its vocabulary. Inside a parallel region (per-head attention, one expert per
    /// worker) the call stays whole: the caller already occupies the cores.
    static func blasInBlocks(
        _ blas: BLAS, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let threads = Parallel.isSerial || Parallel.isInsideRegion ? 1 : Parallel.threads
        if threads <= 1 || m * n * k < parallelThreshold {
            blas.sgemm(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
            return
        }
        let splitRows = m >= 16 * threads && (m >= n || n < 64 * threads)
        if splitRows {
            // Rows lo..<hi of C need rows lo..<hi of op(A).
            Parallel.forEach(m, grain: max(16, parallelThreshold / 2 / max(1, n * k))) { rows in
                let aBlock = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
                blas.sgemm(
                    transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha, a: aBlock, lda: lda,
                    b: b, ldb: ldb, beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
            }
        } else {
            // Columns lo..<hi of C need columns lo..<hi of op(B).
            Parallel.forEach(n, grain: max(64, parallelThreshold / 2 / max(1, m * k))) { columns in
                let bBlock = transB ? b + columns.lowerBound * ldb : b + columns.lowerBound
                blas.sgemm(
                    transA: transA, transB: transB, m: m, n: columns.count, k: k, alpha: alpha, a: a, lda: lda,
                    b: bBlock, ldb: ldb, beta: beta, c: c + columns.lowerBound, ldc: ldc)
            }
        }
    }

    static func scaleC(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
        }
    }

    /// Tensor-level product: [M, K] x [K, N] (or [N, K] with `transposeB`) -> [M, N].
    /// Leading dimensions of `a` are flattened into M.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(b.rank == 2, "matmul: right operand must be 2-D, got \(b.shape)")
        let k = transposeA ? a.rows : a.lastDim
        let m = transposeA ? a.lastDim : a.rows
        let (bk, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        precondition(k == bk, "matmul: inner dimensions differ: \(a.shape) x \(b.shape) (transposeB: \(transposeB))")
        var outShape = transposeA ? [m] : Array(a.shape.dropLast())
        if outShape.isEmpty { outShape = [m] }
        outShape.append(n)
        return Tensor(shape: outShape) { out in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    sgemm(
                        transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                        a: pa.baseAddress!, lda: a.lastDim, b: pb.baseAddress!, ldb: b.shape[1],
                        beta: 0, c: out.baseAddress!, ldc: n)
                }
            }
        }
    }
}
