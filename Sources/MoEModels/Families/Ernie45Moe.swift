// Port of transformers' modeling_ernie4_5_moe.py (5.25): GQA attention (biases only with `use_bias`), RoPE
// on adjacent channel pairs (its `rotate_half` interleaves and cos/sin repeat each frequency); a softmax
// router whose choice adds the selection-only `moe_statics.e_score_correction_bias` ([1, E]) and whose
// weights are the chosen softmax scores over their sum clamped to at least `moe_norm_min`; n shared experts
// fused into one ungated MLP; sparse layers every `moe_layer_interval`-th from `moe_layer_start_index` to
// `moe_layer_end_index`. Traps: embeddings are tied by default; top-k is `moe_k`, the count `moe_num_experts`.

import TensorCore

/// ERNIE-4.5-21B-A3B and ERNIE-4.5-300B-A47B (text).
enum Ernie45Moe: FamilyDefinition {
    static let modelType = "ernie4_5_moe"
    static let architecture = "Ernie4_5_MoeForCausalLM"
    static let expertCountKeys = (declared: "moe_num_experts", alias: "num_experts")
    static let expertsPerTokenKey = "moe_k"
    static let layout = FamilyLayout(
        sharedExpert: "shared_experts", routerSelectionBias: "moe_statics.e_score_correction_bias",
        routerSelectionBiasIsRow: true)

    /// `Ernie4_5_MoeConfig` defaults (`default_theta` 500 000).
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 4, maxPositionEmbeddings: 131072, rmsNormEps: 1e-5, ropeTheta: 500_000, numExperts: 64,
        numExpertsPerToken: 6, normTopKProb: true, bosTokenId: 1, eosTokenId: 2)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        if try keys.bool("use_bias") ?? false {
            throw ConfigError.invalidValue(
                file: keys.file, key: "use_bias",
                reason: "biases on ERNIE's projections and experts are not implemented")
        }
        config.numExpertsPerToken = try keys.expertCount((declared: "moe_k", alias: "num_experts_per_tok")) ?? 6
        config.tieWordEmbeddings = try keys.bool("tie_word_embeddings") ?? true
        config.attentionBias = false
        config.rotaryLayout = .interleaved
        config.moeIntermediateSize = try keys.int("moe_intermediate_size") ?? 1536
        config.sharedExpertIntermediateSize = config.moeIntermediateSize * (try keys.int("moe_num_shared_experts") ?? 2)
        config.decoderSparseStep = try keys.int("moe_layer_interval") ?? 1
        config.firstDenseLayers = try keys.int("moe_layer_start_index") ?? 1
        let end = try keys.int("moe_layer_end_index") ?? -1
        let last = end == -1 ? config.numHiddenLayers - 1 : end
        let step = max(1, config.decoderSparseStep)
        config.mlpOnlyLayers = (0..<max(0, config.numHiddenLayers)).filter { layer in
            !((layer + 1) % step == 0 && layer >= config.firstDenseLayers && layer <= last)
        }
        config.nextTokenPredictionLayers = try keys.int("num_nextn_predict_layers") ?? keys.int("num_mtp_layers") ?? 0
        config.router = BiasedRouter(
            scoring: .softmax, normalize: true, normalizationFloor: Float(try keys.double("moe_norm_min") ?? 1e-12))
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try keys.set("moe_k", config.numExpertsPerToken)
        try keys.set("moe_intermediate_size", config.moeIntermediateSize)
        try keys.set("moe_num_shared_experts", config.sharedExpertIntermediateSize / max(1, config.moeIntermediateSize))
        try keys.set("moe_layer_interval", config.decoderSparseStep)
        try keys.set("moe_layer_start_index", config.firstDenseLayers)
        try keys.set("moe_layer_end_index", config.sparseLayers.last ?? -1)
        try keys.set("moe_norm_min", config.router?.normalizationFloor)
        try keys.set("use_bias", false)
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try check(config.numExperts >= 1, "moe_num_experts must be positive, got \(config.numExperts)")
        try check(config.decoderSparseStep >= 1, "moe_layer_interval must be positive")
    }

    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool { !isDense(layer) }
}
