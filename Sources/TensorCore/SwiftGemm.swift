/// The portable matrix-product kernel: the fallback when no BLAS is loaded, and the reference the
/// tests compare BLAS with. Packs op(B) into row-major [K, N] panels, then runs an i-k-j loop that
/// the compiler vectorises over N; rows of C are split across threads.
enum SwiftGemm {
    static let blockK = 256
    static let blockN = 512

    static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // C = beta * C first, so the blocked loop only accumulates.
        Gemm.scaleC(m: m, n: n, beta: beta, c: c, ldc: ldc)
        let cAddress = UInt(bitPattern: c)
        var j0 = 0
        while j0 < n {
            let nb = min(blockN, n - j0)
            var k0 = 0
            while k0 < k {
                let kb = min(blockK, k - k0)
                // Pack op(B)[k0..<k0+kb, j0..<j0+nb] into a contiguous [kb, nb] panel.
                let panel = UnsafeMutablePointer<Float>.allocate(capacity: kb * nb)
                defer { panel.deallocate() }
                for kk in 0..<kb {
                    for jj in 0..<nb {
                        panel[kk * nb + jj] = transB ? b[(j0 + jj) * ldb + k0 + kk] : b[(k0 + kk) * ldb + j0 + jj]
                    }
                }
                let panelAddress = UInt(bitPattern: panel)
                Parallel.forEach(m, grain: max(1, 16_384 / max(1, kb * nb / 64))) { rows in
                    let c = UnsafeMutablePointer<Float>(bitPattern: cAddress)!
                    let panel = UnsafePointer<Float>(bitPattern: panelAddress)!
                    for i in rows {
                        let crow = c + i * ldc + j0
                        for kk in 0..<kb {
                            let av = alpha * (transA ? a[(k0 + kk) * lda + i] : a[i * lda + k0 + kk])
                            if av == 0 { continue }
                            let prow = panel + kk * nb
                            for jj in 0..<nb { crow[jj] += av * prow[jj] }
                        }
                    }
                }
                k0 += kb
            }
            j0 += nb
        }
    }
}
