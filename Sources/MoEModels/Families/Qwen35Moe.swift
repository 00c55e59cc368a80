// Port of transformers' modeling_qwen3_5_moe.py (5.25), the language model of `Qwen3_5MoeForConditionalGeneration`:
// Qwen3-Next's hybrid of Gated DeltaNet and gated full attention, with every layer sparse, the top-k weights
// always renormalised, and one gated shared expert.
// Traps: the checkpoint is multimodal: the language model's weights sit under `model.language_model.`, its
// settings under `text_config` (tie_word_embeddings stays at the top), and a vision tower (`model.visual.`)
// comes along; experts are fused 3-D tensors on disk (`experts.gate_up_proj` [E, 2I, C], gate rows first, and
// `experts.down_proj` [E, C, I]); linear attention's input projections are four separate matrices, not
// Qwen3-Next's per-key-head groups. The text rotary is M-RoPE, which a text-only prompt reduces to plain partial
// rotary (its three position rows are equal).

/// Qwen3.5-35B-A3B, Qwen3.5-397B-A17B and their fine-tunes.
enum Qwen35Moe: FamilyDefinition {
    static let modelType = "qwen3_5_moe"
    static let architecture = "Qwen3_5MoeForConditionalGeneration"
    static let nestedConfigKey: String? = "text_config"
    static let layout = FamilyLayout(
        fusedExperts: .transformers, sharedExpert: "shared_expert", sharedExpertGate: "shared_expert_gate",
        languageModelPrefix: "model.language_model", otherTowers: ["model.visual.", "mtp."])

    /// `Qwen3_5MoeTextConfig` defaults (it has no dense MLP: `intermediate_size` is not one of its keys).
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 2, intermediateSize: 512, maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, numExperts: 256,
        numExpertsPerToken: 8, normTopKProb: true)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        let text = try keys.nested("text_config")
        var config = try text.common(defaults, expertCountKeys: expertCountKeys)
        try Qwen3Next.decodeHybrid(text, into: &config, projections: .separate)
        config.sharedExpertIntermediateSize = try text.int("shared_expert_intermediate_size") ?? 512
        config.intermediateSize = config.moeIntermediateSize
        config.normTopKProb = true  // `Qwen3_5MoeTopKRouter` always renormalises
        config.tieWordEmbeddings = try keys.bool("tie_word_embeddings") ?? false
        config.torchDtype = try keys.string("dtype") ?? config.torchDtype
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try Qwen3Next.encodeHybrid(config, into: &keys)
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try Qwen3Next.validate(config, check)
        try check(config.sharedExpertIntermediateSize > 0, "shared_expert_intermediate_size must be positive")
    }

    static func attentionOutputBias(_ config: ModelConfig) -> Bool { config.attentionBias }
    static func qkNorm(_ config: ModelConfig) -> QKNorm { .perHead }
}
