import TensorCore

/// Creates a model's parameter from its Hugging Face name and expected shape: from a checkpoint
/// (checking the shape), or freshly initialised.
public typealias ParameterFactory = (_ name: String, _ shape: [Int]) throws -> Parameter

/// The feed-forward part of a decoder layer: sparse (MoE) or, for Qwen's `mlp_only_layers`, dense.
public enum FeedForward {
    case sparse(SparseMoEBlock)
    case dense(Expert)
}

/// One pre-norm decoder layer: h = x + attn(norm(x)); out = h + ffn(norm(h)). The skeleton every
/// family shares; the family's `FamilyLayout` names the parts and its config picks the components
/// (grouped or latent attention, the router kind, shared experts, dense layers).
public final class DecoderLayer {
    public let index: Int
    public let inputNorm: Parameter
    /// The token mixer: grouped-query or latent attention today; any `SequenceMixer` (a linear-attention
    /// or recurrent layer) fits the same slot.
    public let mixer: any SequenceMixer
    public let postAttentionNorm: Parameter
    public let feedForward: FeedForward
    let eps: Float
    /// The layer norms' weights are stored zero-centred (`ModelConfig.zeroCenteredNorms`).
    let zeroCenteredNorms: Bool

    /// The grouped-query attention of this layer (every family but the latent-attention ones).
    public var attention: Attention {
        guard let attention = mixer as? Attention else {
            preconditionFailure("layer \(index) has another token mixer; use mixer")
        }
        return attention
    }

    init(index: Int, config: ModelConfig, family: ModelFamily, parameters p: ParameterFactory) throws {
        self.index = index
        let prefix = TensorName.layerPrefix(index)
        let c = config.hiddenSize
        let layout = family.definition.layout
        eps = config.rmsNormEps
        zeroCenteredNorms = config.zeroCenteredNorms
        inputNorm = try p("\(prefix).input_layernorm.weight", [c])
        if let linear = config.linearAttention, linear.isLinear(index) {
            mixer = try GatedDeltaNet(config: config, shape: linear, parameters: p, prefix: "\(prefix).linear_attn")
        } else if let latent = config.latentAttention {
            mixer = try LatentAttention(
                config: config, shape: latent, parameters: p, prefix: "\(prefix).self_attn")
        } else {
            mixer = try Attention(config: config, layer: index, parameters: p, prefix: "\(prefix).self_attn")
        }
        postAttentionNorm = try p("\(prefix).post_attention_layernorm.weight", [c])
        if config.isSparseLayer(index) {
            let block = "\(prefix).\(layout.sparseBlock)"
            let e = config.expertCount(layer: index)
            let names = layout.expertProjections
            let router = try p("\(block).\(layout.router).weight", [e, c])
            let routerBias = layout.routerBias ? try p("\(block).\(layout.router).bias", [e]) : nil
            let expertBiases = layout.fusedExperts?.biases ?? false
            let bias = try layout.routerSelectionBias.map {
                try p("\(block).\($0)", layout.routerSelectionBiasIsRow ? [1, e] : [e])
            }
            let experts = try (0..<e).map { x in
                func name(_ projection: String, _ suffix: String = "weight") -> String {
                    TensorName.expert(
                        layer: index, block: layout.sparseBlock, expert: x, projection: projection, suffix: suffix
                    ).text
                }
                let i = config.expertIntermediateSize(layer: index, expert: x)  // inner pruning may vary it
                let biases =
                    expertBiases
                    ? (
                        try p(name(names.gate, "bias"), [i]), try p(name(names.up, "bias"), [i]),
                        try p(name(names.down, "bias"), [c])
                    ) : nil
                return Expert(
                    gate: try p(name(names.gate), [i, c]), up: try p(name(names.up), [i, c]),
                    down: try p(name(names.down), [c, i]), biases: biases, activation: config.expertActivation)
            }
            var shared: Expert?
            var sharedGate: Parameter?
            if let name = layout.sharedExpert, config.sharedExpertIntermediateSize > 0 {
                let s = config.sharedExpertIntermediateSize
                shared = Expert(
                    gate: try p("\(block).\(name).gate_proj.weight", [s, c]),
                    up: try p("\(block).\(name).up_proj.weight", [s, c]),
                    down: try p("\(block).\(name).down_proj.weight", [c, s]))
                sharedGate = try layout.sharedExpertGate.map { try p("\(block).\($0).weight", [1, c]) }
            }
            feedForward = .sparse(
                SparseMoEBlock(
                    layer: index, router: router, experts: experts, sharedExpert: shared, sharedExpertGate: sharedGate,
                    topK: min(config.numExpertsPerToken, e), normalizeTopK: config.normTopKProb,
                    biasedRouter: config.router, selectionBias: bias, routerBias: routerBias,
                    scalesExpertInput: config.routingScalesExpertInput))
        } else {
            let i = config.intermediateSize
            feedForward = .dense(
                Expert(
                    gate: try p("\(prefix).\(layout.denseBlock).gate_proj.weight", [i, c]),
                    up: try p("\(prefix).\(layout.denseBlock).up_proj.weight", [i, c]),
                    down: try p("\(prefix).\(layout.denseBlock).down_proj.weight", [c, i])))
        }
    }

    /// The sparse block, when this layer has one.
    public var moe: SparseMoEBlock? {
        if case .sparse(let block) = feedForward { return block }
        return nil
    }

    var parameters: [Parameter] {
        var all = [inputNorm] + mixer.parameters + [postAttentionNorm]
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
    /// `allowed` and `recordExpertOutputs` go to the sparse block (`SparseMoEBlock.forward`).
    func forward(
        _ x: consuming Variable, batch: TokenBatch, cache: KVCache? = nil, observer: RoutingObserver?,
        allowed: [Bool]? = nil, recordExpertOutputs: Bool = false
    ) throws -> (Variable, SparseMoEBlock.Output?) {
        let h: Variable
        do {
            let attended = try mixer.forward(
                rmsNorm(x, weight: try inputNorm.normWeight(zeroCentered: zeroCenteredNorms), eps: eps), batch: batch,
                cache: cache, layer: index)
            h = add(x, attended)
        }
        _ = consume x
        let normed = rmsNorm(h, weight: try postAttentionNorm.normWeight(zeroCentered: zeroCenteredNorms), eps: eps)
        switch feedForward {
        case .sparse(let block):
            let routed = try block.forward(
                normed, batch: batch, observer: observer, allowed: allowed, recordExpertOutputs: recordExpertOutputs)
            return (add(h, routed.output), routed)
        case .dense(let mlp):
            return (add(h, try mlp.forward(normed)), nil)
        }
    }
}
