import Foundation

// Causal attention whose queries see only part of the past, and attention with learned sinks:
// Mistral/Qwen/gpt-oss sliding windows, Llama-4 chunked attention, gpt-oss's per-head sink logit.
// Ports transformers' masks (masking_utils.py, 5.25): `sliding_window_overlay` keeps key j for
// query i when j > i − window (the query and window − 1 keys before it); `chunked_overlay` keeps
// j when j / chunk == i / chunk. Both leave a contiguous range of keys, so each query row is
// computed over [firstKey(i), i] only. The sink (gpt-oss `eager_attention_forward`) is one more
// logit per head in the softmax denominator that attends to no value.

/// Which earlier keys a query sees, besides itself (causality always holds).
public enum AttentionSpan: Sendable, Equatable {
    /// Every earlier key.
    case full
    /// The `window` − 1 keys before the query (transformers' `sliding_window`).
    case sliding(window: Int)
    /// The keys of the query's own chunk of `size` positions (Llama-4 `attention_chunk_size`).
    case chunked(size: Int)

    /// The first key position query position `i` sees.
    @inline(__always)
    public func firstKey(_ i: Int) -> Int {
        switch self {
        case .full: 0
        case .sliding(let window): Swift.max(0, i - window + 1)
        case .chunked(let size): i - i % size
        }
    }

    /// Whether no query ever loses a key (nothing to mask over `length` positions).
    public func coversEverything(length: Int) -> Bool {
        switch self {
        case .full: true
        case .sliding(let window): window >= length
        case .chunked(let size): size >= length
        }
    }
}

/// Causal attention restricted to `span`, with an optional sink logit per query head (`sinks` [H]).
/// Shapes as `causalAttention`: q [N, H*D], k and v [N, Hkv*D] with N = B*T -> [N, H*D].
///
/// p_ij = e^(s_ij) / (Σ_{j' visible} e^(s_ij') + e^(sink_h)) over the visible keys j ∈ [firstKey(i), i];
/// out_i = Σ_j p_ij v_j (the sink's share goes nowhere). Backward with P recomputed from the saved
/// log-normaliser: dS = P ⊙ (dP − r), r_i = Σ_j p_ij dP_ij; d sink_h = −Σ_i p_sink,i r_i.
/// A full span without sinks is `causalAttention` itself.
public func causalAttention(
    q: Variable, k: Variable, v: Variable, batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int,
    scale: Float? = nil, validLengths: [Int]? = nil, span: AttentionSpan, sinks: Variable? = nil
) -> Variable {
    if sinks == nil && span.coversEverything(length: seq) {
        return causalAttention(
            q: q, k: k, v: v, batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, headDim: headDim, scale: scale,
            validLengths: validLengths)
    }
    precondition(
        heads > 0 && kvHeads > 0 && heads % kvHeads == 0, "causalAttention: \(heads) heads, \(kvHeads) KV heads")
    precondition(q.value.count == batch * seq * heads * headDim, "causalAttention: q \(q.shape) is not [B*T, H*D]")
    precondition(k.value.count == batch * seq * kvHeads * headDim, "causalAttention: k \(k.shape) is not [B*T, Hkv*D]")
    precondition(v.value.count == k.value.count, "causalAttention: v \(v.shape) differs from k \(k.shape)")
    precondition(sinks.map { $0.value.count == heads } ?? true, "causalAttention: one sink per query head")
    let local = LocalAttention(
        batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, headDim: headDim,
        scale: scale ?? 1 / Float(headDim).squareRoot(),
        lengths: (0..<batch).map { b in min(seq, max(0, validLengths?[b] ?? seq)) }, span: span,
        sinks: sinks?.value.data)
    let (qv, kv, vv) = (q.value, k.value, v.value)
    var normaliser = [Float](repeating: 0, count: batch * heads * seq)  // log Σ e^s, sink included
    let out = Tensor(shape: [batch * seq, heads * headDim]) { po in
        qv.withUnsafeBufferPointer { pq in
            kv.withUnsafeBufferPointer { pk in
                vv.withUnsafeBufferPointer { pv in
                    normaliser.withUnsafeMutableBufferPointer { pl in
                        local.forward(
                            q: pq.baseAddress!, k: pk.baseAddress!, v: pv.baseAddress!, out: po.baseAddress!,
                            logSumExp: pl.baseAddress!)
                    }
                }
            }
        }
    }
    let parents = [q, k, v] + (sinks.map { [$0] } ?? [])
    return Variable(out, parents: parents) { gradOut in
        var dq = q.requiresGrad ? Tensor.zeros(qv.shape) : nil
        var dk = k.requiresGrad ? Tensor.zeros(kv.shape) : nil
        var dv = v.requiresGrad ? Tensor.zeros(vv.shape) : nil
        var dsink = [Float](repeating: 0, count: heads)
        gradOut.withUnsafeBufferPointer { pg in
            qv.withUnsafeBufferPointer { pq in
                kv.withUnsafeBufferPointer { pk in
                    vv.withUnsafeBufferPointer { pv in
                        normaliser.withUnsafeBufferPointer { pl in
                            withMutablePointer(&dq) { pdq in
                                withMutablePointer(&dk) { pdk in
                                    withMutablePointer(&dv) { pdv in
                                        dsink = local.backward(
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
        let sinkGrad = sinks?.requiresGrad == true ? Tensor(shape: [heads], data: dsink) : nil
        return [dq, dk, dv] + (sinks == nil ? [] : [sinkGrad])
    }
}

/// Geometry of one local attention call; kernels by GEMM over blocks of query rows and the band of
/// keys they can see (a window of W keys costs O(T·(W + block)) instead of O(T²)).
struct LocalAttention {
    let batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int
    let scale: Float
    let lengths: [Int]
    let span: AttentionSpan
    let sinks: [Float]?

    static let queryBlock = 64
    var group: Int { heads / kvHeads }
    var qStride: Int { heads * headDim }
    var kvStride: Int { kvHeads * headDim }
    func qOffset(_ b: Int, _ h: Int) -> Int { b * seq * qStride + h * headDim }
    func kvOffset(_ b: Int, _ g: Int) -> Int { b * seq * kvStride + g * headDim }

    /// P [rows, i1 − lo]: the probabilities of queries i0..<i1 over keys lo..<i1 (zeros off each row's
    /// visible keys). With `logSumExp` nil they are computed from the row maximum (sink included) and
    /// each row's log-normaliser is written to `saveTo`; otherwise recomputed from the saved one.
    func band(
        _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, b: Int, h: Int, i0: Int, i1: Int, lo: Int,
        into p: UnsafeMutablePointer<Float>, logSumExp: UnsafePointer<Float>?, saveTo: UnsafeMutablePointer<Float>?
    ) {
        let width = i1 - lo
        // S [rows, width] = scale · Q[i0..<i1] [rows, D] · K[lo..<i1]ᵀ [D, width]
        Gemm.sgemm(
            transB: true, m: i1 - i0, n: width, k: headDim, alpha: scale, a: q + qOffset(b, h) + i0 * qStride,
            lda: qStride, b: k + kvOffset(b, h / group) + lo * kvStride, ldb: kvStride, c: p, ldc: width)
        let sink = sinks?[h]
        for i in i0..<i1 {
            let row = p + (i - i0) * width
            let first = span.firstKey(i) - lo, count = i - lo + 1 - first
            for j in 0..<first { row[j] = 0 }
            if let logSumExp {
                _ = Kernels.expShifted(row + first, row + first, count, shift: logSumExp[i])
            } else {
                var m = Kernels.max(row + first, count)
                if let sink { m = Swift.max(m, sink) }
                var total = Kernels.expShifted(row + first, row + first, count, shift: m)
                if let sink { total += Foundation.exp(sink - m) }
                saveTo![i] = m + Foundation.log(total)
                let inverse = 1 / total
                for j in first..<(first + count) { row[j] *= inverse }
            }
            for j in (i - lo + 1)..<width { row[j] = 0 }
        }
    }

    func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
        logSumExp: UnsafeMutablePointer<Float>
    ) {
        let block = Self.queryBlock
        Parallel.forEach(batch * heads) { items in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: block * seq)
            defer { p.deallocate() }
            for item in items {
                let (b, h) = (item / heads, item % heads)
                let o = out + qOffset(b, h)
                let lse = logSumExp + item * seq
                for t in lengths[b]..<seq { for d in 0..<headDim { o[t * qStride + d] = 0 } }
                var i0 = 0
                while i0 < lengths[b] {
                    let i1 = Swift.min(lengths[b], i0 + block), lo = span.firstKey(i0), width = i1 - lo
                    band(q, k, b: b, h: h, i0: i0, i1: i1, lo: lo, into: p, logSumExp: nil, saveTo: lse)
                    // O[i0..<i1] [rows, D] = P [rows, width] · V[lo..<i1] [width, D]
                    Gemm.sgemm(
                        m: i1 - i0, n: headDim, k: width, a: p, lda: width,
                        b: v + kvOffset(b, h / group) + lo * kvStride, ldb: kvStride, c: o + i0 * qStride, ldc: qStride)
                    i0 = i1
                }
            }
        }
    }

    /// Parallel over (b, KV head); dq, dk, dv zero-filled (nil ones skipped). Returns d sink [H].
    func backward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        logSumExp: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?,
        dv: UnsafeMutablePointer<Float>?
    ) -> [Float] {
        let block = Self.queryBlock
        var sinkParts = [Float](repeating: 0, count: batch * heads)  // [B, H], summed over B below
        sinkParts.withUnsafeMutableBufferPointer { parts in
            let parts = UncheckedSendable(parts)
            Parallel.forEach(batch * kvHeads) { items in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: block * seq)
                let ds = UnsafeMutablePointer<Float>.allocate(capacity: block * seq)
                defer {
                    p.deallocate()
                    ds.deallocate()
                }
                for item in items {
                    let (b, g) = (item / kvHeads, item % kvHeads)
                    let kvAt = kvOffset(b, g)
                    for h in (g * group)..<((g + 1) * group) {
                        let qAt = qOffset(b, h)
                        let lse = logSumExp + (b * heads + h) * seq
                        var i0 = 0
                        while i0 < lengths[b] {
                            let i1 = Swift.min(lengths[b], i0 + block), lo = span.firstKey(i0), width = i1 - lo
                            let rows = i1 - i0
                            band(q, k, b: b, h: h, i0: i0, i1: i1, lo: lo, into: p, logSumExp: lse, saveTo: nil)
                            if let dv {
                                // dV[lo..<i1] [width, D] += Pᵀ [width, rows] · dO[i0..<i1] [rows, D]
                                Gemm.sgemm(
                                    transA: true, m: width, n: headDim, k: rows, a: p, lda: width,
                                    b: gradOut + qAt + i0 * qStride, ldb: qStride, beta: 1,
                                    c: dv + kvAt + lo * kvStride, ldc: kvStride)
                            }
                            // dP [rows, width] = dO[i0..<i1] · V[lo..<i1]ᵀ
                            Gemm.sgemm(
                                transB: true, m: rows, n: width, k: headDim, a: gradOut + qAt + i0 * qStride,
                                lda: qStride, b: v + kvAt + lo * kvStride, ldb: kvStride, c: ds, ldc: width)
                            for i in i0..<i1 {
                                let pr = p + (i - i0) * width, dr = ds + (i - i0) * width
                                let r = Kernels.dot(pr, dr, width)
                                for j in 0..<width { dr[j] = pr[j] * (dr[j] - r) }
                                if let sinks { parts.value[b * heads + h] -= Foundation.exp(sinks[h] - lse[i]) * r }
                            }
                            if let dq {
                                // dQ[i0..<i1] [rows, D] = scale · dS [rows, width] · K[lo..<i1] [width, D]
                                Gemm.sgemm(
                                    m: rows, n: headDim, k: width, alpha: scale, a: ds, lda: width,
                                    b: k + kvAt + lo * kvStride, ldb: kvStride, beta: 1, c: dq + qAt + i0 * qStride,
                                    ldc: qStride)
                            }
                            if let dk {
                                // dK[lo..<i1] [width, D] += scale · dSᵀ [width, rows] · Q[i0..<i1] [rows, D]
                                Gemm.sgemm(
                                    transA: true, m: width, n: headDim, k: rows, alpha: scale, a: ds, lda: width,
                                    b: q + qAt + i0 * qStride, ldb: qStride, beta: 1, c: dk + kvAt + lo * kvStride,
                                    ldc: kvStride)
                            }
                            i0 = i1
                        }
                    }
                }
            }
        }
        return (0..<heads).map { h in (0..<batch).reduce(0) { $0 + sinkParts[$1 * heads + h] } }
    }
}
