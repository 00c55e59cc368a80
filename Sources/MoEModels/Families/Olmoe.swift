// Port of transformers' modeling_olmoe.py (5.25): MHA/GQA attention with q/k RMSNorm over the whole
// projection (weights [H*D] and [Hkv*D], before the head split), optional `clip_qkv`, softmax → top-k
// router (`norm_topk_prob`, default false), SwiGLU experts, every layer sparse.

/// OLMoE-1B-7B.
enum Olmoe: FamilyDefinition {
    static let modelType = "olmoe"
    static let architecture = "OlmoeForCausalLM"

    /// `OlmoeConfig` defaults.
    static let defaults = FamilyDefaults(
        numKeyValueHeads: nil, maxPositionEmbeddings: 4096, rmsNormEps: 1e-5, numExperts: 64, numExpertsPerToken: 8,
        normTopKProb: false, routerAuxLossCoef: 0.01, eosTokenId: 50279)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        config.clipQKV = try keys.double("clip_qkv").map(Float.init)
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try keys.set("attention_bias", config.attentionBias)
        try keys.set("clip_qkv", config.clipQKV)
        try keys.set("norm_topk_prob", config.normTopKProb)
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try check(config.numExperts >= 1, "num_experts must be positive, got \(config.numExperts)")
        // q_norm spans hidden_size, so the heads must tile the hidden size exactly.
        // `multipliedReportingOverflow`: both are positive here but may be as large as the file says.
        let (heads, overflow) = config.headDim.multipliedReportingOverflow(by: config.numAttentionHeads)
        try check(
            !overflow && heads == config.hiddenSize,
            "OLMoE needs head_dim × num_attention_heads = hidden_size, got \(config.headDim) × "
                + "\(config.numAttentionHeads)")
    }

    static func attentionOutputBias(_ config: ModelConfig) -> Bool { config.attentionBias }
    static func qkNorm(_ config: ModelConfig) -> QKNorm { .fullProjection }
}
