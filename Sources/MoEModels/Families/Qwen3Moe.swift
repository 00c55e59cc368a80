// Port of transformers' modeling_qwen3_moe.py (5.25): GQA attention with per-head q/k RMSNorm before RoPE
// (weight [head_dim]; "unlike olmo, only on the head dim"), softmax → top-k router (`norm_topk_prob`),
// SwiGLU experts, dense layers by `decoder_sparse_step` and `mlp_only_layers`.

/// Qwen3-30B-A3B, Qwen3-235B-A22B and their fine-tunes.
enum Qwen3Moe: FamilyDefinition {
    static let modelType = "qwen3_moe"
    static let architecture = "Qwen3MoeForCausalLM"
    /// Trap: transformers 5 declares `num_experts` on `Qwen3MoeConfig` but its `attribute_map` renames it, so
    /// `save_pretrained` writes `num_local_experts`, while Hub checkpoints say `num_experts`.
    static let expertCountKeys = (declared: "num_experts", alias: "num_local_experts")

    /// `Qwen3MoeConfig` defaults.
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 4, maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, numExperts: 128, numExpertsPerToken: 8,
        normTopKProb: false)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        config.moeIntermediateSize = try keys.int("moe_intermediate_size") ?? 768
        config.slidingWindow = try keys.bool("use_sliding_window") ?? false ? keys.int("sliding_window") : nil
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try encodeQwenKeys(config, into: &keys)
        try keys.set("attention_bias", config.attentionBias)
    }

    /// The keys Qwen2-MoE and Qwen3-MoE share.
    static func encodeQwenKeys(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try keys.set("moe_intermediate_size", config.moeIntermediateSize)
        try keys.set("decoder_sparse_step", config.decoderSparseStep)
        try keys.set("mlp_only_layers", config.mlpOnlyLayers)
        try keys.set("norm_topk_prob", config.normTopKProb)
        try keys.set("use_sliding_window", config.slidingWindow != nil)
        try keys.set("sliding_window", config.slidingWindow)
    }

    /// As `Qwen*MoeDecoderLayer`: not in `mlp_only_layers`, experts exist, and `(layer + 1) % step == 0`.
    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool {
        !isDense(layer) && config.numExperts > 0 && config.decoderSparseStep > 0
            && (layer + 1) % config.decoderSparseStep == 0
    }

    static func attentionOutputBias(_ config: ModelConfig) -> Bool { config.attentionBias }
    static func qkNorm(_ config: ModelConfig) -> QKNorm { .perHead }
}
