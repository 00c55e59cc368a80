import TensorCore

// Port of transformers' DeepseekV3Attention / DeepseekV2Attention (5.25), multi-head latent attention.
// Traps: the rotary key is one head shared by all heads (`kv_a_proj_with_mqa`'s last qk_rope_head_dim
// columns); the value head (v_head_dim) may differ from the query/key head (nope + rope), so both are
// zero-padded to one width for the attention kernel (zeros change no score and no kept output column);
// the softmax scale is qk_head_dim^-0.5 times YaRN's mscale(factor, mscale_all_dim)².

/// Multi-head latent attention. Shapes: x [N, C] -> q [N, H*(P+R)], latent [N, L+R] -> k, v -> [N, C]
/// with P = qk_nope_head_dim, R = qk_rope_head_dim, L = kv_lora_rank, V = v_head_dim.
public final class LatentAttention: SequenceMixer {
    /// `q_proj` [H*(P+R), C] without q LoRA; else `q_a_proj` [Q, C], `q_a_layernorm` [Q], `q_b_proj` [H*(P+R), Q].
    public let qProj: Parameter?
    public let qAProj: Parameter?, qABias: Parameter?, qANorm: Parameter?, qBProj: Parameter?
    /// `kv_a_proj_with_mqa` [L+R, C], `kv_a_layernorm` [L], `kv_b_proj` [H*(P+V), L].
    public let kvAProj: Parameter, kvABias: Parameter?, kvANorm: Parameter, kvBProj: Parameter
    public let oProj: Parameter, oBias: Parameter?
    let shape: LatentAttentionConfig
    let heads: Int
    let rotary: RotaryEmbedding
    let eps: Float
    let scale: Float

    init(config: ModelConfig, shape: LatentAttentionConfig, parameters p: ParameterFactory, prefix: String) throws {
        let c = config.hiddenSize, h = config.numAttentionHeads
        self.shape = shape
        heads = h
        rotary = config.rotaryEmbedding
        eps = config.rmsNormEps
        let bias = config.attentionBias
        let qk = shape.qkHeadDim
        if let rank = shape.qLoraRank {
            qProj = nil
            qAProj = try p("\(prefix).q_a_proj.weight", [rank, c])
            qABias = bias ? try p("\(prefix).q_a_proj.bias", [rank]) : nil
            qANorm = try p("\(prefix).q_a_layernorm.weight", [rank])
            qBProj = try p("\(prefix).q_b_proj.weight", [h * qk, rank])
        } else {
            qProj = try p("\(prefix).q_proj.weight", [h * qk, c])
            qAProj = nil; qABias = nil; qANorm = nil; qBProj = nil
        }
        let l = shape.kvLoraRank
        kvAProj = try p("\(prefix).kv_a_proj_with_mqa.weight", [l + shape.qkRopeHeadDim, c])
        kvABias = bias ? try p("\(prefix).kv_a_proj_with_mqa.bias", [l + shape.qkRopeHeadDim]) : nil
        kvANorm = try p("\(prefix).kv_a_layernorm.weight", [l])
        kvBProj = try p("\(prefix).kv_b_proj.weight", [h * (shape.qkNopeHeadDim + shape.vHeadDim), l])
        oProj = try p("\(prefix).o_proj.weight", [c, h * shape.vHeadDim])
        oBias = bias ? try p("\(prefix).o_proj.bias", [c]) : nil
        scale = Float((1 / Double(qk).squareRoot()) * config.rotaryScaling.softmaxScaleFactor)
    }

    public var parameters: [Parameter] {
        [qProj, qAProj, qABias, qANorm, qBProj, kvAProj, kvABias, kvANorm, kvBProj, oProj, oBias].compactMap { $0 }
    }

    public var projections: [Parameter] { [qProj, qAProj, qBProj, kvAProj, kvBProj, oProj].compactMap { $0 } }

    /// The padded head width both keys and values take in the attention kernel and the cache.
    var paddedHeadDim: Int { max(shape.qkHeadDim, shape.vHeadDim) }
    public var cacheWidth: Int { heads * paddedHeadDim }

    public func forward(_ x: Variable, batch: TokenBatch, cache: KVCache? = nil, layer: Int = 0) throws -> Variable {
        let n = batch.tokenCount
        let (h, nope, r, v, l) = (heads, shape.qkNopeHeadDim, shape.qkRopeHeadDim, shape.vHeadDim, shape.kvLoraRank)
        let d = paddedHeadDim
        let positions = cache?.positions(count: n) ?? batch.positions
        var q: Variable
        if let qProj {
            q = try qProj.project(x)  // [N, C] -> [N, H*(P+R)]
        } else {
            let qa = try qAProj!.project(x, bias: qABias)  // [N, C] -> [N, Q]
            q = try qBProj!.project(rmsNorm(qa, weight: try qANorm!.variable(), eps: eps))  // -> [N, H*(P+R)]
        }
        q = reshape(q, [n * h, nope + r])  // [N, H*(P+R)] -> [N*H, P+R]
        var qRot = reshape(sliceColumns(q, nope..<(nope + r)), [n, h * r])  // -> [N, H*R]
        qRot = reshape(rotary.apply(qRot, heads: h, headDim: r, positions: positions), [n * h, r])
        q = concatColumns([sliceColumns(q, 0..<nope), qRot])  // [N*H, P+R]

        let compressed = try kvAProj.project(x, bias: kvABias)  // [N, C] -> [N, L+R]
        let latent = rmsNorm(sliceColumns(compressed, 0..<l), weight: try kvANorm.variable(), eps: eps)  // [N, L]
        let kRot = rotary.apply(sliceColumns(compressed, l..<(l + r)), heads: 1, headDim: r, positions: positions)
        let kv = reshape(try kvBProj.project(latent), [n * h, nope + v])  // [N, L] -> [N*H, P+V]
        let sharedKey = gatherRows(kRot, (0..<(n * h)).map { $0 / h })  // [N, R] -> [N*H, R]
        var k = concatColumns([sliceColumns(kv, 0..<nope), sharedKey])  // [N*H, P+R]
        var value = sliceColumns(kv, nope..<(nope + v))  // [N*H, V]
        q = reshape(padColumns(q, count: d - (nope + r)), [n, h * d])  // -> [N, H*D]
        k = reshape(padColumns(k, count: d - (nope + r)), [n, h * d])
        value = reshape(padColumns(value, count: d - v), [n, h * d])

        let attended: Variable
        if let cache {
            cache.append(layer: layer, keys: k.value, values: value.value)
            attended = Variable(
                cache.attend(layer: layer, queries: q.value, heads: h, kvHeads: h, headDim: d, scale: scale))
        } else {
            attended = causalAttention(
                q: q, k: k, v: value, batch: batch.batch, seq: batch.seq, heads: h, kvHeads: h, headDim: d,
                scale: scale, validLengths: batch.lengths)  // -> [N, H*D]
        }
        let out = reshape(sliceColumns(reshape(attended, [n * h, d]), 0..<v), [n, h * v])  // -> [N, H*V]
        return try oProj.project(out, bias: oBias)  // [N, H*V] -> [N, C]
    }
}
