import TensorCore

/// Creates a model's parameter from its Hugging Face name and expected shape: from a checkpoint
/// (checking the shape), or freshly initialised.
public typealias ParameterFactory = (_ name: String, _ shape: [Int]) throws -> Parameter

/// The feed-forward part of a decoder layer: sparse (MoE) or, for Qwen's `mlp_only_layers`, dense.
public enum FeedForward {
    case sparse(SparseMoEBlock)
    case dense(Expert)
}

/// One pre-norm decoder layer: h = x + attn(norm(x)); out = h + ffn(norm(h)).
public final class DecoderLayer {
    public let index: Int
    public let inputNorm: Parameter
    public let attention: Attention
    public let postAttentionNorm: Parameter
    public let feedForward: FeedForward
    let eps: Float

    init(index: Int, config: ModelConfig, family: ModelFamily, parameters p: ParameterFactory) throws {
        self.index = index
        let prefix = "model.layers.\(index)"
        let c = config.hiddenSize
        eps = config.rmsNormEps
        inputNorm = try p("\(prefix).input_layernorm.weight", [c])
        attention = try Attention(config: config, family: family, parameters: p, prefix: "\(prefix).self_attn")
        postAttentionNorm = try p("\(prefix).post_attention_layernorm.weight", [c])
        if config.isSparseLayer(index) {
            let block = "\(prefix).\(family.sparseBlockName)"
            let e = config.expertCount(layer: index)
            let i = config.moeIntermediateSize
            let names = family.expertProjectionNames
            let router = try p("\(block).gate.weight", [e, c])
            let experts = try (0..<e).map { x in
                Expert(
                    gate: try p("\(block).experts.\(x).\(names.gate).weight", [i, c]),
                    up: try p("\(block).experts.\(x).\(names.up).weight", [i, c]),
                    down: try p("\(block).experts.\(x).\(names.down).weight", [c, i]))
            }
            var shared: Expert?
            var sharedGate: Parameter?
            if family.hasSharedExpert && config.sharedExpertIntermediateSize > 0 {
                let s = config.sharedExpertIntermediateSize
                shared = Expert(
                    gate: try p("\(block).shared_expert.gate_proj.weight", [s, c]),
                    up: try p("\(block).shared_expert.up_proj.weight", [s, c]),
                    down: try p("\(block).shared_expert.down_proj.weight", [c, s]))
                sharedGate = try p("\(block).shared_expert_gate.weight", [1, c])
            }
            feedForward = .sparse(SparseMoEBlock(
                layer: index, router: router, experts: experts, sharedExpert: shared, sharedExpertGate: sharedGate,
                topK: min(config.numExpertsPerToken, e), normalizeTopK: config.normTopKProb))
        } else {
            let i = config.intermediateSize
            feedForward = .dense(Expert(
                gate: try p("\(prefix).mlp.gate_proj.weight", [i, c]),
                up: try p("\(prefix).mlp.up_proj.weight", [i, c]),
                down: try p("\(prefix).mlp.down_proj.weight", [c, i])))
        }
    }

    /// The sparse block, when this layer has one.
    public var moe: SparseMoEBlock? {
        if case .sparse(let block) = feedForward { return block }
        return nil
    }

    var parameters: [Parameter] {
        var all = [inputNorm] + attention.parameters + [postAttentionNorm]
        switch feedForward {
        case .sparse(let block): all += block.parameters
        case .dense(let mlp): all += mlp.parameters
        }
        return all
    }

    /// x [N, C] -> ([N, C], the sparse block's router logits [N, E] when sparse).
    /// `cache`: keys and values of earlier positions (inference), extended by this pass.
    /// Takes `x` as its own (`consuming`): a caller that hands it over with `consume` (the scoring
    /// pass) lets the input and the attention output go before the experts run, two [N, C]
    /// matrices fewer at the peak of inference; in training the graph keeps them anyway.
    func forward(_ x: consuming Variable, batch: TokenBatch, cache: KVCache? = nil, observer: RoutingObserver?) throws
        -> (Variable, SparseMoEBlock.Output?)
    {
        let h: Variable
        do {
            let attended = try attention.forward(
                rmsNorm(x, weight: try inputNorm.variable(), eps: eps), batch: batch, cache: cache, layer: index)
            h = add(x, attended)
        }
        _ = consume x
        let normed = rmsNorm(h, weight: try postAttentionNorm.variable(), eps: eps)
        switch feedForward {
        case .sparse(let block):
            let routed = try block.forward(normed, batch: batch, observer: observer)
            return (add(h, routed.output), routed)
        case .dense(let mlp):
            return (add(h, try mlp.forward(normed)), nil)
        }
    }
}
