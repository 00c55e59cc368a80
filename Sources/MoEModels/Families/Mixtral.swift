// Port of transformers' modeling_mixtral.py (5.25): GQA attention with RoPE, a top-k → softmax router
// (softmax over all experts, top-k, always renormalised: the same weights), SwiGLU experts, every layer sparse.

/// Mixtral 8x7B / 8x22B and every `MixtralForCausalLM` checkpoint.
enum Mixtral: FamilyDefinition {
    static let modelType = "mixtral"
    static let architecture = "MixtralForCausalLM"
    static let expertCountKeys = (declared: "num_local_experts", alias: "num_experts")
    /// transformers 5 renames the block to `mlp` in memory but writes `block_sparse_moe` back on save, and
    /// Hub checkpoints use it; the experts' projections are w1 (gate), w3 (up), w2 (down).
    static let layout = FamilyLayout(sparseBlock: "block_sparse_moe", expertProjections: ("w1", "w3", "w2"))

    /// `MixtralConfig` defaults.
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 8, maxPositionEmbeddings: 4096 * 32, rmsNormEps: 1e-5, ropeTheta: 1_000_000,
        numExperts: 8, numExpertsPerToken: 2, normTopKProb: true, bosTokenId: 1, eosTokenId: 2)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        // Trap: Mixtral's router always renormalises; `norm_topk_prob` is not a Mixtral key.
        config.normTopKProb = true
        config.attentionBias = false
        config.slidingWindow = try keys.int("sliding_window")
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try keys.set("sliding_window", config.slidingWindow)
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try check(config.numExperts >= 1, "num_local_experts must be positive, got \(config.numExperts)")
        try check(config.normTopKProb, "Mixtral always renormalises the top-k weights")
    }
}
