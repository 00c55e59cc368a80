/// The portable matrix-product kernel: the fallback when no BLAS is loaded, and the reference the
/// tests compare BLAS with.
///
/// Blocked like the BLIS/GotoBLAS loop nest, kept small: op(B) is packed per [Kb, Nb] block into
/// strips of 8 columns ([strip][k][8], contiguous along k), op(A) per tile of 4 rows into
/// [k][4] (scaled by alpha), and a 4×8 micro-kernel keeps the C tile in four SIMD8 registers
/// across the whole k loop. Work items are (row tile, column strip) pairs split across threads.
enum SwiftGemm {
    static let blockK = 256
    static let blockN = 512
    static let tileRows = 4
    static let stripWidth = 8

    static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // C = beta * C first, so the blocked loop only accumulates.
        Gemm.scaleC(m: m, n: n, beta: beta, c: c, ldc: ldc)
        if alpha == 0 { return }
        let tiles = (m + tileRows - 1) / tileRows
        var j0 = 0
        while j0 < n {
            let nb = min(blockN, n - j0)
            let strips = (nb + stripWidth - 1) / stripWidth
            var k0 = 0
            while k0 < k {
                let kb = min(blockK, k - k0)
                let panel = UnsafeMutablePointer<Float>.allocate(capacity: strips * kb * stripWidth)
                defer { panel.deallocate() }
                packB(transB: transB, b: b, ldb: ldb, k0: k0, kb: kb, j0: j0, nb: nb, into: panel)
                let itemWork = tileRows * kb * stripWidth * 2
                Parallel.forEach(tiles * strips, grain: max(1, 262_144 / itemWork)) { items in
                    let aPack = UnsafeMutablePointer<Float>.allocate(capacity: kb * tileRows)
                    defer { aPack.deallocate() }
                    var packedTile = -1
                    for item in items {
                        let (tile, strip) = (item / strips, item % strips)
                        let i0 = tile * tileRows
                        let rows = min(tileRows, m - i0)
                        if tile != packedTile {
                            packA(
                                transA: transA, a: a, lda: lda, alpha: alpha, i0: i0, rows: rows, k0: k0, kb: kb,
                                into: aPack)
                            packedTile = tile
                        }
                        let columns = min(stripWidth, nb - strip * stripWidth)
                        microKernel(
                            kb: kb, aPack: aPack, bStrip: panel + strip * kb * stripWidth,
                            c: c + i0 * ldc + j0 + strip * stripWidth, ldc: ldc, rows: rows, columns: columns)
                    }
                }
                k0 += kb
            }
            j0 += nb
        }
    }

    /// panel[strip][kk][l] = op(B)[k0 + kk, j0 + strip*8 + l], zero past column nb.
    static func packB(
        transB: Bool, b: UnsafePointer<Float>, ldb: Int, k0: Int, kb: Int, j0: Int, nb: Int,
        into panel: UnsafeMutablePointer<Float>
    ) {
        let strips = (nb + stripWidth - 1) / stripWidth
        for strip in 0..<strips {
            let dst = panel + strip * kb * stripWidth
            for kk in 0..<kb {
                for l in 0..<stripWidth {
                    let j = strip * stripWidth + l
                    dst[kk * stripWidth + l] =
                        j >= nb ? 0 : (transB ? b[(j0 + j) * ldb + k0 + kk] : b[(k0 + kk) * ldb + j0 + j])
                }
            }
        }
    }

    /// aPack[kk][r] = alpha · op(A)[i0 + r, k0 + kk], zero past row `rows`.
    static func packA(
        transA: Bool, a: UnsafePointer<Float>, lda: Int, alpha: Float, i0: Int, rows: Int, k0: Int, kb: Int,
        into aPack: UnsafeMutablePointer<Float>
    ) {
        for kk in 0..<kb {
            for r in 0..<tileRows {
                aPack[kk * tileRows + r] =
                    r >= rows ? 0 : alpha * (transA ? a[(k0 + kk) * lda + i0 + r] : a[(i0 + r) * lda + k0 + kk])
            }
        }
    }

    /// C[0..<rows, 0..<columns] += Σ_kk aPack[kk][r] · bStrip[kk][l], the tile held in registers.
    @inline(__always)
    static func microKernel(
        kb: Int, aPack: UnsafePointer<Float>, bStrip: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        ldc: Int, rows: Int, columns: Int
    ) {
        var c0 = SIMD8<Float>()
        var c1 = SIMD8<Float>()
        var c2 = SIMD8<Float>()
        var c3 = SIMD8<Float>()
        let bRaw = UnsafeRawPointer(bStrip)
        for kk in 0..<kb {
            let bv = bRaw.loadUnaligned(fromByteOffset: kk * stripWidth * 4, as: SIMD8<Float>.self)
            let av = aPack + kk * tileRows
            c0 += bv * av[0]
            c1 += bv * av[1]
            c2 += bv * av[2]
            c3 += bv * av[3]
        }
        for r in 0..<rows {
            let acc = r == 0 ? c0 : r == 1 ? c1 : r == 2 ? c2 : c3
            let row = c + r * ldc
            if columns == stripWidth {
                let raw = UnsafeMutableRawPointer(row)
                raw.storeBytes(of: raw.loadUnaligned(as: SIMD8<Float>.self) + acc, as: SIMD8<Float>.self)
            } else {
                for l in 0..<columns { row[l] += acc[l] }
            }
        }
    }
}
