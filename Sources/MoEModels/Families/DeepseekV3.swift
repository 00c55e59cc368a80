// Port of transformers' modeling_deepseek_v3.py (5.25): multi-head latent attention (optional q LoRA,
// shared rotary key, interleaved rotary pairs, YaRN with mscale folded into the softmax scale), a
// sigmoid router with a selection-only `e_score_correction_bias`, group-limited top-k (groups ranked by
// their two best biased scores) and `routed_scaling_factor`, n shared experts fused into one ungated
// MLP, and dense MLPs in the first `first_k_dense_replace` layers.
// Traps: the weights are the chosen sigmoid scores without the bias; `norm_topk_prob` divides by their
// sum + 1e-20 before the scaling; `head_dim` is qk_rope_head_dim (the rotary part) in this config.

import TensorCore

/// DeepSeek-V3/R1/V3.1, and every checkpoint that reuses `DeepseekV3ForCausalLM` (Kimi-K2, Moonlight).
enum DeepseekV3: FamilyDefinition {
    static let modelType = "deepseek_v3"
    static let architecture = "DeepseekV3ForCausalLM"
    /// Kimi-K2 (`kimi_k2`) and other remote-code checkpoints reuse this class.
    static let reusedUnderOtherModelTypes = true
    static let expertCountKeys = (declared: "n_routed_experts", alias: "num_local_experts")
    static let layout = FamilyLayout(
        sharedExpert: "shared_experts", routerSelectionBias: "gate.e_score_correction_bias",
        sharedExpertBuiltWhenAbsent: true)

    /// `DeepseekV3Config` defaults.
    static let defaults = FamilyDefaults(
        numKeyValueHeads: nil, maxPositionEmbeddings: 4096, rmsNormEps: 1e-6, numExperts: 256, numExpertsPerToken: 8,
        normTopKProb: true, bosTokenId: 0, eosTokenId: 1)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        try decodeDeepseek(
            keys, defaults: defaults, expertCountKeys: expertCountKeys, interleave: true
        ) { keys, config in
            config.router = BiasedRouter(
                scoring: .sigmoid, groups: try keys.int("n_group") ?? 8, topkGroup: try keys.int("topk_group") ?? 4,
                groupRanking: .topTwoSum, normalize: config.normTopKProb, normalizationEpsilon: 1e-20,
                scaling: Float(try keys.double("routed_scaling_factor") ?? 2.5))
        }
    }

    /// What DeepSeek-V2, V3 and GLM-4.7-Flash read alike: MLA shapes, shared experts, dense first layers,
    /// MTP layers; `router` then sets the family's routing.
    static func decodeDeepseek(
        _ keys: ConfigReader, defaults: FamilyDefaults, expertCountKeys: (declared: String, alias: String),
        interleave: Bool, qLoraRank: Int? = 1536, kvLoraRank: Int = 512, ropeHeadDim: Int = 64, vHeadDim: Int = 128,
        nopeHeadDim: Int = 128, moeIntermediate: Int = 2048, firstDense: Int = 3,
        router: (ConfigReader, inout ModelConfig) throws -> Void
    ) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        let latent = LatentAttentionConfig(
            qLoraRank: try keys.isExplicitNull("q_lora_rank") ? nil : try keys.int("q_lora_rank") ?? qLoraRank,
            kvLoraRank: try keys.int("kv_lora_rank") ?? kvLoraRank,
            qkNopeHeadDim: try keys.int("qk_nope_head_dim") ?? nopeHeadDim,
            qkRopeHeadDim: try keys.int("qk_rope_head_dim") ?? ropeHeadDim,
            vHeadDim: try keys.int("v_head_dim") ?? vHeadDim)
        config.latentAttention = latent
        config.headDim = latent.qkRopeHeadDim
        config.rotaryLayout = try keys.bool("rope_interleave") ?? interleave ? .interleaved : .half
        config.moeIntermediateSize = try keys.int("moe_intermediate_size") ?? moeIntermediate
        config.sharedExpertIntermediateSize = config.moeIntermediateSize * (try keys.int("n_shared_experts") ?? 1)
        config.firstDenseLayers = try keys.int("first_k_dense_replace") ?? firstDense
        config.nextTokenPredictionLayers = try keys.int("num_nextn_predict_layers") ?? keys.int("num_mtp_layers") ?? 0
        try router(keys, &config)
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try encodeDeepseek(config, into: &keys)
        try keys.set("n_group", config.router?.groups)
        try keys.set("topk_group", config.router?.topkGroup)
        try keys.set("routed_scaling_factor", config.router?.scaling)
    }

    static func encodeDeepseek(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        guard let latent = config.latentAttention else { return }
        try keys.set("q_lora_rank", latent.qLoraRank)
        try keys.set("kv_lora_rank", latent.kvLoraRank)
        try keys.set("qk_nope_head_dim", latent.qkNopeHeadDim)
        try keys.set("qk_rope_head_dim", latent.qkRopeHeadDim)
        try keys.set("v_head_dim", latent.vHeadDim)
        try keys.set("rope_interleave", config.rotaryLayout == .interleaved)
        try keys.set("moe_intermediate_size", config.moeIntermediateSize)
        try keys.set("n_shared_experts", config.sharedExpertIntermediateSize / max(1, config.moeIntermediateSize))
        try keys.set("first_k_dense_replace", config.firstDenseLayers)
        try keys.set("num_nextn_predict_layers", config.nextTokenPredictionLayers)
        try keys.set("norm_topk_prob", config.normTopKProb)
        try keys.set("attention_bias", config.attentionBias)
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try validateDeepseek(config, check)
    }

    static func validateDeepseek(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try check(config.numExperts >= 1, "n_routed_experts must be positive, got \(config.numExperts)")
        guard let latent = config.latentAttention else { return }
        for (key, value) in [
            ("kv_lora_rank", latent.kvLoraRank), ("qk_rope_head_dim", latent.qkRopeHeadDim),
            ("v_head_dim", latent.vHeadDim), ("q_lora_rank", latent.qLoraRank ?? 1),
        ] {
            try check(value > 0, "\(key) must be positive, got \(value)")
        }
        try check(latent.qkNopeHeadDim >= 0, "qk_nope_head_dim must not be negative")
        // transformers' eager attention repeats keys by heads / kv_heads, which MLA's per-head keys do not allow.
        try check(
            config.numKeyValueHeads == config.numAttentionHeads,
            "latent attention has one key per head: num_key_value_heads must equal num_attention_heads")
        try check(
            config.sharedExpertIntermediateSize % max(1, config.moeIntermediateSize) == 0,
            "shared experts of \(config.sharedExpertIntermediateSize) are not a multiple of "
                + "moe_intermediate_size")
    }

    /// Dense MLP in the first `first_k_dense_replace` layers, the sparse block after.
    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool {
        layer >= config.firstDenseLayers
    }

    static func attentionOutputBias(_ config: ModelConfig) -> Bool { config.attentionBias }
}
