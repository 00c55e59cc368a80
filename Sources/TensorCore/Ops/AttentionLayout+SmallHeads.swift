// Attention for small heads (D = 8…64 in steps of 8), register-tiled in Swift: forward and backward.
//
// With D = 16 (config B: hidden 128, 8 heads) a score product [64, i1] = Q·Kᵀ has 16 multiply-adds
// per output: OpenBLAS spends its time zeroing C (beta = 0 pass), packing and writing, and the
// attention core took 20% of the forward for 10% of its FLOPs. Here four query rows at a time take
// their scores against sixteen keys per sweep from a transposed copy of K, exponentiate them in a
// row buffer that stays in L1, and accumulate P·V straight into registers.
//
// The backward had the same problem, worse: per (sequence, head) five [T, T]-sized products with
// K = D or N = D, over the full square instead of the causal triangle (config B's training step spent
// a fifth of its CPU time in them). Here it recomputes P with the forward's own score kernel (the
// same bits as the forward's), dP = dO·Vᵀ with the same kernel on a transposed copy of V, and the
// three products dQ = dS·K, dV = Pᵀ·dO, dK = dSᵀ·Q with the same 4×16 register tile, touching only
// the triangle j ≤ i.

import Foundation

extension AttentionLayout {
    /// Whether `forwardSmallHeads` and `backwardSmallHeads` handle this geometry.
    var fitsSmallHeadKernel: Bool { headDim % 8 == 0 && headDim >= 8 && headDim <= 64 }

    /// The forward of `forward` for `fitsSmallHeadKernel` geometries (log Σ exp per query row saved
    /// when `logSumExp` is given, [B, H, T]).
    func forwardSmallHeads(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
        logSumExp: UnsafeMutablePointer<Float>?
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
                zeroPaddedQueries(o, length: length)
                if length == 0 { continue }
                let g = h / group
                let kv = kvOffset(b, g)
                if packed != (b, g) {
                    transposeHead(k + kv, length: length, into: kt)
                    packed = (b, g)
                }
                let qh = q + qOffset(b, h)
                var i0 = 0
                while i0 < length {
                    let count = Swift.min(4, length - i0)
                    let keys = i0 + count  // keys 0..<keys are visible to some row of the block
                    scoreRows(qh + i0 * qStride, count: count, keys: keys, kt: kt, scale: scale, into: rows)
                    for r in 0..<count {
                        let row = rows + r * (seq + 8)
                        let visible = i0 + r + 1
                        let m = Kernels.max(row, visible)
                        let total = Kernels.expShifted(row, row, visible, shift: m)
                        for j in visible..<keys { row[j] = 0 }
                        row[seq + 7] = 1 / total  // the row's normaliser, past its keys
                        logSumExp?[item * seq + i0 + r] = m + log(total)
                    }
                    accumulateValues(rows, count: count, keys: keys, v: v + kv, into: o + i0 * qStride)
                    i0 += count
                }
            }
        }
    }

    /// rows[r * (seq + 8) + j] = scale · q_r · k_j for r < count, j < keys (sixteen keys per sweep,
    /// eight for the last ones and for blocks of fewer than four rows). `q` rows are `qStride` apart
    /// (queries, or output gradients for dP = dO·Vᵀ); kt[c * seq + j] is key (or value) j's channel c.
    @inline(__always)
    private func scoreRows(
        _ q: UnsafePointer<Float>, count: Int, keys: Int, kt: UnsafePointer<Float>, scale: Float,
        into rows: UnsafeMutablePointer<Float>
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
            if count == 4 && j + 8 < keys {
                // Sixteen keys per sweep: eight independent accumulators keep both FMA pipes busy
                // (four chains would wait on the multiply-add latency). Each lane still sums over
                // c in order, so the scores are the bits of the eight-key loop below.
                var tile = Tile4x16()
                for c in 0..<d {
                    tile.add(
                        q[c], q[qStride + c], q[2 * qStride + c], q[3 * qStride + c],
                        raw.loadUnaligned(fromByteOffset: (c * seq + j) * 4, as: SIMD8<Float>.self),
                        raw.loadUnaligned(fromByteOffset: (c * seq + j + 8) * 4, as: SIMD8<Float>.self))
                }
                for r in 0..<4 {
                    let (a, b) = tile.row(r)
                    out.storeBytes(of: a * scaleVector, toByteOffset: (r * rowStride + j) * 4, as: SIMD8<Float>.self)
                    out.storeBytes(
                        of: b * scaleVector, toByteOffset: (r * rowStride + j + 8) * 4, as: SIMD8<Float>.self)
                }
                j += 16
                continue
            }
            if count == 4 {
                var tile = Tile4x16()
                for c in 0..<d {
                    tile.addLow(
                        q[c], q[qStride + c], q[2 * qStride + c], q[3 * qStride + c],
                        raw.loadUnaligned(fromByteOffset: (c * seq + j) * 4, as: SIMD8<Float>.self))
                }
                for r in 0..<4 {
                    out.storeBytes(
                        of: tile.row(r).0 * scaleVector, toByteOffset: (r * rowStride + j) * 4, as: SIMD8<Float>.self)
                }
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

    /// dst[c * seq + j] = head[j * kvStride + c] for the first `length` keys (or values) of a KV head.
    @inline(__always)
    private func transposeHead(_ head: UnsafePointer<Float>, length: Int, into dst: UnsafeMutablePointer<Float>) {
        for j in 0..<length {
            for c in 0..<headDim { dst[c * seq + j] = head[j * kvStride + c] }
        }
    }

    /// o_r = f_r · Σ_j p_rj · v_j for the block's rows, with the factor f_r at rows[r][seq + 7]: the
    /// softmax normaliser 1 / Σ_j p_rj in the forward, the score scale for dQ = scale · dS·K.
    /// Sixteen channels per sweep over the keys (eight accumulators for a full block of four rows),
    /// so each broadcast weight feeds two multiply-adds.
    @inline(__always)
    private func accumulateValues(
        _ rows: UnsafePointer<Float>, count: Int, keys: Int, v: UnsafePointer<Float>,
        into o: UnsafeMutablePointer<Float>
    ) {
        let rowStride = seq + 8
        let raw = UnsafeRawPointer(v)
        let out = UnsafeMutableRawPointer(o)
        func store(_ a: SIMD8<Float>, row r: Int, channel c: Int) {
            let normalised = a * SIMD8(repeating: rows[r * rowStride + seq + 7])
            out.storeBytes(of: normalised, toByteOffset: (r * qStride + c) * 4, as: SIMD8<Float>.self)
        }
        var c = 0
        while c < headDim {
            let pair = c + 8 < headDim  // channels c..<c+16 in one sweep
            if count == 4 {
                var tile = Tile4x16()
                if pair {
                    for j in 0..<keys {
                        tile.add(
                            rows[j], rows[rowStride + j], rows[2 * rowStride + j], rows[3 * rowStride + j],
                            raw.loadUnaligned(fromByteOffset: (j * kvStride + c) * 4, as: SIMD8<Float>.self),
                            raw.loadUnaligned(fromByteOffset: (j * kvStride + c + 8) * 4, as: SIMD8<Float>.self))
                    }
                } else {
                    for j in 0..<keys {
                        tile.addLow(
                            rows[j], rows[rowStride + j], rows[2 * rowStride + j], rows[3 * rowStride + j],
                            raw.loadUnaligned(fromByteOffset: (j * kvStride + c) * 4, as: SIMD8<Float>.self))
                    }
                }
                for r in 0..<4 {
                    let (a, b) = tile.row(r)
                    store(a, row: r, channel: c)
                    if pair { store(b, row: r, channel: c + 8) }
                }
            } else {
                // The last rows of a sequence (fewer than four): one row at a time.
                for r in 0..<count {
                    let p = rows + r * rowStride
                    var a = SIMD8<Float>(), b = SIMD8<Float>()
                    for j in 0..<keys {
                        let weight = SIMD8(repeating: p[j])
                        a = a.addingProduct(
                            weight, raw.loadUnaligned(fromByteOffset: (j * kvStride + c) * 4, as: SIMD8<Float>.self))
                        if pair {
                            b = b.addingProduct(
                                weight,
                                raw.loadUnaligned(fromByteOffset: (j * kvStride + c + 8) * 4, as: SIMD8<Float>.self))
                        }
                    }
                    store(a, row: r, channel: c)
                    if pair { store(b, row: r, channel: c + 8) }
                }
            }
            c += pair ? 16 : 8
        }
    }

    /// The backward of `backward` for `fitsSmallHeadKernel` geometries, from the log Σ exp that
    /// `forwardSmallHeads` saved. Parallel over (b, KV head) like the GEMM path; per query head of
    /// the group, in blocks of four query rows: P = exp(S − log Σ exp) with the forward's scores,
    /// dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)) and dQ = scale · dS·K; then, over the whole
    /// triangle, dV += Pᵀ·dO and dK += scale · dSᵀ·Q. dq, dk, dv must be zero-filled; nil ones
    /// are skipped.
    func backwardSmallHeads(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        logSumExp: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
        dv: UnsafeMutablePointer<Float>?
    ) {
        let d = headDim
        let rowStride = seq + 8
        Parallel.forEach(batch * kvHeads) { items in
            let kt = UnsafeMutablePointer<Float>.allocate(capacity: d * seq + 8)  // Kᵀ of the (b, KV head)
            let vt = UnsafeMutablePointer<Float>.allocate(capacity: d * seq + 8)  // Vᵀ
            let p = UnsafeMutablePointer<Float>.allocate(capacity: seq * rowStride)  // P rows
            let ds = UnsafeMutablePointer<Float>.allocate(capacity: seq * rowStride)  // dP rows, then dS
            kt.initialize(repeating: 0, count: d * seq + 8)
            vt.initialize(repeating: 0, count: d * seq + 8)
            defer {
                for buffer in [kt, vt, p, ds] { buffer.deallocate() }
            }
            for item in items {
                let (b, g) = (item / kvHeads, item % kvHeads)
                let length = lengths[b]
                if length == 0 { continue }
                let kvAt = kvOffset(b, g)
                transposeHead(k + kvAt, length: length, into: kt)
                transposeHead(v + kvAt, length: length, into: vt)
                for h in (g * group)..<((g + 1) * group) {
                    let qAt = qOffset(b, h)
                    let lse = logSumExp + (b * heads + h) * seq
                    var i0 = 0
                    while i0 < length {
                        let count = Swift.min(4, length - i0)
                        let keys = i0 + count
                        // Row i of P and dS is zero past i up to `keys`, which the transposed
                        // products below rely on (their 4-key tiles start at i0).
                        let pRows = p + i0 * rowStride
                        scoreRows(q + qAt + i0 * qStride, count: count, keys: keys, kt: kt, scale: scale, into: pRows)
                        for r in 0..<count {
                            let i = i0 + r
                            let row = pRows + r * rowStride
                            _ = Kernels.expShifted(row, row, i + 1, shift: lse[i])
                            for j in (i + 1)..<keys { row[j] = 0 }
                        }
                        if dq != nil || dk != nil {
                            let dRows = ds + i0 * rowStride
                            scoreRows(
                                gradOut + qAt + i0 * qStride, count: count, keys: keys, kt: vt, scale: 1, into: dRows)
                            for r in 0..<count {
                                let i = i0 + r
                                let (pr, dr) = (pRows + r * rowStride, dRows + r * rowStride)
                                let s = Kernels.dot(pr, dr, i + 1)
                                for j in 0...i { dr[j] = pr[j] * (dr[j] - s) }
                                for j in (i + 1)..<keys { dr[j] = 0 }
                                dr[seq + 7] = scale  // dQ's factor in accumulateValues
                            }
                            if let dq {
                                accumulateValues(
                                    dRows, count: count, keys: keys, v: k + kvAt, into: dq + qAt + i0 * qStride)
                            }
                        }
                        i0 += count
                    }
                    if let dv {
                        accumulateTransposed(p, length: length, source: gradOut + qAt, factor: 1, into: dv + kvAt)
                    }
                    if let dk {
                        accumulateTransposed(ds, length: length, source: q + qAt, factor: scale, into: dk + kvAt)
                    }
                }
            }
        }
    }

    /// dst_j += factor · Σ_{i ≥ j} w_ij · src_i for the keys j < length of one KV head: dV += Pᵀ·dO
    /// (w = P, src = dO) and dK += scale · dSᵀ·Q. w rows are `seq + 8` apart and zero past the
    /// diagonal within each block of four rows; src rows `qStride` apart, dst rows `kvStride`.
    /// Four keys by sixteen channels per register tile, summing over the query rows in order.
    @inline(__always)
    private func accumulateTransposed(
        _ w: UnsafePointer<Float>, length: Int, source: UnsafePointer<Float>, factor: Float,
        into dst: UnsafeMutablePointer<Float>
    ) {
        let rowStride = seq + 8
        let raw = UnsafeRawPointer(source)
        let out = UnsafeMutableRawPointer(dst)
        let f = SIMD8<Float>(repeating: factor)
        func add(_ a: SIMD8<Float>, key j: Int, channel c: Int) {
            let at = (j * kvStride + c) * 4
            out.storeBytes(
                of: out.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self) + a * f, toByteOffset: at,
                as: SIMD8<Float>.self)
        }
        func load(_ i: Int, _ c: Int) -> SIMD8<Float> {
            raw.loadUnaligned(fromByteOffset: (i * qStride + c) * 4, as: SIMD8<Float>.self)
        }
        var j0 = 0
        while j0 < length {
            let count = Swift.min(4, length - j0)
            var c = 0
            while c < headDim {
                let pair = c + 8 < headDim
                if count == 4 {
                    var tile = Tile4x16()
                    for i in j0..<length {
                        let wi = w + i * rowStride + j0
                        if pair {
                            tile.add(wi[0], wi[1], wi[2], wi[3], load(i, c), load(i, c + 8))
                        } else {
                            tile.addLow(wi[0], wi[1], wi[2], wi[3], load(i, c))
                        }
                    }
                    for r in 0..<4 {
                        let (a, b) = tile.row(r)
                        add(a, key: j0 + r, channel: c)
                        if pair { add(b, key: j0 + r, channel: c + 8) }
                    }
                } else {
                    // The last keys of a sequence (fewer than four): one key at a time.
                    for j in j0..<(j0 + count) {
                        var a = SIMD8<Float>(), b = SIMD8<Float>()
                        for i in j..<length {
                            let weight = SIMD8(repeating: w[i * rowStride + j])
                            a = a.addingProduct(weight, load(i, c))
                            if pair { b = b.addingProduct(weight, load(i, c + 8)) }
                        }
                        add(a, key: j, channel: c)
                        if pair { add(b, key: j, channel: c + 8) }
                    }
                }
                c += pair ? 16 : 8
            }
            j0 += count
        }
    }
}

/// Four rows by sixteen columns of multiply-add accumulators, eight SIMD8 registers: the register
/// tile of both products of the small-head kernel (query rows × keys for the scores, query rows ×
/// channels for P·V). Row r holds columns 0..<8 in `a`r and 8..<16 in `b`r; eight independent
/// chains keep both FMA pipes busy. The sums run in the order of the `add` calls, lane by lane.
struct Tile4x16 {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()

    /// Row r += w_r · [v0, v1].
    @inline(__always)
    mutating func add(_ w0: Float, _ w1: Float, _ w2: Float, _ w3: Float, _ v0: SIMD8<Float>, _ v1: SIMD8<Float>) {
        let (p0, p1, p2, p3) = (SIMD8(repeating: w0), SIMD8(repeating: w1), SIMD8(repeating: w2), SIMD8(repeating: w3))
        a0 = a0.addingProduct(p0, v0); b0 = b0.addingProduct(p0, v1)
        a1 = a1.addingProduct(p1, v0); b1 = b1.addingProduct(p1, v1)
        a2 = a2.addingProduct(p2, v0); b2 = b2.addingProduct(p2, v1)
        a3 = a3.addingProduct(p3, v0); b3 = b3.addingProduct(p3, v1)
    }

    /// Row r's first eight columns += w_r · v0 (the tile's left half only).
    @inline(__always)
    mutating func addLow(_ w0: Float, _ w1: Float, _ w2: Float, _ w3: Float, _ v0: SIMD8<Float>) {
        a0 = a0.addingProduct(SIMD8(repeating: w0), v0)
        a1 = a1.addingProduct(SIMD8(repeating: w1), v0)
        a2 = a2.addingProduct(SIMD8(repeating: w2), v0)
        a3 = a3.addingProduct(SIMD8(repeating: w3), v0)
    }

    /// Row r: (columns 0..<8, columns 8..<16).
    @inline(__always)
    func row(_ r: Int) -> (SIMD8<Float>, SIMD8<Float>) {
        switch r {
        case 0: return (a0, b0)
        case 1: return (a1, b1)
        case 2: return (a2, b2)
        default: return (a3, b3)
        }
    }
}
