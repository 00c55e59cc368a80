import Foundation

/// The architecture of a Mixture-of-Experts checkpoint, decoded from its Hugging Face `config.json`.
///
/// Decoding (`ModelConfig+Decoding.swift`) follows transformers 5.23 family by family: a missing
/// key takes that family's class default, except the shape keys (`vocab_size`, `hidden_size`,
/// `intermediate_size`, `num_hidden_layers`, `num_attention_heads`) which are required: transformers
/// would silently build the reference model's shapes, and a config without them is broken.
public struct ModelConfig: Sendable, Equatable {
    /// `model_type`: one of `ModelFamily`'s raw values for a loadable config.
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    /// Size of the dense MLP (`intermediate_size`): Qwen's dense layers and its `mlp_only_layers`.
    public var intermediateSize: Int
    /// Size of one expert's FFN. Qwen: `moe_intermediate_size`; Mixtral and OLMoE experts use
    /// `intermediate_size` (their modeling code never reads `moe_intermediate_size`).
    public var moeIntermediateSize: Int
    /// Qwen2-MoE's always-on shared expert (`shared_expert_intermediate_size`); 0 = none.
    public var sharedExpertIntermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    /// `head_dim`, else `hidden_size / num_attention_heads` (Qwen3-MoE has 32 × 128 ≠ 2048).
    public var headDim: Int
    /// Experts per sparse layer in the original model (`num_local_experts` / `num_experts`).
    public var numExperts: Int
    /// Top-k (`num_experts_per_tok`).
    public var numExpertsPerToken: Int
    /// Renormalise the top-k probabilities to sum to one. Mixtral always does (its router has no
    /// such key); Qwen and OLMoE do only when `norm_topk_prob` says so (default false).
    public var normTopKProb: Bool
    public var rmsNormEps: Float
    public var ropeTheta: Double
    /// `rope_parameters.rope_type` (or legacy `rope_scaling.type`): "default" for plain RoPE.
    public var ropeType: String
    public var tieWordEmbeddings: Bool
    /// Bias on the q/k/v projections: Qwen2-MoE `qkv_bias` (default true, and always true before
    /// transformers 5), Qwen3-MoE and OLMoE `attention_bias` (default false), Mixtral never.
    public var attentionBias: Bool
    /// Qwen: every `decoder_sparse_step`-th layer is sparse (`(layer + 1) % step == 0`).
    public var decoderSparseStep: Int
    /// Qwen: layers that use the dense MLP whatever `decoderSparseStep` says.
    public var mlpOnlyLayers: [Int]
    public var routerAuxLossCoef: Float
    public var maxPositionEmbeddings: Int
    public var bosTokenId: Int?
    /// The first id when the config lists several.
    public var eosTokenId: Int?
    /// OLMoE `clip_qkv`: clamp q, k, v to ±clip after projection.
    public var clipQKV: Float?
    /// Mixtral `sliding_window`; Qwen `sliding_window` only when `use_sliding_window` is true
    /// (transformers then applies it to some layers only). The families here implement full
    /// attention, so model code should refuse a non-nil value it cannot honour.
    public var slidingWindow: Int?
    /// ExpertLock's own `expertlock_experts_per_layer`, written for non-uniformly pruned
    /// checkpoints: one count per layer (entries of dense layers are ignored); nil = `numExperts`.
    public var expertsPerLayer: [Int]?
    /// `dtype` (transformers 5) or `torch_dtype` (4.x), e.g. "bfloat16".
    public var torchDtype: String?
    public var hiddenAct: String

    /// A config built in code (tests, presets). Parameters left out take generic values, not a
    /// family's transformers defaults; call `validate()` before use.
    public init(
        modelType: String, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
        numAttentionHeads: Int, numKeyValueHeads: Int? = nil, headDim: Int? = nil, moeIntermediateSize: Int? = nil,
        sharedExpertIntermediateSize: Int = 0, numExperts: Int = 8, numExpertsPerToken: Int = 2,
        normTopKProb: Bool? = nil, rmsNormEps: Float = 1e-5, ropeTheta: Double = 10_000, ropeType: String = "default",
        tieWordEmbeddings: Bool = false, attentionBias: Bool = false, decoderSparseStep: Int = 1,
        mlpOnlyLayers: [Int] = [], routerAuxLossCoef: Float = 0.001, maxPositionEmbeddings: Int = 4096,
        bosTokenId: Int? = nil, eosTokenId: Int? = nil, clipQKV: Float? = nil, slidingWindow: Int? = nil,
        expertsPerLayer: [Int]? = nil, torchDtype: String? = nil, hiddenAct: String = "silu"
    ) {
        self.modelType = modelType
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.moeIntermediateSize = moeIntermediateSize ?? intermediateSize
        self.sharedExpertIntermediateSize = sharedExpertIntermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.headDim = headDim ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        self.numExperts = numExperts
        self.numExpertsPerToken = numExpertsPerToken
        self.normTopKProb = normTopKProb ?? (modelType == ModelFamily.mixtral.rawValue)
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeType = ropeType
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.decoderSparseStep = decoderSparseStep
        self.mlpOnlyLayers = mlpOnlyLayers
        self.routerAuxLossCoef = routerAuxLossCoef
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.clipQKV = clipQKV
        self.slidingWindow = slidingWindow
        self.expertsPerLayer = expertsPerLayer
        self.torchDtype = torchDtype
        self.hiddenAct = hiddenAct
    }

    /// The family, or nil for a `modelType` ExpertLock does not implement.
    public var family: ModelFamily? { ModelFamily(rawValue: modelType) }

    /// Whether layer `layer` has a router and experts. Qwen (as `Qwen*MoeDecoderLayer`): not in
    /// `mlpOnlyLayers`, experts exist, and `(layer + 1) % decoderSparseStep == 0`. Mixtral and
    /// OLMoE: every layer.
    public func isSparseLayer(_ layer: Int) -> Bool {
        isSparseLayer(layer, isDense: mlpOnlyLayers.contains)
    }

    private func isSparseLayer(_ layer: Int, isDense: (Int) -> Bool) -> Bool {
        switch family {
        case .qwen2Moe, .qwen3Moe:
            !isDense(layer) && numExperts > 0 && decoderSparseStep > 0 && (layer + 1) % decoderSparseStep == 0
        default:
            true
        }
    }

    /// Indices of the sparse layers. `mlp_only_layers` goes through a set: a list as long as
    /// the model is deep would otherwise make this quadratic.
    public var sparseLayers: [Int] {
        let dense = Set(mlpOnlyLayers)
        return (0..<max(0, numHiddenLayers)).filter { isSparseLayer($0, isDense: dense.contains) }
    }

    /// The most layers `validate()` accepts. Far above any published model (the deepest have a
    /// few hundred), low enough that per-layer arrays derived from the config (`sparseLayers`,
    /// per-layer expert counts) stay small: a config claiming 10^12 layers is refused here
    /// rather than by running out of memory later.
    public static let maxLayers = 100_000

    /// Experts in `layer` now (after pruning): 0 for a dense layer.
    public func expertCount(layer: Int) -> Int {
        guard isSparseLayer(layer) else { return 0 }
        if let expertsPerLayer, expertsPerLayer.indices.contains(layer) { return expertsPerLayer[layer] }
        return numExperts
    }

    /// Bias on the attention output projection: Qwen3-MoE and OLMoE put `attention_bias` on
    /// `o_proj` too; Qwen2-MoE's `qkv_bias` leaves `o_proj` without one.
    public var attentionOutputBias: Bool {
        switch family {
        case .qwen3Moe, .olmoe: attentionBias
        default: false
        }
    }

    /// Throws `ConfigError.invalid` when the values cannot describe a model.
    public func validate() throws { try validate(file: "config") }

    func validate(file: String) throws {
        func check(_ condition: Bool, _ reason: @autoclosure () -> String) throws {
            if !condition { throw ConfigError.invalid(file: file, reason: reason()) }
        }
        guard let family else { throw ConfigError.unknownModelType(file: file, modelType: modelType) }
        for (key, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                             ("expert intermediate size", moeIntermediateSize), ("num_hidden_layers", numHiddenLayers),
                             ("num_attention_heads", numAttentionHeads), ("num_key_value_heads", numKeyValueHeads),
                             ("head_dim", headDim), ("max_position_embeddings", maxPositionEmbeddings),
                             ("decoder_sparse_step", decoderSparseStep)] {
            try check(value > 0, "\(key) must be positive, got \(value)")
        }
        try check(numHiddenLayers <= Self.maxLayers,
                  "num_hidden_layers \(numHiddenLayers) is more than the \(Self.maxLayers) layers any model has")
        try check(numAttentionHeads % numKeyValueHeads == 0,
                  "num_attention_heads \(numAttentionHeads) is not a multiple of num_key_value_heads \(numKeyValueHeads)")
        try check(sharedExpertIntermediateSize >= 0, "shared_expert_intermediate_size must not be negative")
        try check(rmsNormEps > 0 && rmsNormEps.isFinite, "rms_norm_eps must be positive, got \(rmsNormEps)")
        try check(ropeTheta > 0 && ropeTheta.isFinite, "rope_theta must be positive, got \(ropeTheta)")
        try check(numExperts >= (family == .qwen2Moe || family == .qwen3Moe ? 0 : 1),
                  "\(family.expertCountKeys.declared) must be positive, got \(numExperts)")
        try check(family != .mixtral || normTopKProb, "Mixtral always renormalises the top-k weights")
        // OLMoE's q_norm spans hidden_size, so its heads must tile the hidden size exactly.
        // `multipliedReportingOverflow`: both are positive here but may be as large as the file says.
        let (heads, overflow) = headDim.multipliedReportingOverflow(by: numAttentionHeads)
        try check(family != .olmoe || (!overflow && heads == hiddenSize),
                  "OLMoE needs head_dim × num_attention_heads = hidden_size, got \(headDim) × \(numAttentionHeads)")
        for layer in mlpOnlyLayers {
            try check((0..<numHiddenLayers).contains(layer), "mlp_only_layers names layer \(layer) of \(numHiddenLayers)")
        }
        if let expertsPerLayer {
            try check(expertsPerLayer.count == numHiddenLayers,
                      "expertlock_experts_per_layer has \(expertsPerLayer.count) entries for \(numHiddenLayers) layers")
        }
        // Not `expertCount(layer:)`, which re-checks sparsity through `mlp_only_layers` per layer.
        for layer in sparseLayers {
            let experts = expertsPerLayer?[layer] ?? numExperts  // the count was checked above
            try check(numExpertsPerToken >= 1 && numExpertsPerToken <= experts,
                      "num_experts_per_tok \(numExpertsPerToken) does not fit the \(experts) experts of layer \(layer)")
        }
    }
}
