// Port of transformers' modeling_qwen2_moe.py (5.25): GQA attention with q/k/v bias (`qkv_bias`) and no
// o_proj bias, softmax → top-k router (`norm_topk_prob`, default false), SwiGLU experts, one shared
// expert scaled by sigmoid(x·w_gate), dense layers by `decoder_sparse_step` and `mlp_only_layers`.

/// Qwen1.5-MoE and Qwen2-57B-A14B.
enum Qwen2Moe: FamilyDefinition {
    static let modelType = "qwen2_moe"
    static let architecture = "Qwen2MoeForCausalLM"
    /// `shared_expert_intermediate_size: 0` still builds the shared MLP (empty) and its gate [1, C] in transformers.
    static let layout = FamilyLayout(
        sharedExpert: "shared_expert", sharedExpertGate: "shared_expert_gate", sharedExpertBuiltWhenAbsent: true)

    /// `Qwen2MoeConfig` defaults.
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 16, maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, numExperts: 60, numExpertsPerToken: 4,
        normTopKProb: false, attentionBias: true)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        // Trap: the bias key is `qkv_bias` (default true, and always true before transformers 5).
        config.attentionBias = try keys.bool("qkv_bias") ?? true
        config.moeIntermediateSize = try keys.int("moe_intermediate_size") ?? 1408
        config.sharedExpertIntermediateSize = try keys.int("shared_expert_intermediate_size") ?? 5632
        // Qwen saves `sliding_window: 0` when `use_sliding_window` is false.
        config.slidingWindow = try keys.bool("use_sliding_window") ?? false ? keys.int("sliding_window") : nil
        if config.slidingWindow != nil {
            // Trap: only layers i with (i + 1) odd below `max_window_layers` slide (`Qwen2MoeConfig`), unless
            // config.json lists `layer_types` (transformers 5 saves them); Qwen3-MoE slides every layer.
            let below = try keys.int("max_window_layers") ?? 28
            config.layerTypes =
                try keys.strings("layer_types")
                ?? (0..<config.numHiddenLayers).map {
                    ($0 + 1) % 2 == 1 && $0 < below ? "sliding_attention" : "full_attention"
                }
        }
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try Qwen3Moe.encodeQwenKeys(config, into: &keys)
        try keys.set("shared_expert_intermediate_size", config.sharedExpertIntermediateSize)
        try keys.set("qkv_bias", config.attentionBias)
        try keys.setIfPresent("layer_types", config.layerTypes)
    }

    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool {
        Qwen3Moe.isSparseLayer(layer, config: config, isDense: isDense)
    }
}
