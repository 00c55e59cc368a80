import Foundation

// Causal self-attention with grouped key/value heads (GQA), one (batch, head) pair at a time
// through `Gemm.sgemm` on strided views of the projections: no transposes or copies of q, k, v.
// Like FlashAttention, the forward keeps only log Σ exp per query row; the backward recomputes the
// probabilities with one extra GEMM instead of storing [B, H, T, T].

/// Causal self-attention. q [N, H*D], k and v [N, Hkv*D] with N = B*T (row b*T + t) -> [N, H*D].
///
/// Query head h reads KV head h / (H / Hkv). scores = q·kᵀ · scale (default 1/√D); key j is
/// visible to query i when j ≤ i and j < validLengths[b] (right padding); softmax in Float;
/// out = P·v. Query rows at or past validLengths[b] output zeros (and pass no gradient).
///
/// Backward per (b, h), with P recomputed from the saved log Σ exp:
/// dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale·dS·K, dK += scale·dSᵀ·Q, dV += Pᵀ·dO.
/// Heads sharing a KV head accumulate into the same dK, dV, so the backward runs in parallel over
/// (b, KV head) and serially over the query heads of a group.
public func causalAttention(
    q: Variable, k: Variable, v: Variable, batch: Int, seq: Int, heads: Int, kvHeads: Int,
    headDim: Int, scale: Float? = nil, validLengths: [Int]? = nil
) -> Variable {
    let (qv, kv, vv) = (q.value, k.value, v.value)
    let (seqLength, headSize) = (seq, headDim)
    precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0, "causalAttention: \(heads) heads, \(kvHeads) KV heads")
    precondition(qv.count == batch * seq * heads * headDim, "causalAttention: q \(qv.shape) is not [\(batch)*\(seq), \(heads)*\(headDim)]")
    precondition(kv.count == batch * seq * kvHeads * headDim, "causalAttention: k \(kv.shape) is not [\(batch)*\(seq), \(kvHeads)*\(headDim)]")
    precondition(vv.count == kv.count, "causalAttention: v \(vv.shape) differs from k \(kv.shape)")
    if let validLengths { precondition(validLengths.count == batch, "causalAttention: \(validLengths.count) lengths for batch \(batch)") }
    let group = heads / kvHeads
    let alpha = scale ?? 1 / Float(headDim).squareRoot()
    let lengths = (0..<batch).map { b in min(seq, max(0, validLengths?[b] ?? seq)) }
    let qStride = heads * headDim  // row stride of q and out
    let kvStride = kvHeads * headDim  // row stride of k and v
    let keep = anyRequiresGrad(q, k, v)
    var logSumExp = [Float](repeating: 0, count: keep ? batch * heads * seq : 0)  // [B, H, T]

    let out = Tensor(shape: [batch * seq, qStride], uninitialized: { po in
        let po = po.baseAddress!
        qv.withUnsafeBufferPointer { pq in
            kv.withUnsafeBufferPointer { pk in
                vv.withUnsafeBufferPointer { pv in
                    logSumExp.withUnsafeMutableBufferPointer { pl in
                        let (pq, pk, pv, pl) = (pq.baseAddress!, pk.baseAddress!, pv.baseAddress!, pl.baseAddress!)
                        Parallel.forEach(batch * heads) { items in
                            let scores = UnsafeMutablePointer<Float>.allocate(capacity: seqLength * seqLength)  // [T, T]
                            defer { scores.deallocate() }
                            for item in items {
                                let (b, h) = (item / heads, item % heads)
                                let length = lengths[b]
                                let o = po + b * seqLength * qStride + h * headSize
                                for t in length..<seqLength {
                                    for d in 0..<headSize { o[t * qStride + d] = 0 }
                                }
                                if length == 0 { continue }
                                let qh = pq + b * seqLength * qStride + h * headSize
                                let kh = pk + b * seqLength * kvStride + (h / group) * headSize
                                let vh = pv + b * seqLength * kvStride + (h / group) * headSize
                                // S [L, L] = scale · Q [L, D] · Kᵀ [D, L]
                                Gemm.sgemm(
                                    transB: true, m: length, n: length, k: headSize, alpha: alpha, a: qh, lda: qStride,
                                    b: kh, ldb: kvStride, c: scores, ldc: length)
                                for i in 0..<length {
                                    let row = scores + i * length
                                    let m = Kernels.max(row, i + 1)
                                    for j in 0...i { row[j] = exp(row[j] - m) }
                                    let total = Kernels.sum(row, i + 1)
                                    let inverse = 1 / total
                                    for j in 0...i { row[j] *= inverse }
                                    for j in (i + 1)..<length { row[j] = 0 }
                                    if keep { pl[item * seqLength + i] = m + log(total) }
                                }
                                // O [L, D] = P [L, L] · V [L, D]
                                Gemm.sgemm(
                                    m: length, n: headSize, k: length, a: scores, lda: length, b: vh, ldb: kvStride,
                                    c: o, ldc: qStride)
                            }
                        }
                    }
                }
            }
        }
    })

    return Variable(out, parents: [q, k, v]) { gradOut in
        var dq = Tensor.zeros(q.requiresGrad ? qv.shape : [0])
        var dk = Tensor.zeros(k.requiresGrad ? kv.shape : [0])
        var dv = Tensor.zeros(v.requiresGrad ? vv.shape : [0])
        let (needQ, needK, needV) = (q.requiresGrad, k.requiresGrad, v.requiresGrad)
        gradOut.withUnsafeBufferPointer { pg in
            qv.withUnsafeBufferPointer { pq in
                kv.withUnsafeBufferPointer { pk in
                    vv.withUnsafeBufferPointer { pv in
                        logSumExp.withUnsafeBufferPointer { pl in
                            dq.withUnsafeMutableBufferPointer { pdq in
                                dk.withUnsafeMutableBufferPointer { pdk in
                                    dv.withUnsafeMutableBufferPointer { pdv in
                                        let (pg, pq, pk, pv, pl) = (
                                            pg.baseAddress!, pq.baseAddress!, pk.baseAddress!, pv.baseAddress!, pl.baseAddress!
                                        )
                                        let (pdq, pdk, pdv) = (pdq.baseAddress!, pdk.baseAddress!, pdv.baseAddress!)
                                        Parallel.forEach(batch * kvHeads) { items in
                                            let probabilities = UnsafeMutablePointer<Float>.allocate(capacity: seqLength * seqLength)
                                            let dScores = UnsafeMutablePointer<Float>.allocate(capacity: seqLength * seqLength)
                                            defer {
                                                probabilities.deallocate()
                                                dScores.deallocate()
                                            }
                                            for item in items {
                                                let (b, g) = (item / kvHeads, item % kvHeads)
                                                let length = lengths[b]
                                                if length == 0 { continue }
                                                let kvOffset = b * seqLength * kvStride + g * headSize
                                                for h in (g * group)..<((g + 1) * group) {
                                                    let qOffset = b * seqLength * qStride + h * headSize
                                                    let lse = pl + (b * heads + h) * seqLength
                                                    // P [L, L] = exp(scale · Q·Kᵀ − lse), causal.
                                                    Gemm.sgemm(
                                                        transB: true, m: length, n: length, k: headSize, alpha: alpha,
                                                        a: pq + qOffset, lda: qStride, b: pk + kvOffset, ldb: kvStride,
                                                        c: probabilities, ldc: length)
                                                    for i in 0..<length {
                                                        let row = probabilities + i * length
                                                        for j in 0...i { row[j] = exp(row[j] - lse[i]) }
                                                        for j in (i + 1)..<length { row[j] = 0 }
                                                    }
                                                    if needV {
                                                        // dV [L, D] += Pᵀ [L, L] · dO [L, D]
                                                        Gemm.sgemm(
                                                            transA: true, m: length, n: headSize, k: length,
                                                            a: probabilities, lda: length, b: pg + qOffset, ldb: qStride,
                                                            beta: 1, c: pdv + kvOffset, ldc: kvStride)
                                                    }
                                                    if !(needQ || needK) { continue }
                                                    // dP [L, L] = dO [L, D] · Vᵀ [D, L]
                                                    Gemm.sgemm(
                                                        transB: true, m: length, n: length, k: headSize,
                                                        a: pg + qOffset, lda: qStride, b: pv + kvOffset, ldb: kvStride,
                                                        c: dScores, ldc: length)
                                                    // dS = P ⊙ (dP − rowsum(dP ⊙ P)); the scale goes into the GEMMs.
                                                    for i in 0..<length {
                                                        let p = probabilities + i * length
                                                        let d = dScores + i * length
                                                        let s = Kernels.dot(p, d, i + 1)
                                                        for j in 0...i { d[j] = p[j] * (d[j] - s) }
                                                        for j in (i + 1)..<length { d[j] = 0 }
                                                    }
                                                    if needQ {
                                                        // dQ [L, D] = scale · dS [L, L] · K [L, D]
                                                        Gemm.sgemm(
                                                            m: length, n: headSize, k: length, alpha: alpha,
                                                            a: dScores, lda: length, b: pk + kvOffset, ldb: kvStride,
                                                            c: pdq + qOffset, ldc: qStride)
                                                    }
                                                    if needK {
                                                        // dK [L, D] += scale · dSᵀ [L, L] · Q [L, D]
                                                        Gemm.sgemm(
                                                            transA: true, m: length, n: headSize, k: length, alpha: alpha,
                                                            a: dScores, lda: length, b: pq + qOffset, ldb: qStride,
                                                            beta: 1, c: pdk + kvOffset, ldc: kvStride)
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return [needQ ? dq : nil, needK ? dk : nil, needV ? dv : nil]
    }
}
