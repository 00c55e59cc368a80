import TensorCore

/// The token-mixing half of a decoder layer (attention, or a linear-attention or recurrent layer):
/// what `DecoderLayer` needs of it.
public protocol SequenceMixer: AnyObject {
    /// Every weight, in checkpoint order.
    var parameters: [Parameter] { get }
    /// The weights LoRA may adapt (`LoRATarget.attention`).
    var projections: [Parameter] { get }
    /// Floats per token one layer of a KV cache holds (keys, and as many for values).
    var cacheWidth: Int { get }
    /// x [N, C] -> [N, C]. With `cache` (one sequence, no padding) the new tokens sit at positions
    /// `cache.length…`, their keys and values are appended to layer `layer` and attend over all it holds.
    func forward(_ x: Variable, batch: TokenBatch, cache: KVCache?, layer: Int) throws -> Variable
}

/// Causal self-attention with grouped KV heads, RoPE (full or partial, any scaling; none on a NoPE layer),
/// the families' optional q/k norms, a sliding-window or chunked span and gpt-oss's sinks.
/// Shapes: x [N, C] -> q [N, H*D], k and v [N, Hkv*D] -> [N, C].
public final class Attention: SequenceMixer {
    public let qProj: Parameter, kProj: Parameter, vProj: Parameter, oProj: Parameter
    public let qBias: Parameter?, kBias: Parameter?, vBias: Parameter?, oBias: Parameter?
    public let qNorm: Parameter?, kNorm: Parameter?
    let qkNorm: QKNorm
    let heads: Int, kvHeads: Int, headDim: Int
    /// nil on a NoPE layer (Llama-4 `no_rope_layers`).
    let rotary: RotaryEmbedding?
    let eps: Float
    let clipQKV: Float?
    /// q/k norm weights stored zero-centred (`ModelConfig.zeroCenteredNorms`).
    let zeroCenteredNorms: Bool
    /// Columns of the gated q_proj's output holding the queries and the output gate's logits (nil: ungated).
    let outputGate: (queries: [Int], gate: [Int])?
    /// The keys each query sees (sliding window, chunk, or all earlier ones).
    public let span: AttentionSpan
    /// gpt-oss's learned sink logit per head [H] (nil: none).
    public let sinks: Parameter?
    /// Llama-4's query temperature, on NoPE layers only.
    let queryTemperature: QueryTemperature?

    init(config: ModelConfig, layer: Int, parameters p: ParameterFactory, prefix: String) throws {
        let c = config.hiddenSize, h = config.numAttentionHeads, kv = config.numKeyValueHeads, d = config.headDim
        heads = h; kvHeads = kv; headDim = d
        let rotates = config.rotates(layer: layer)
        rotary = rotates ? config.rotaryEmbedding : nil
        queryTemperature = rotates ? nil : config.queryTemperature
        span = config.attentionSpan(layer: layer)
        eps = config.rmsNormEps
        clipQKV = config.clipQKV
        // Trap: Llama-4 builds its L2 q/k norm on rotating layers only.
        qkNorm = config.qkNorm == .l2AfterRotary && !rotates ? .none : config.qkNorm
        zeroCenteredNorms = config.zeroCenteredNorms
        // Trap (Qwen3-Next): a gated q_proj holds, head by head, D query rows then D gate rows.
        outputGate =
            config.attentionOutputGate
            ? ((0..<(h * d)).map { ($0 / d) * 2 * d + $0 % d }, (0..<(h * d)).map { ($0 / d) * 2 * d + d + $0 % d })
            : nil
        let q = outputGate == nil ? h * d : 2 * h * d
        qProj = try p("\(prefix).q_proj.weight", [q, c])
        kProj = try p("\(prefix).k_proj.weight", [kv * d, c])
        vProj = try p("\(prefix).v_proj.weight", [kv * d, c])
        oProj = try p("\(prefix).o_proj.weight", [c, h * d])
        let qkvBias = config.attentionBias
        qBias = qkvBias ? try p("\(prefix).q_proj.bias", [q]) : nil
        kBias = qkvBias ? try p("\(prefix).k_proj.bias", [kv * d]) : nil
        vBias = qkvBias ? try p("\(prefix).v_proj.bias", [kv * d]) : nil
        oBias = config.attentionOutputBias ? try p("\(prefix).o_proj.bias", [c]) : nil
        switch qkNorm {
        case .none, .l2AfterRotary:
            qNorm = nil; kNorm = nil
        case .perHead:
            qNorm = try p("\(prefix).q_norm.weight", [d])
            kNorm = try p("\(prefix).k_norm.weight", [d])
        case .fullProjection:
            // OLMoE sizes them hidden and (hidden / heads) × kv_heads, which are H*D and Hkv*D as its
            // validation requires D = C/H; MiniMax-M2's head_dim is its own.
            qNorm = try p("\(prefix).q_norm.weight", [h * d])
            kNorm = try p("\(prefix).k_norm.weight", [kv * d])
        }
        sinks = config.attentionSinks ? try p("\(prefix).sinks", [h]) : nil
    }

    public var parameters: [Parameter] {
        [qProj, qBias, kProj, kBias, vProj, vBias, oProj, oBias, qNorm, kNorm, sinks].compactMap { $0 }
    }

    public var projections: [Parameter] { [qProj, kProj, vProj, oProj] }
    public var cacheWidth: Int { kvHeads * headDim }

    public func forward(_ x: Variable, batch: TokenBatch, cache: KVCache? = nil, layer: Int = 0) throws -> Variable {
        var q = try qProj.project(x, bias: qBias)  // [N, C] -> [N, H*D] (gated: [N, H*2D])
        var gate: Variable?
        if let outputGate {
            gate = gatherColumns(q, outputGate.gate)  // [N, H*2D] -> [N, H*D]
            q = gatherColumns(q, outputGate.queries)  // [N, H*2D] -> [N, H*D]
        }
        var k = try kProj.project(x, bias: kBias)  // [N, C] -> [N, Hkv*D]
        var v = try vProj.project(x, bias: vBias)  // [N, C] -> [N, Hkv*D]
        let n = batch.tokenCount
        switch qkNorm {
        case .none, .l2AfterRotary:
            break
        case .perHead:
            // Trap: Qwen3 normalises each head separately (weight [D]), before RoPE.
            let qWeight = try qNorm!.normWeight(zeroCentered: zeroCenteredNorms)
            let kWeight = try kNorm!.normWeight(zeroCentered: zeroCenteredNorms)
            q = reshape(rmsNorm(reshape(q, [n * heads, headDim]), weight: qWeight, eps: eps), [n, heads * headDim])
            k = reshape(
                rmsNorm(reshape(k, [n * kvHeads, headDim]), weight: kWeight, eps: eps), [n, kvHeads * headDim])
        case .fullProjection:
            // Trap: OLMoE normalises the whole projection (weight [H*D]), before the head split.
            q = rmsNorm(q, weight: try qNorm!.variable(), eps: eps)
            k = rmsNorm(k, weight: try kNorm!.variable(), eps: eps)
        }
        if let clipQKV {
            q = clamp(q, limit: clipQKV); k = clamp(k, limit: clipQKV); v = clamp(v, limit: clipQKV)
        }
        let positions = cache?.positions(count: n) ?? batch.positions
        if let rotary {
            q = rotary.apply(q, heads: heads, headDim: headDim, positions: positions)
            k = rotary.apply(k, heads: kvHeads, headDim: headDim, positions: positions)
            if qkNorm == .l2AfterRotary {
                // Trap: Llama-4 normalises after RoPE, each head, without a weight (`Llama4TextL2Norm`).
                let ones = Variable(Tensor(shape: [headDim], repeating: 1))
                q = reshape(rmsNorm(reshape(q, [n * heads, headDim]), weight: ones, eps: eps), [n, heads * headDim])
                k = reshape(
                    rmsNorm(reshape(k, [n * kvHeads, headDim]), weight: ones, eps: eps), [n, kvHeads * headDim])
            }
        } else if let queryTemperature {
            q = scaleRows(q, Variable(Tensor(shape: [n], data: positions.map(queryTemperature.factor))))
        }
        var attended: Variable
        if let cache {
            // Inference path: no graph; queries attend over the cached keys and the new block.
            cache.append(layer: layer, keys: k.value, values: v.value)
            attended = Variable(
                cache.attend(
                    layer: layer, queries: q.value, heads: heads, kvHeads: kvHeads, headDim: headDim, span: span,
                    sinks: try sinks?.tensor().data))
        } else {
            attended = causalAttention(
                q: q, k: k, v: v, batch: batch.batch, seq: batch.seq, heads: heads, kvHeads: kvHeads,
                headDim: headDim, validLengths: batch.lengths, span: span, sinks: try sinks?.variable())  // -> [N, H*D]
        }
        if let gate { attended = mul(attended, sigmoid(gate)) }
        return try oProj.project(attended, bias: oBias)  // [N, H*D] -> [N, C]
    }
}
