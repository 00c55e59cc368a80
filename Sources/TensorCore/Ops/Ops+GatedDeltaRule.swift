import Foundation

// The gated delta rule of Gated DeltaNet (Yang et al. 2024; transformers' torch_chunk_gated_delta_rule and
// torch_recurrent_gated_delta_rule). Per value head, a state S [Dk, Dv] is carried along the sequence:
//
//     S ← exp(g_t) S;   δ = β_t (v_t − Sᵀk_t);   S ← S + k_t δᵀ;   o_t = Sᵀ q_t
//
// q and k arrive L2-normalised and q scaled by 1/√Dk (the caller does it, with rmsNorm's backward). Key
// heads serve Hv/Hk consecutive value heads (grouped value attention). Shapes: q, k [N, Hk*Dk], v [N, Hv*Dv],
// g, β [N, Hv] with N = B*T, row b*T + t -> o [N, Hv*Dv].

/// The sizes of one gated-delta-rule problem.
public struct DeltaRuleShape: Sendable, Equatable {
    public var batch: Int, seq: Int, keyHeads: Int, valueHeads: Int, keyDim: Int, valueDim: Int

    public init(batch: Int, seq: Int, keyHeads: Int, valueHeads: Int, keyDim: Int, valueDim: Int) {
        precondition(keyHeads > 0 && valueHeads % keyHeads == 0, "value heads must be a multiple of key heads")
        self.batch = batch
        self.seq = seq
        self.keyHeads = keyHeads
        self.valueHeads = valueHeads
        self.keyDim = keyDim
        self.valueDim = valueDim
    }

    /// Floats of the state of one sequence: Hv × Dk × Dv.
    public var stateSize: Int { valueHeads * keyDim * valueDim }
    var group: Int { valueHeads / keyHeads }
}

/// The gated delta rule with a graph: the chunked form forward (chunks of `chunkSize`, transformers' 64),
/// and a backward that recomputes each chunk's states step by step from the state saved at its start
/// (the exact gradient of the rule, which the chunked and recurrent forms both compute). Zero initial state.
public func gatedDeltaRule(
    q: Variable, k: Variable, v: Variable, g: Variable, beta: Variable, shape: DeltaRuleShape, chunkSize: Int = 64
) -> Variable {
    let keep = anyRequiresGrad(q, k, v, g, beta)
    let run = GatedDeltaRule.chunked(
        q: q.value, k: k.value, v: v.value, g: g.value, beta: beta.value, shape: shape, chunkSize: chunkSize,
        keepChunkStates: keep)
    let inputs = (q.value, k.value, v.value, g.value, beta.value)
    return Variable(run.output, parents: [q, k, v, g, beta]) { grad in
        let d = GatedDeltaRule.backward(
            grad, q: inputs.0, k: inputs.1, v: inputs.2, g: inputs.3, beta: inputs.4, shape: shape,
            chunkSize: chunkSize, chunkStates: run.chunkStates)
        return [d.q, d.k, d.v, d.g, d.beta]
    }
}

/// The two forms of the rule without a graph (decoding carries `state` across calls), and the backward.
public enum GatedDeltaRule {
    /// The chunked form. `initialState` [B, Hv, Dk, Dv] (nil: zeros). Returns the output, the final state
    /// and, with `keepChunkStates`, the state at the start of every chunk [B, Hv, chunks, Dk, Dv].
    public static func chunked(
        q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, shape s: DeltaRuleShape, chunkSize: Int = 64,
        initialState: [Float]? = nil, keepChunkStates: Bool = false
    ) -> (output: Tensor, state: [Float], chunkStates: [Float]) {
        check(q, k, v, g, beta, s)
        let (dk, dv, hv, hk, t) = (s.keyDim, s.valueDim, s.valueHeads, s.keyHeads, s.seq)
        let chunks = (t + chunkSize - 1) / chunkSize
        var state = initialState ?? [Float](repeating: 0, count: s.batch * s.stateSize)
        precondition(state.count == s.batch * s.stateSize, "gatedDeltaRule: initial state of \(state.count) floats")
        var saved = [Float](repeating: 0, count: keepChunkStates ? s.batch * hv * chunks * dk * dv : 0)
        var out = [Float](repeating: 0, count: s.batch * t * hv * dv)
        let qd = q.data
        let kd = k.data
        let vd = v.data
        let gd = g.data
        let bd = beta.data
        state.withUnsafeMutableBufferPointer { ps in
            out.withUnsafeMutableBufferPointer { po in
                saved.withUnsafeMutableBufferPointer { pk in
                    let (ps, po, pk) = (UncheckedSendable(ps), UncheckedSendable(po), UncheckedSendable(pk))
                    Parallel.forEach(s.batch * hv) { range in
                        var u = [Float](repeating: 0, count: chunkSize * dv)
                        var gam = [Float](repeating: 0, count: chunkSize)
                        for item in range {
                            let (b, h) = (item / hv, item % hv)
                            let kh = h / s.group
                            let S = ps.value.baseAddress! + item * dk * dv
                            for c in 0..<chunks {
                                if keepChunkStates {
                                    (pk.value.baseAddress! + (item * chunks + c) * dk * dv).update(
                                        from: S, count: dk * dv)
                                }
                                let t0 = c * chunkSize
                                let len = min(chunkSize, t - t0)
                                func row(_ i: Int) -> Int { b * t + t0 + i }
                                func key(_ i: Int) -> Int { row(i) * hk * dk + kh * dk }
                                func value(_ i: Int) -> Int { row(i) * hv * dv + h * dv }
                                var acc: Float = 0
                                for i in 0..<len {
                                    acc += gd[row(i) * hv + h]
                                    gam[i] = acc
                                }
                                // The UT transform solved by forward substitution: v_new = (I + T)⁻¹ (βv − β e^γ k S),
                                // T strictly lower: v_new_i is the part of the value the decayed state does not
                                // predict.
                                for i in 0..<len {
                                    let bi = bd[row(i) * hv + h]
                                    let eg = Foundation.exp(gam[i])
                                    for e in 0..<dv { u[i * dv + e] = bi * vd[value(i) + e] }
                                    for d in 0..<dk {
                                        let wd = bi * eg * kd[key(i) + d]
                                        for e in 0..<dv { u[i * dv + e] -= wd * S[d * dv + e] }
                                    }
                                    for j in 0..<i {
                                        var dot: Float = 0
                                        for d in 0..<dk { dot += kd[key(i) + d] * kd[key(j) + d] }
                                        let tij = bi * dot * Foundation.exp(gam[i] - gam[j])
                                        for e in 0..<dv { u[i * dv + e] -= tij * u[j * dv + e] }
                                    }
                                }
                                for i in 0..<len {
                                    let o = po.value.baseAddress! + value(i)
                                    let eg = Foundation.exp(gam[i])
                                    for d in 0..<dk {
                                        let qd_ = qd[key(i) + d] * eg
                                        for e in 0..<dv { o[e] += qd_ * S[d * dv + e] }
                                    }
                                    for j in 0...i {
                                        var dot: Float = 0
                                        for d in 0..<dk { dot += qd[key(i) + d] * kd[key(j) + d] }
                                        let a = dot * Foundation.exp(gam[i] - gam[j])
                                        for e in 0..<dv { o[e] += a * u[j * dv + e] }
                                    }
                                }
                                let last = gam[len - 1]
                                let decay = Foundation.exp(last)
                                for x in 0..<(dk * dv) { S[x] *= decay }
                                for j in 0..<len {
                                    let f = Foundation.exp(last - gam[j])
                                    for d in 0..<dk {
                                        let kf = kd[key(j) + d] * f
                                        for e in 0..<dv { S[d * dv + e] += kf * u[j * dv + e] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (Tensor(shape: [s.batch * t, hv * dv], data: out), state, saved)
    }

    /// The recurrent form, one token after another (decoding). `state` [B, Hv, Dk, Dv] is read and updated.
    public static func recurrent(
        q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, shape s: DeltaRuleShape, state: inout [Float]
    ) -> Tensor {
        check(q, k, v, g, beta, s)
        precondition(state.count == s.batch * s.stateSize, "gatedDeltaRule: state of \(state.count) floats")
        let (dk, dv, hv, hk, t) = (s.keyDim, s.valueDim, s.valueHeads, s.keyHeads, s.seq)
        var out = [Float](repeating: 0, count: s.batch * t * hv * dv)
        var kv = [Float](repeating: 0, count: dv)
        for b in 0..<s.batch {
            for h in 0..<hv {
                let kh = h / s.group
                let base = (b * hv + h) * dk * dv
                for step in 0..<t {
                    let r = b * t + step
                    let (kq, vo) = (r * hk * dk + kh * dk, r * hv * dv + h * dv)
                    let decay = Foundation.exp(g.data[r * hv + h])
                    let bt = beta.data[r * hv + h]
                    for x in 0..<(dk * dv) { state[base + x] *= decay }
                    for e in 0..<dv { kv[e] = 0 }
                    for d in 0..<dk {
                        for e in 0..<dv { kv[e] += state[base + d * dv + e] * k.data[kq + d] }
                    }
                    for e in 0..<dv { kv[e] = bt * (v.data[vo + e] - kv[e]) }
                    for d in 0..<dk {
                        for e in 0..<dv { state[base + d * dv + e] += k.data[kq + d] * kv[e] }
                    }
                    for d in 0..<dk {
                        for e in 0..<dv { out[vo + e] += state[base + d * dv + e] * q.data[kq + d] }
                    }
                }
            }
        }
        return Tensor(shape: [s.batch * t, hv * dv], data: out)
    }

    /// Gradients of the rule (zero initial state) for the output gradient `grad` [N, Hv*Dv]: each chunk's
    /// steps are replayed from its saved start state, then walked back (the state gradient flows across chunks).
    static func backward(
        _ grad: Tensor, q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, shape s: DeltaRuleShape,
        chunkSize: Int, chunkStates: [Float]
    ) -> (q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor) {
        let (dk, dv, hv, hk, t) = (s.keyDim, s.valueDim, s.valueHeads, s.keyHeads, s.seq)
        let chunks = (t + chunkSize - 1) / chunkSize
        var dq = [Float](repeating: 0, count: q.count)
        var dkey = [Float](repeating: 0, count: k.count)
        var dval = [Float](repeating: 0, count: v.count)
        var dg = [Float](repeating: 0, count: g.count)
        var dbeta = [Float](repeating: 0, count: beta.count)
        let (qd, kd, vd, gd, bd, od) = (q.data, k.data, v.data, g.data, beta.data, grad.data)
        dq.withUnsafeMutableBufferPointer { pq in
            dkey.withUnsafeMutableBufferPointer { pk in
                dval.withUnsafeMutableBufferPointer { pv in
                    dg.withUnsafeMutableBufferPointer { pg in
                        dbeta.withUnsafeMutableBufferPointer { pb in
                            let out = UncheckedSendable((pq, pk, pv, pg, pb))
                            // One key head per item: its value heads write the same dq and dk rows.
                            Parallel.forEach(s.batch * hk) { range in
                                var states = [Float](repeating: 0, count: (chunkSize + 1) * dk * dv)
                                var dS = [Float](repeating: 0, count: dk * dv)
                                var kv = [Float](repeating: 0, count: dv)
                                var delta = [Float](repeating: 0, count: dv)
                                var dDelta = [Float](repeating: 0, count: dv)
                                let (pq, pk, pv, pg, pb) = out.value
                                for item in range {
                                    let (b, kh) = (item / hk, item % hk)
                                    for h in (kh * s.group)..<((kh + 1) * s.group) {
                                        for x in dS.indices { dS[x] = 0 }
                                        for c in stride(from: chunks - 1, through: 0, by: -1) {
                                            let t0 = c * chunkSize
                                            let len = min(chunkSize, t - t0)
                                            let start = ((b * hv + h) * chunks + c) * dk * dv
                                            for x in 0..<(dk * dv) { states[x] = chunkStates[start + x] }
                                            func rows(_ i: Int) -> (r: Int, key: Int, value: Int) {
                                                let r = b * t + t0 + i
                                                return (r, r * hk * dk + kh * dk, r * hv * dv + h * dv)
                                            }
                                            // Replay: states[i + 1] is the state after step i.
                                            for i in 0..<len {
                                                let (r, kq, vo) = rows(i)
                                                let decay = Foundation.exp(gd[r * hv + h])
                                                let bt = bd[r * hv + h]
                                                let s0 = i * dk * dv
                                                let s1 = (i + 1) * dk * dv
                                                for e in 0..<dv { kv[e] = 0 }
                                                for d in 0..<dk {
                                                    for e in 0..<dv {
                                                        kv[e] += decay * states[s0 + d * dv + e] * kd[kq + d]
                                                    }
                                                }
                                                for d in 0..<dk {
                                                    for e in 0..<dv {
                                                        states[s1 + d * dv + e] =
                                                            decay * states[s0 + d * dv + e]
                                                            + kd[kq + d] * bt * (vd[vo + e] - kv[e])
                                                    }
                                                }
                                            }
                                            for i in stride(from: len - 1, through: 0, by: -1) {
                                                let (r, kq, vo) = rows(i)
                                                let decay = Foundation.exp(gd[r * hv + h])
                                                let bt = bd[r * hv + h]
                                                let s0 = i * dk * dv
                                                let s1 = (i + 1) * dk * dv
                                                // o = S1ᵀq: dS1 += q doᵀ, dq = S1 do.
                                                for d in 0..<dk {
                                                    var acc: Float = 0
                                                    for e in 0..<dv {
                                                        dS[d * dv + e] += qd[kq + d] * od[vo + e]
                                                        acc += states[s1 + d * dv + e] * od[vo + e]
                                                    }
                                                    pq[kq + d] += acc
                                                }
                                                for e in 0..<dv { kv[e] = 0 }
                                                for d in 0..<dk {
                                                    for e in 0..<dv {
                                                        kv[e] += decay * states[s0 + d * dv + e] * kd[kq + d]
                                                    }
                                                }
                                                for e in 0..<dv { delta[e] = bt * (vd[vo + e] - kv[e]) }
                                                // S1 = A + k δᵀ: dk += dS1 δ, dδ = dS1ᵀ k.
                                                for e in 0..<dv { dDelta[e] = 0 }
                                                for d in 0..<dk {
                                                    var acc: Float = 0
                                                    for e in 0..<dv {
                                                        acc += dS[d * dv + e] * delta[e]
                                                        dDelta[e] += dS[d * dv + e] * kd[kq + d]
                                                    }
                                                    pk[kq + d] += acc
                                                }
                                                // δ = β(v − Aᵀk): dv = β dδ, dβ = dδ·(v − kv), dkv = −β dδ.
                                                var betaGrad: Float = 0
                                                for e in 0..<dv {
                                                    pv[vo + e] += bt * dDelta[e]
                                                    betaGrad += dDelta[e] * (vd[vo + e] - kv[e])
                                                    dDelta[e] *= -bt  // now dkv
                                                }
                                                pb[r * hv + h] += betaGrad
                                                // kv = Aᵀk: dA = dS1 + k dkvᵀ, dk += A dkv; A = e^g S0.
                                                var decayGrad: Float = 0
                                                for d in 0..<dk {
                                                    var acc: Float = 0
                                                    for e in 0..<dv {
                                                        let a = decay * states[s0 + d * dv + e]
                                                        acc += a * dDelta[e]
                                                        let dA = dS[d * dv + e] + kd[kq + d] * dDelta[e]
                                                        decayGrad += dA * a
                                                        dS[d * dv + e] = decay * dA
                                                    }
                                                    pk[kq + d] += acc
                                                }
                                                pg[r * hv + h] += decayGrad
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
        return (
            Tensor(shape: q.shape, data: dq), Tensor(shape: k.shape, data: dkey), Tensor(shape: v.shape, data: dval),
            Tensor(shape: g.shape, data: dg), Tensor(shape: beta.shape, data: dbeta)
        )
    }

    private static func check(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ g: Tensor, _ beta: Tensor, _ s: DeltaRuleShape) {
        let n = s.batch * s.seq
        precondition(q.shape == [n, s.keyHeads * s.keyDim] && k.shape == q.shape, "gatedDeltaRule: q/k \(q.shape)")
        precondition(v.shape == [n, s.valueHeads * s.valueDim], "gatedDeltaRule: v \(v.shape)")
        precondition(g.shape == [n, s.valueHeads] && beta.shape == g.shape, "gatedDeltaRule: g/β \(g.shape)")
    }
}
