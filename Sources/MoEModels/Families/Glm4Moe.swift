// Port of transformers' modeling_glm4_moe.py (5.25): GQA attention with q/k/v bias (`attention_bias`; o_proj
// never has one), optional per-head q/k RMSNorm (`use_qk_norm`) before a partial rotary embedding (the first
// head_dim × partial_rotary_factor channels, default 0.5, rotate_half pairs); DeepSeek-V3's router (sigmoid
// scores, selection-only `e_score_correction_bias`, group-limited top-k, `routed_scaling_factor`), n shared
// experts fused into one ungated MLP, dense MLPs in the first `first_k_dense_replace` layers.
// Trap: `partial_rotary_factor` defaults to 0.5 (set in `__post_init__`), not 1.

import TensorCore

/// GLM-4.5, GLM-4.5-Air, GLM-4.6 and GLM-4.7.
enum Glm4Moe: FamilyDefinition {
    static let modelType = "glm4_moe"
    static let architecture = "Glm4MoeForCausalLM"
    static let expertCountKeys = (declared: "n_routed_experts", alias: "num_local_experts")
    static let layout = DeepseekV3.layout

    /// `Glm4MoeConfig` defaults.
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 8, maxPositionEmbeddings: 131072, rmsNormEps: 1e-5, numExperts: 128, numExpertsPerToken: 8,
        normTopKProb: true)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        if try keys.ropeObject()?.0.partialRotaryFactor == nil, try keys.double("partial_rotary_factor") == nil {
            config.partialRotaryFactor = 0.5
        }
        config.useQKNorm = try keys.bool("use_qk_norm") ?? false
        config.moeIntermediateSize = try keys.int("moe_intermediate_size") ?? 1408
        config.sharedExpertIntermediateSize = config.moeIntermediateSize * (try keys.int("n_shared_experts") ?? 1)
        config.firstDenseLayers = try keys.int("first_k_dense_replace") ?? 1
        config.nextTokenPredictionLayers = try keys.int("num_nextn_predict_layers") ?? keys.int("num_mtp_layers") ?? 0
        config.router = BiasedRouter(
            scoring: .sigmoid, groups: try keys.int("n_group") ?? 1, topkGroup: try keys.int("topk_group") ?? 1,
            groupRanking: .topTwoSum, normalize: config.normTopKProb, normalizationEpsilon: 1e-20,
            scaling: Float(try keys.double("routed_scaling_factor") ?? 1))
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try keys.set("partial_rotary_factor", config.partialRotaryFactor)
        try keys.set("use_qk_norm", config.useQKNorm)
        try keys.set("attention_bias", config.attentionBias)
        try keys.set("moe_intermediate_size", config.moeIntermediateSize)
        try keys.set("n_shared_experts", config.sharedExpertIntermediateSize / max(1, config.moeIntermediateSize))
        try keys.set("first_k_dense_replace", config.firstDenseLayers)
        try keys.set("num_nextn_predict_layers", config.nextTokenPredictionLayers)
        try keys.set("norm_topk_prob", config.normTopKProb)
        try keys.set("n_group", config.router?.groups)
        try keys.set("topk_group", config.router?.topkGroup)
        try keys.set("routed_scaling_factor", config.router?.scaling)
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try check(config.numExperts >= 1, "n_routed_experts must be positive, got \(config.numExperts)")
        try check(
            config.partialRotaryFactor > 0 && config.partialRotaryFactor <= 1,
            "partial_rotary_factor must be in (0, 1], got \(config.partialRotaryFactor)")
    }

    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool {
        layer >= config.firstDenseLayers
    }

    static func qkNorm(_ config: ModelConfig) -> QKNorm { config.useQKNorm ? .perHead : .none }
}
