// Inference attention for small heads (D = 8…64 in steps of 8), register-tiled in Swift.
//
// With D = 16 (config B: hidden 128, 8 heads) a score product [64, i1] = Q·Kᵀ has 16 multiply-adds
// per output: OpenBLAS spends its time zeroing C (beta = 0 pass), packing and writing, and the
// attention core took 20% of the forward for 10% of its FLOPs. Here four query rows at a time take
// their scores against eight keys per vector from a transposed copy of K, exponentiate them in a
// row buffer that stays in L1, and accumulate P·V straight into registers. Used inside
// `InferenceMode` only (scoring: eval, sweep, realign's pool scores): a training step keeps the GEMM
// path, whose backward recomputes the same probabilities from the saved log Σ exp with the same
// product, even where its attention needs no gradient (frozen first layers).

extension AttentionLayout {
    /// Whether `forwardSmallHeads` handles this geometry.
    var fitsSmallHeadKernel: Bool { headDim % 8 == 0 && headDim >= 8 && headDim <= 64 }

    /// The forward of `forward` without log Σ exp, for `fitsSmallHeadKernel` geometries.
    func forwardSmallHeads(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        let d = headDim
        Parallel.forEach(batch * heads) { items in
            // Kᵀ of the current (b, KV head): kt[c * seq + j] = K[j, c], then one score row per query.
            let kt = UnsafeMutablePointer<Float>.allocate(capacity: d * seq + 8)
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: 4 * (seq + 8))
            kt.initialize(repeating: 0, count: d * seq + 8)  // lanes past a head's keys read zeros
            defer {
                kt.deallocate()
                rows.deallocate()
            }
            var packed = (b: -1, g: -1)
            for item in items {
                let (b, h) = (item / heads, item % heads)
                let length = lengths[b]
                let o = out + qOffset(b, h)
                for t in length..<seq {
                    for c in 0..<d { o[t * qStride + c] = 0 }
                }
                if length == 0 { continue }
                let g = h / group
                let kv = kvOffset(b, g)
                if packed != (b, g) {
                    for j in 0..<length {
                        for c in 0..<d { kt[c * seq + j] = k[kv + j * kvStride + c] }
                    }
                    packed = (b, g)
                }
                let qh = q + qOffset(b, h)
                var i0 = 0
                while i0 < length {
                    let count = Swift.min(4, length - i0)
                    let keys = i0 + count  // keys 0..<keys are visible to some row of the block
                    scoreRows(qh + i0 * qStride, count: count, keys: keys, kt: kt, into: rows)
                    for r in 0..<count {
                        let row = rows + r * (seq + 8)
                        let visible = i0 + r + 1
                        let m = Kernels.max(row, visible)
                        let total = Kernels.expShifted(row, row, visible, shift: m)
                        for j in visible..<keys { row[j] = 0 }
                        row[seq + 7] = 1 / total  // the row's normaliser, past its keys
                    }
                    accumulateValues(rows, count: count, keys: keys, v: v + kv, into: o + i0 * qStride)
                    i0 += count
                }
            }
        }
    }

    /// rows[r * (seq + 8) + j] = scale · q_r · k_j for r < count, j < keys (eight keys per vector).
    @inline(__always)
    private func scoreRows(
        _ q: UnsafePointer<Float>, count: Int, keys: Int, kt: UnsafePointer<Float>, into rows: UnsafeMutablePointer<Float>
    ) {
        let d = headDim
        let rowStride = seq + 8
        let raw = UnsafeRawPointer(kt)
        let out = UnsafeMutableRawPointer(rows)
        let scaleVector = SIMD8<Float>(repeating: scale)
        var j = 0
        while j < keys {
            // The last vector may read past `keys` (into kt's padding or the next channel's keys):
            // those lanes are written but never read (the softmax covers 0..<visible only).
            if count == 4 {
                var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
                for c in 0..<d {
                    let kv = raw.loadUnaligned(fromByteOffset: (c * seq + j) * 4, as: SIMD8<Float>.self)
                    a0 = a0.addingProduct(SIMD8(repeating: q[c]), kv)
                    a1 = a1.addingProduct(SIMD8(repeating: q[qStride + c]), kv)
                    a2 = a2.addingProduct(SIMD8(repeating: q[2 * qStride + c]), kv)
                    a3 = a3.addingProduct(SIMD8(repeating: q[3 * qStride + c]), kv)
                }
                out.storeBytes(of: a0 * scaleVector, toByteOffset: j * 4, as: SIMD8<Float>.self)
                out.storeBytes(of: a1 * scaleVector, toByteOffset: (rowStride + j) * 4, as: SIMD8<Float>.self)
                out.storeBytes(of: a2 * scaleVector, toByteOffset: (2 * rowStride + j) * 4, as: SIMD8<Float>.self)
                out.storeBytes(of: a3 * scaleVector, toByteOffset: (3 * rowStride + j) * 4, as: SIMD8<Float>.self)
            } else {
                for r in 0..<count {
                    var a = SIMD8<Float>()
                    for c in 0..<d {
                        let kv = raw.loadUnaligned(fromByteOffset: (c * seq + j) * 4, as: SIMD8<Float>.self)
                        a = a.addingProduct(SIMD8(repeating: q[r * qStride + c]), kv)
                    }
                    out.storeBytes(of: a * scaleVector, toByteOffset: (r * rowStride + j) * 4, as: SIMD8<Float>.self)
                }
            }
            j += 8
        }
    }

    /// o_r = (Σ_j p_rj · v_j) / Σ_j p_rj for the block's rows (the normaliser sits at rows[r][seq + 7]).
    @inline(__always)
    private func accumulateValues(
        _ rows: UnsafePointer<Float>, count: Int, keys: Int, v: UnsafePointer<Float>, into o: UnsafeMutablePointer<Float>
    ) {
        let rowStride = seq + 8
        let raw = UnsafeRawPointer(v)
        let out = UnsafeMutableRawPointer(o)
        var c = 0
        while c < headDim {
            // Eight channels at a time, every row of the block in its own register.
            var acc = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            for j in 0..<keys {
                let vv = raw.loadUnaligned(fromByteOffset: (j * kvStride + c) * 4, as: SIMD8<Float>.self)
                acc.0 = acc.0.addingProduct(SIMD8(repeating: rows[j]), vv)
                if count > 1 { acc.1 = acc.1.addingProduct(SIMD8(repeating: rows[rowStride + j]), vv) }
                if count > 2 { acc.2 = acc.2.addingProduct(SIMD8(repeating: rows[2 * rowStride + j]), vv) }
                if count > 3 { acc.3 = acc.3.addingProduct(SIMD8(repeating: rows[3 * rowStride + j]), vv) }
            }
            func store(_ a: SIMD8<Float>, _ r: Int) {
                let normalised = a * SIMD8(repeating: rows[r * rowStride + seq + 7])
                out.storeBytes(of: normalised, toByteOffset: (r * qStride + c) * 4, as: SIMD8<Float>.self)
            }
            store(acc.0, 0)
            if count > 1 { store(acc.1, 1) }
            if count > 2 { store(acc.2, 2) }
            if count > 3 { store(acc.3, 3) }
            c += 8
        }
    }
}
