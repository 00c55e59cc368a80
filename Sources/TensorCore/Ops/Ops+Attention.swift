import Foundation

// Causal self-attention with grouped key/value heads (GQA), one (batch, head) pair at a time on
// strided views of the projections: heads of 8…64 channels (in steps of 8) through the register-tiled
// kernels of AttentionLayout+SmallHeads, larger or odd ones through `Gemm.sgemm` (no transposes or
// copies of q, k, v). Like FlashAttention, the forward keeps only log Σ exp per query row; the
// backward recomputes the probabilities from it instead of storing [B, H, T, T].

/// Causal self-attention. q [N, H*D], k and v [N, Hkv*D] with N = B*T (row b*T + t) -> [N, H*D].
///
/// Query head h reads KV head h / (H / Hkv). scores = q·kᵀ · scale (default 1/√D); key j is
/// visible to query i when j ≤ i and j < validLengths[b] (right padding); softmax in Float;
/// out = P·v. Query rows at or past validLengths[b] output zeros (and pass no gradient).
///
/// Backward per (b, h), with P recomputed from the saved log Σ exp:
/// dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale·dS·K, dK += scale·dSᵀ·Q, dV += Pᵀ·dO.
public func causalAttention(
    q: Variable, k: Variable, v: Variable, batch: Int, seq: Int, heads: Int, kvHeads: Int,
    headDim: Int, scale: Float? = nil, validLengths: [Int]? = nil
) -> Variable {
    let (qv, kv, vv) = (q.value, k.value, v.value)
    precondition(
        heads > 0 && kvHeads > 0 && heads % kvHeads == 0, "causalAttention: \(heads) heads, \(kvHeads) KV heads")
    precondition(qv.count == batch * seq * heads * headDim, "causalAttention: q \(qv.shape) is not [B*T, H*D]")
    precondition(kv.count == batch * seq * kvHeads * headDim, "causalAttention: k \(kv.shape) is not [B*T, Hkv*D]")
    precondition(vv.count == kv.count, "causalAttention: v \(vv.shape) differs from k \(kv.shape)")
    precondition(validLengths.map { $0.count == batch } ?? true, "causalAttention: one valid length per sequence")
    let layout = AttentionLayout(
        batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, headDim: headDim,
        scale: scale ?? 1 / Float(headDim).squareRoot(),
        lengths: (0..<batch).map { b in min(seq, max(0, validLengths?[b] ?? seq)) })
    return causalAttention(q: q, k: k, v: v, layout: layout)
}

/// `causalAttention` on a checked layout (tests pick its kernels through `forcedPath`).
func causalAttention(q: Variable, k: Variable, v: Variable, layout: AttentionLayout) -> Variable {
    let (qv, kv, vv) = (q.value, k.value, v.value)
    let (batch, seq, heads, headDim) = (layout.batch, layout.seq, layout.heads, layout.headDim)
    let keep = anyRequiresGrad(q, k, v)
    var logSumExp = [Float](repeating: 0, count: keep ? batch * heads * seq : 0)  // [B, H, T]
    let out = Tensor(
        shape: [batch * seq, heads * headDim],
        uninitialized: { po in
            qv.withUnsafeBufferPointer { pq in
                kv.withUnsafeBufferPointer { pk in
                    vv.withUnsafeBufferPointer { pv in
                        logSumExp.withUnsafeMutableBufferPointer { pl in
                            layout.forward(
                                q: pq.baseAddress!, k: pk.baseAddress!, v: pv.baseAddress!, out: po.baseAddress!,
                                logSumExp: keep ? pl.baseAddress! : nil)
                        }
                    }
                }
            }
        })
    return Variable(out, parents: [q, k, v]) { gradOut in
        var dq = q.requiresGrad ? Tensor.zeros(qv.shape) : nil
        var dk = k.requiresGrad ? Tensor.zeros(kv.shape) : nil
        var dv = v.requiresGrad ? Tensor.zeros(vv.shape) : nil
        gradOut.withUnsafeBufferPointer { pg in
            qv.withUnsafeBufferPointer { pq in
                kv.withUnsafeBufferPointer { pk in
                    vv.withUnsafeBufferPointer { pv in
                        logSumExp.withUnsafeBufferPointer { pl in
                            withMutablePointer(&dq) { pdq in
                                withMutablePointer(&dk) { pdk in
                                    withMutablePointer(&dv) { pdv in
                                        layout.backward(
                                            q: pq.baseAddress!, k: pk.baseAddress!, v: pv.baseAddress!,
                                            gradOut: pg.baseAddress!, logSumExp: pl.baseAddress!, dq: pdq, dk: pdk,
                                            dv: pdv)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return [dq, dk, dv]
    }
}

/// Calls `body` with the base address of an optional tensor's storage (nil when absent).
func withMutablePointer<R>(_ t: inout Tensor?, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
    guard t != nil else { return body(nil) }
    return t!.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

/// Geometry of one attention call: strided [T, D] views of each head inside the [N, H*D] and
/// [N, Hkv*D] projections, and the kernels that run over them.
struct AttentionLayout {
    let batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int
    let scale: Float
    /// Valid length of each sequence (keys and queries at or past it are padding).
    let lengths: [Int]
    /// The kernels that run; nil picks `path`'s default.
    var forcedPath: Path? = nil

    /// Register-tiled Swift kernels for small heads (`fitsSmallHeadKernel`), else GEMMs. The
    /// forward and the backward take the same path, so the backward recomputes the forward's P.
    enum Path { case gemm, smallHeads }
    var path: Path { forcedPath ?? (fitsSmallHeadKernel ? .smallHeads : .gemm) }

    var group: Int { heads / kvHeads }
    var qStride: Int { heads * headDim }  // row stride of q, out, dq
    var kvStride: Int { kvHeads * headDim }  // row stride of k, v, dk, dv
    func qOffset(_ b: Int, _ h: Int) -> Int { b * seq * qStride + h * headDim }
    func kvOffset(_ b: Int, _ g: Int) -> Int { b * seq * kvStride + g * headDim }

    /// S [L, L] = scale · Q [L, D] · Kᵀ for the first L rows of head h and its KV head.
    func scores(
        _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, b: Int, h: Int, into s: UnsafeMutablePointer<Float>
    ) {
        let length = lengths[b]
        Gemm.sgemm(
            transB: true, m: length, n: length, k: headDim, alpha: scale, a: q + qOffset(b, h), lda: qStride,
            b: k + kvOffset(b, h / group), ldb: kvStride, c: s, ldc: length)
    }

    /// Output rows of one head at or past a sequence's valid length are zeros (padding).
    @inline(__always)
    func zeroPaddedQueries(_ o: UnsafeMutablePointer<Float>, length: Int) {
        for t in length..<seq {
            for d in 0..<headDim { o[t * qStride + d] = 0 }
        }
    }

    /// Query rows per block of the forward: the scores of one block, [64, ≤ T], stay in cache.
    static let queryBlock = 64

    /// Parallel over (b, h), then over blocks of `queryBlock` query rows: for rows i0..<i1 only the
    /// keys 0..<i1 can be visible, so the blocks above the diagonal are never computed (about half
    /// of the q·kᵀ and P·v work at T = 256). Per block: S = scale · Q·Kᵀ [rows, i1], unnormalised
    /// causal softmax E = exp(S − max) in place, O = E·V, then each output row is divided by its
    /// Σ exp (saving log Σ exp when given).
    func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
        logSumExp: UnsafeMutablePointer<Float>?
    ) {
        if path == .smallHeads {
            forwardSmallHeads(q: q, k: k, v: v, out: out, logSumExp: logSumExp)
            return
        }
        let block = AttentionLayout.queryBlock
        Parallel.forEach(batch * heads) { items in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: block * seq)  // [rows, i1] scratch per chunk
            let totals = UnsafeMutablePointer<Float>.allocate(capacity: block)
            defer {
                p.deallocate()
                totals.deallocate()
            }
            for item in items {
                let (b, h) = (item / heads, item % heads)
                let length = lengths[b]
                let o = out + qOffset(b, h)
                zeroPaddedQueries(o, length: length)
                let kv = kvOffset(b, h / group)
                var i0 = 0
                while i0 < length {
                    let i1 = Swift.min(length, i0 + block)
                    let rows = i1 - i0
                    // S [rows, i1] = scale · Q[i0..<i1] [rows, D] · K[0..<i1]ᵀ [D, i1]
                    Gemm.sgemm(
                        transB: true, m: rows, n: i1, k: headDim, alpha: scale, a: q + qOffset(b, h) + i0 * qStride,
                        lda: qStride, b: k + kv, ldb: kvStride, c: p, ldc: i1)
                    for r in 0..<rows {
                        let i = i0 + r
                        let row = p + r * i1
                        let m = Kernels.max(row, i + 1)
                        let total = Kernels.expShifted(row, row, i + 1, shift: m)
                        for j in (i + 1)..<i1 { row[j] = 0 }
                        totals[r] = total
                        logSumExp?[item * seq + i] = m + log(total)
                    }
                    // O[i0..<i1] [rows, D] = E [rows, i1] · V[0..<i1] [i1, D], then / Σ exp per row
                    let oBlock = o + i0 * qStride
                    Gemm.sgemm(
                        m: rows, n: headDim, k: i1, a: p, lda: i1, b: v + kv, ldb: kvStride, c: oBlock, ldc: qStride)
                    for r in 0..<rows {
                        let inverse = 1 / totals[r]
                        for d in 0..<headDim { oBlock[r * qStride + d] *= inverse }
                    }
                    i0 = i1
                }
            }
        }
    }

    /// Parallel over (b, KV head), serial over the query heads of the group: they accumulate into
    /// the same dK and dV. dq, dk, dv must be zero-filled; nil ones are skipped.
    func backward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        logSumExp: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
        dv: UnsafeMutablePointer<Float>?
    ) {
        if path == .smallHeads {
            backwardSmallHeads(q: q, k: k, v: v, gradOut: gradOut, logSumExp: logSumExp, dq: dq, dk: dk, dv: dv)
            return
        }
        Parallel.forEach(batch * kvHeads) { items in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: seq * seq)  // P [T, T]
            let ds = UnsafeMutablePointer<Float>.allocate(capacity: seq * seq)  // dP, then dS [T, T]
            defer {
                p.deallocate()
                ds.deallocate()
            }
            for item in items {
                let (b, g) = (item / kvHeads, item % kvHeads)
                let length = lengths[b]
                if length == 0 { continue }
                let kvAt = kvOffset(b, g)
                for h in (g * group)..<((g + 1) * group) {
                    let qAt = qOffset(b, h)
                    let lse = logSumExp + (b * heads + h) * seq
                    scores(q, k, b: b, h: h, into: p)
                    for i in 0..<length {
                        let row = p + i * length
                        _ = Kernels.expShifted(row, row, i + 1, shift: lse[i])
                        for j in (i + 1)..<length { row[j] = 0 }
                    }
                    if let dv {
                        // dV [L, D] += Pᵀ [L, L] · dO [L, D]
                        Gemm.sgemm(
                            transA: true, m: length, n: headDim, k: length, a: p, lda: length, b: gradOut + qAt,
                            ldb: qStride, beta: 1, c: dv + kvAt, ldc: kvStride)
                    }
                    if dq == nil && dk == nil { continue }
                    // dP [L, L] = dO [L, D] · Vᵀ
                    Gemm.sgemm(
                        transB: true, m: length, n: length, k: headDim, a: gradOut + qAt, lda: qStride, b: v + kvAt,
                        ldb: kvStride, c: ds, ldc: length)
                    // dS = P ⊙ (dP − rowsum(dP ⊙ P)); the scale goes into the GEMMs below.
                    for i in 0..<length {
                        let pr = p + i * length
                        let dr = ds + i * length
                        let s = Kernels.dot(pr, dr, i + 1)
                        for j in 0...i { dr[j] = pr[j] * (dr[j] - s) }
                        for j in (i + 1)..<length { dr[j] = 0 }
                    }
                    if let dq {
                        // dQ [L, D] = scale · dS [L, L] · K [L, D]
                        Gemm.sgemm(
                            m: length, n: headDim, k: length, alpha: scale, a: ds, lda: length, b: k + kvAt,
                            ldb: kvStride, c: dq + qAt, ldc: qStride)
                    }
                    if let dk {
                        // dK [L, D] += scale · dSᵀ [L, L] · Q [L, D]
                        Gemm.sgemm(
                            transA: true, m: length, n: headDim, k: length, alpha: scale, a: ds, lda: length,
                            b: q + qAt, ldb: qStride, beta: 1, c: dk + kvAt, ldc: kvStride)
                    }
                }
            }
        }
    }
}
