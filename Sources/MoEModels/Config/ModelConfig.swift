import Foundation
import TensorCore

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
    /// ExpertLock's own `expertlock_expert_intermediate_sizes`, written for checkpoints whose experts were
    /// inner-pruned to different sizes: per layer (empty for dense layers), one size per expert; nil =
    /// every expert has `moeIntermediateSize`.
    public var expertIntermediateSizes: [[Int]]? = nil
    /// `dtype` (transformers 5) or `torch_dtype` (4.x), e.g. "bfloat16".
    public var torchDtype: String?
    public var hiddenAct: String

    // Component options: each family's file decides which of these it reads (see `Families/`).

    /// `architectures` of config.json; a `model_type` ExpertLock does not know loads as the family
    /// whose causal-LM class this names (Kimi-K2: `kimi_k2` with `DeepseekV3ForCausalLM`).
    public var architectures: [String] = []
    /// Rope scaling beyond the base (`rope_parameters` / `rope_scaling`).
    public var rotaryScaling: RotaryScaling = .none
    /// Share of each head's channels that rotate (GLM-4.5: 0.5).
    public var partialRotaryFactor: Double = 1
    /// Which channels a rotary pair joins: `rotate_half`'s (most) or adjacent ones (DeepSeek
    /// `rope_interleave`, ERNIE).
    public var rotaryLayout: RotaryLayout = .half
    /// GLM-4.5 `use_qk_norm`.
    public var useQKNorm = false
    /// Multi-head latent attention (DeepSeek-V2/V3, GLM-4.7-Flash); nil: grouped-query attention.
    public var latentAttention: LatentAttentionConfig?
    /// A router whose choice and weights differ (sigmoid or softmax scores, selection bias, groups,
    /// scaling); nil: softmax over the experts, then top-k (Mixtral, Qwen, OLMoE).
    public var router: BiasedRouter?
    /// DeepSeek / GLM `first_k_dense_replace`: the first layers have a dense MLP.
    public var firstDenseLayers = 0
    /// Multi-token-prediction layers stored after the decoder layers (`num_nextn_predict_layers`).
    /// They do not take part in next-token logits; the loader skips them on purpose and says so.
    public var nextTokenPredictionLayers = 0
    /// Gated DeltaNet linear attention in the layers `layer_types` names (Qwen3-Next, Qwen3.5); nil: none.
    public var linearAttention: LinearAttentionConfig?
    /// RMSNorm weights stored zero-centred: the norm scales by 1 + w (Qwen3-Next's `Qwen3NextRMSNorm`, on the
    /// layer norms, the final norm and the q/k norms; not on the gated norm inside linear attention).
    public var zeroCenteredNorms = false
    /// A sigmoid gate on each attention head's output, its logits stored after the head's queries in
    /// `q_proj` (Qwen3-Next's gated attention: q_proj is [H·2D, C]).
    public var attentionOutputGate = false
    /// `layer_types` (gpt-oss, Qwen2-MoE, Llama-4): "full_attention", "sliding_attention" (`slidingWindow`)
    /// or "chunked_attention" (`attentionChunkSize`) per layer; nil: every layer as `slidingWindow` says.
    public var layerTypes: [String]?
    /// Llama-4 `attention_chunk_size`: a chunked layer's queries see only their own chunk.
    public var attentionChunkSize: Int?
    /// gpt-oss: one learned sink logit per head joins every softmax (`self_attn.sinks`).
    public var attentionSinks = false
    /// Llama-4 `no_rope_layers` (1 = rotates): false marks a NoPE layer; nil: every layer rotates.
    public var ropeLayers: [Bool]?
    /// Llama-4 temperature tuning of the NoPE layers' queries (`attn_temperature_tuning`); nil: none.
    public var queryTemperature: QueryTemperature?
    /// How experts combine gate and up (gpt-oss clamps its SwiGLU).
    public var expertActivation: ExpertActivation = .swiglu
    /// Llama-4: the routing weight scales the expert's input, not its output.
    public var routingScalesExpertInput = false
    /// `quantization_config` of an FP8 checkpoint (block-scaled `float8_e4m3fn` weights); nil: not quantized.
    public var fp8: FP8Quantization?

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

    /// The family, or nil for a `modelType` ExpertLock does not implement (`architectures` is the
    /// fallback: see `ModelFamily.resolve`).
    public var family: ModelFamily? { ModelFamily.resolve(modelType: modelType, architectures: architectures) }

    /// "kimi_k2 (loaded as deepseek_v3: architectures names DeepseekV3ForCausalLM)" when the family
    /// came from `architectures`; nil when `model_type` named it.
    public var familyAlias: String? {
        guard let family, family.rawValue != modelType else { return nil }
        return "model_type '\(modelType)' loaded as \(family.rawValue) (architectures names \(family.architecture))"
    }

    /// Whether layer `layer` has a router and experts. Qwen (as `Qwen*MoeDecoderLayer`): not in
    /// `mlpOnlyLayers`, experts exist, and `(layer + 1) % decoderSparseStep == 0`. Mixtral and
    /// OLMoE: every layer.
    public func isSparseLayer(_ layer: Int) -> Bool {
        isSparseLayer(layer, isDense: mlpOnlyLayers.contains)
    }

    private func isSparseLayer(_ layer: Int, isDense: (Int) -> Bool) -> Bool {
        family?.definition.isSparseLayer(layer, config: self, isDense: isDense) ?? true
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

    /// The intermediate size of expert `expert` of sparse layer `layer` (inner pruning may leave
    /// experts of different sizes; `expertIntermediateSizes`).
    public func expertIntermediateSize(layer: Int, expert: Int) -> Int {
        if let sizes = expertIntermediateSizes, sizes.indices.contains(layer), sizes[layer].indices.contains(expert) {
            return sizes[layer][expert]
        }
        return moeIntermediateSize
    }

    /// Bias on the attention output projection: Qwen3-MoE and OLMoE put `attention_bias` on
    /// `o_proj` too; Qwen2-MoE's `qkv_bias` leaves `o_proj` without one.
    public var attentionOutputBias: Bool { family?.definition.attentionOutputBias(self) ?? false }

    /// Where queries and keys are normalised (a family choice, GLM-4.5's depends on `use_qk_norm`).
    public var qkNorm: QKNorm { family?.definition.qkNorm(self) ?? .none }

    /// Channels rotated at the start of each attention head.
    public var rotaryDim: Int {
        if let latentAttention { return latentAttention.qkRopeHeadDim }
        return Int(Double(headDim) * partialRotaryFactor)
    }

    /// The model's rotary embedding (inverse frequencies and scaling) from its rope settings.
    public var rotaryEmbedding: RotaryEmbedding {
        RotaryEmbedding(
            dim: rotaryDim, theta: ropeTheta, scaling: rotaryScaling, layout: rotaryLayout,
            headDim: latentAttention?.qkRopeHeadDim ?? headDim)
    }

    /// Which keys layer `layer`'s queries see (`layer_types` with `sliding_window` / `attention_chunk_size`).
    public func attentionSpan(layer: Int) -> AttentionSpan {
        switch layerTypes?[layer] {
        case "full_attention": .full
        case "chunked_attention": attentionChunkSize.map { .chunked(size: $0) } ?? .full
        default: slidingWindow.map { .sliding(window: $0) } ?? .full
        }
    }

    /// Whether layer `layer` applies the rotary embedding (false: a Llama-4 NoPE layer).
    public func rotates(layer: Int) -> Bool { ropeLayers?[layer] ?? true }

    /// Throws `ConfigError.invalid` when the values cannot describe a model.
    public func validate() throws { try validate(file: "config") }

    func validate(file: String) throws {
        let check = ConfigCheck(file: file)
        guard let family else { throw ConfigError.unknownModelType(file: file, modelType: modelType) }
        for (key, value) in [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
            ("expert intermediate size", moeIntermediateSize), ("num_hidden_layers", numHiddenLayers),
            ("num_attention_heads", numAttentionHeads), ("num_key_value_heads", numKeyValueHeads),
            ("head_dim", headDim), ("max_position_embeddings", maxPositionEmbeddings),
            ("decoder_sparse_step", decoderSparseStep),
        ] {
            try check(value > 0, "\(key) must be positive, got \(value)")
        }
        try check(
            numHiddenLayers <= Self.maxLayers,
            "num_hidden_layers \(numHiddenLayers) is more than the \(Self.maxLayers) layers any model has")
        try check(
            numAttentionHeads % numKeyValueHeads == 0,
            "num_attention_heads \(numAttentionHeads) is not a multiple of num_key_value_heads \(numKeyValueHeads)")
        try check(sharedExpertIntermediateSize >= 0, "shared_expert_intermediate_size must not be negative")
        try check(rmsNormEps > 0 && rmsNormEps.isFinite, "rms_norm_eps must be positive, got \(rmsNormEps)")
        try check(ropeTheta > 0 && ropeTheta.isFinite, "rope_theta must be positive, got \(ropeTheta)")
        try check(
            rotaryDim % 2 == 0 && rotaryDim > 0,
            "the rotary dimension \(rotaryDim) (head_dim × partial_rotary_factor) must be even and positive")
        try check(numExperts >= 0, "\(family.expertCountKeys.declared) must not be negative, got \(numExperts)")
        // Every family here builds its MLPs and experts as SwiGLU: another activation would be ignored.
        try check(hiddenAct == "silu", "hidden_act '\(hiddenAct)' is not implemented (the experts are SwiGLU: silu)")
        try family.definition.validate(self, check)
        if let router {
            try check(
                router.groups >= 1 && router.topkGroup >= 1 && router.topkGroup <= router.groups,
                "topk_group \(router.topkGroup) must be between 1 and n_group \(router.groups)")
            for layer in sparseLayers {
                let experts = expertsPerLayer?[layer] ?? numExperts
                try check(
                    experts % router.groups == 0,
                    "n_group \(router.groups) does not divide the \(experts) experts of layer \(layer)")
                try check(
                    router.groups == 1 || experts / router.groups >= 2 || router.groupRanking == .best,
                    "groups of \(experts / router.groups) expert in layer \(layer): "
                        + "group scores sum the best two")
                try check(
                    numExpertsPerToken <= router.topkGroup * (experts / router.groups),
                    "num_experts_per_tok \(numExpertsPerToken) is more than topk_group "
                        + "\(router.topkGroup) groups hold")
            }
        }
        for layer in mlpOnlyLayers {
            try check(
                (0..<numHiddenLayers).contains(layer), "mlp_only_layers names layer \(layer) of \(numHiddenLayers)")
        }
        if let layerTypes {
            try check(
                layerTypes.count == numHiddenLayers,
                "layer_types has \(layerTypes.count) entries for \(numHiddenLayers) layers")
            for type in Set(layerTypes) {
                try check(
                    ["full_attention", "sliding_attention", "chunked_attention"].contains(type),
                    "layer_types entry '\(type)' is not implemented (full, sliding or chunked attention)")
            }
        }
        if let slidingWindow { try check(slidingWindow >= 1, "sliding_window must be positive, got \(slidingWindow)") }
        if let attentionChunkSize {
            try check(attentionChunkSize >= 1, "attention_chunk_size must be positive, got \(attentionChunkSize)")
        }
        if let ropeLayers {
            try check(
                ropeLayers.count == numHiddenLayers,
                "no_rope_layers has \(ropeLayers.count) entries for \(numHiddenLayers) layers")
        }
        if let expertsPerLayer {
            try check(
                expertsPerLayer.count == numHiddenLayers,
                "expertlock_experts_per_layer has \(expertsPerLayer.count) entries for \(numHiddenLayers) layers")
        }
        if let sizes = expertIntermediateSizes {
            try check(
                sizes.count == numHiddenLayers,
                "expertlock_expert_intermediate_sizes has \(sizes.count) entries for \(numHiddenLayers) layers")
            for layer in sparseLayers {
                let experts = expertsPerLayer?[layer] ?? numExperts
                try check(
                    sizes[layer].count == experts,
                    "expertlock_expert_intermediate_sizes lists \(sizes[layer].count) sizes for the \(experts) "
                        + "experts of layer \(layer)")
                try check(
                    sizes[layer].allSatisfy { $0 >= 1 },
                    "expertlock_expert_intermediate_sizes: layer \(layer) has an expert without channels")
            }
        }
        // Not `expertCount(layer:)`, which re-checks sparsity through `mlp_only_layers` per layer.
        for layer in sparseLayers {
            let experts = expertsPerLayer?[layer] ?? numExperts  // the count was checked above
            try check(
                numExpertsPerToken >= 1 && numExpertsPerToken <= experts,
                "num_experts_per_tok \(numExpertsPerToken) does not fit the \(experts) experts of layer \(layer)")
        }
    }
}

/// Llama-4's attention temperature tuning: NoPE layers scale query position p by
/// 1 + `scale` · log1p(floor((p + 1) / `floor`)) (`attn_scale`, `floor_scale`).
public struct QueryTemperature: Sendable, Equatable {
    public var scale: Double
    public var floor: Double

    /// The factor of the query at position `position`, in Float32 as torch computes it.
    public func factor(position: Int) -> Float {
        Float(log1p(Double(Float((Float(position) + 1) / Float(floor)).rounded(.down)))) * Float(scale) + 1
    }
}
