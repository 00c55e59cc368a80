import TensorCore

/// Gated DeltaNet linear attention (transformers' `Qwen3NextGatedDeltaNet` / `Qwen3_5MoeGatedDeltaNet`), the
/// token mixer of a decoder layer whose `layer_types` entry is "linear_attention":
///
///     q, k, v, z, b, a = input projections(x)
///     q, k, v = split(silu(causal depthwise conv(q ‖ k ‖ v)))
///     q = l2norm(q)/√Dk, k = l2norm(k), β = sigmoid(b), g = −exp(A_log)·softplus(a + dt_bias)
///     o = gated delta rule(q, k, v, g, β)          (chunked; recurrent when decoding one token)
///     out = out_proj(RMSNorm_per_head(o) · silu(z))
///
/// Shapes: x [N, C] -> q, k [N, Hk*Dk], v, z [N, Hv*Dv], b, a, g, β [N, Hv] -> [N, C]. With a cache the layer
/// keeps a `RecurrentState` (the convolution's last inputs and the delta rule's state) instead of keys.
public final class GatedDeltaNet: SequenceMixer {
    public let shape: LinearAttentionConfig
    /// qwen3_next: [in_proj_qkvz, in_proj_ba]; qwen3_5: [in_proj_qkv, in_proj_z, in_proj_b, in_proj_a].
    public let inputProjections: [Parameter]
    /// Depthwise convolution [channels, 1, K] (no bias).
    public let conv: Parameter
    public let dtBias: Parameter, aLog: Parameter
    /// The gated RMSNorm's weight [Dv] (a plain weight, not zero-centred).
    public let norm: Parameter
    public let outProj: Parameter
    let eps: Float
    /// For the grouped layout: the columns of in_proj_qkvz holding q ‖ k ‖ v and z, and of in_proj_ba
    /// holding b and a, in the head order the rest of the layer uses.
    private let columns: (qkv: [Int], z: [Int], b: [Int], a: [Int])?

    init(config: ModelConfig, shape s: LinearAttentionConfig, parameters p: ParameterFactory, prefix: String) throws {
        shape = s
        eps = config.rmsNormEps
        let c = config.hiddenSize
        let (kd, vd) = (s.keyHeads * s.keyHeadDim, s.valueHeads * s.valueHeadDim)
        switch s.projections {
        case .groupedPerKeyHead:
            inputProjections = [
                try p("\(prefix).in_proj_qkvz.weight", [2 * kd + 2 * vd, c]),
                try p("\(prefix).in_proj_ba.weight", [2 * s.valueHeads, c]),
            ]
            columns = Self.groupedColumns(s)
        case .separate:
            inputProjections = [
                try p("\(prefix).in_proj_qkv.weight", [2 * kd + vd, c]), try p("\(prefix).in_proj_z.weight", [vd, c]),
                try p("\(prefix).in_proj_b.weight", [s.valueHeads, c]),
                try p("\(prefix).in_proj_a.weight", [s.valueHeads, c]),
            ]
            columns = nil
        }
        conv = try p("\(prefix).conv1d.weight", [s.convChannels, 1, s.convKernel])
        dtBias = try p("\(prefix).dt_bias", [s.valueHeads])
        aLog = try p("\(prefix).A_log", [s.valueHeads])
        norm = try p("\(prefix).norm.weight", [s.valueHeadDim])
        outProj = try p("\(prefix).out_proj.weight", [c, vd])
    }

    /// Trap (Qwen3-Next `fix_query_key_value_ordering`): in_proj_qkvz is grouped per key head as [q (Dk), k (Dk),
    /// v (r·Dv), z (r·Dv)] with r = Hv/Hk value heads per key head, and in_proj_ba as [b (r), a (r)].
    static func groupedColumns(_ s: LinearAttentionConfig) -> (qkv: [Int], z: [Int], b: [Int], a: [Int]) {
        let r = s.valueHeads / s.keyHeads
        let (dk, dv) = (s.keyHeadDim, s.valueHeadDim)
        let group = 2 * dk + 2 * r * dv
        var q: [Int] = []
        var k: [Int] = []
        var v: [Int] = []
        var z: [Int] = []
        var b: [Int] = []
        var a: [Int] = []
        for g in 0..<s.keyHeads {
            q += (0..<dk).map { g * group + $0 }
            k += (0..<dk).map { g * group + dk + $0 }
            v += (0..<(r * dv)).map { g * group + 2 * dk + $0 }
            z += (0..<(r * dv)).map { g * group + 2 * dk + r * dv + $0 }
            b += (0..<r).map { g * 2 * r + $0 }
            a += (0..<r).map { g * 2 * r + r + $0 }
        }
        return (q + k + v, z, b, a)
    }

    public var parameters: [Parameter] { inputProjections + [conv, dtBias, aLog, norm, outProj] }
    public var projections: [Parameter] { inputProjections + [outProj] }
    public var cacheWidth: Int { 0 }

    public func forward(_ x: Variable, batch: TokenBatch, cache: KVCache? = nil, layer: Int = 0) throws -> Variable {
        let s = shape
        let n = batch.tokenCount
        let (kd, vd) = (s.keyHeads * s.keyHeadDim, s.valueHeads * s.valueHeadDim)
        let mixed: Variable
        let z: Variable
        let b: Variable
        let a: Variable
        if let columns {
            let qkvz = try inputProjections[0].project(x)  // [N, C] -> [N, 2Hk·Dk + 2Hv·Dv]
            let ba = try inputProjections[1].project(x)  // [N, C] -> [N, 2Hv]
            (mixed, z) = (gatherColumns(qkvz, columns.qkv), gatherColumns(qkvz, columns.z))
            (b, a) = (gatherColumns(ba, columns.b), gatherColumns(ba, columns.a))
        } else {
            mixed = try inputProjections[0].project(x)  // [N, C] -> [N, 2Hk·Dk + Hv·Dv]
            z = try inputProjections[1].project(x)  // [N, C] -> [N, Hv·Dv]
            b = try inputProjections[2].project(x)  // [N, C] -> [N, Hv]
            a = try inputProjections[3].project(x)  // [N, C] -> [N, Hv]
        }
        let weight = reshape(try conv.variable(), [s.convChannels, s.convKernel])
        var state = cache.map { cache in
            cache.recurrentStates[layer]
                ?? RecurrentState(
                    convolution: [Float](repeating: 0, count: (s.convKernel - 1) * s.convChannels),
                    delta: [Float](repeating: 0, count: s.valueHeads * s.keyHeadDim * s.valueHeadDim))
        }
        let convolved: Variable
        if state != nil {
            convolved = Variable(CausalConv.continuing(mixed.value, weight: weight.value, history: &state!.convolution))
        } else {
            convolved = causalDepthwiseConv(mixed, weight: weight, batch: batch.batch, seq: batch.seq)
        }
        let activated = silu(convolved)
        // l2norm(x) = x/√(Σx² + 1e-6) is RMSNorm with eps 1e-6/D and weight 1/√D; q is also scaled by 1/√Dk.
        func l2Normalized(_ t: Variable, scale: Float) -> Variable {
            let dk = s.keyHeadDim
            let w = Variable(Tensor(shape: [dk], repeating: scale / Float(dk).squareRoot()))
            return reshape(rmsNorm(reshape(t, [n * s.keyHeads, dk]), weight: w, eps: 1e-6 / Float(dk)), [n, kd])
        }
        let q = l2Normalized(sliceColumns(activated, 0..<kd), scale: 1 / Float(s.keyHeadDim).squareRoot())
        let k = l2Normalized(sliceColumns(activated, kd..<(2 * kd)), scale: 1)
        let v = sliceColumns(activated, (2 * kd)..<(2 * kd + vd))
        let beta = sigmoid(b)
        let g = gatedDecay(a, dtBias: try dtBias.variable(), aLog: try aLog.variable())
        let rule = DeltaRuleShape(
            batch: batch.batch, seq: batch.seq, keyHeads: s.keyHeads, valueHeads: s.valueHeads, keyDim: s.keyHeadDim,
            valueDim: s.valueHeadDim)
        let core: Variable
        if let cache, var current = state {
            // As transformers: one token after a filled state takes the recurrent form, anything else the chunked.
            if batch.seq == 1 && cache.recurrentStates[layer] != nil {
                core = Variable(
                    GatedDeltaRule.recurrent(
                        q: q.value, k: k.value, v: v.value, g: g.value, beta: beta.value, shape: rule,
                        state: &current.delta))
            } else {
                let run = GatedDeltaRule.chunked(
                    q: q.value, k: k.value, v: v.value, g: g.value, beta: beta.value, shape: rule,
                    chunkSize: s.chunkSize, initialState: current.delta)
                core = Variable(run.output)
                current.delta = run.state
            }
            cache.pendingStates[layer] = current
        } else {
            core = gatedDeltaRule(q: q, k: k, v: v, g: g, beta: beta, shape: rule, chunkSize: s.chunkSize)
        }
        // The gated RMSNorm: each head's output normalised (weight [Dv]), then scaled by silu(z).
        let normed = rmsNorm(reshape(core, [n * s.valueHeads, s.valueHeadDim]), weight: try norm.variable(), eps: eps)
        let gated = mul(reshape(normed, [n, vd]), silu(z))
        return try outProj.project(gated)  // [N, Hv·Dv] -> [N, C]
    }
}
