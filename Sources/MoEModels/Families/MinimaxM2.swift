// Port of transformers' modeling_minimax_m2.py (5.25): GQA attention without biases, q/k RMSNorm over the
// whole projection (weights [H*D] and [Hkv*D], as OLMoE) before a partial rotary embedding (`rotary_dim`
// channels of each head, rotate_half pairs); a sigmoid router whose choice adds the block's
// `e_score_correction_bias` and whose weights are the chosen sigmoid scores divided by their sum (always,
// no epsilon, no scaling); SwiGLU experts named as Mixtral's (`block_sparse_moe`, w1/w3/w2); every layer sparse.
// Traps: the bias lives in the block, not in the gate; `rotary_dim` becomes `partial_rotary_factor`.

import TensorCore

/// MiniMax-M2 and M2.1.
enum MinimaxM2: FamilyDefinition {
    static let modelType = "minimax_m2"
    static let architecture = "MiniMaxM2ForCausalLM"
    static let expertCountKeys = (declared: "num_local_experts", alias: "num_experts")
    static let layout = FamilyLayout(
        sparseBlock: "block_sparse_moe", expertProjections: ("w1", "w3", "w2"),
        routerSelectionBias: "e_score_correction_bias")

    /// `MiniMaxM2Config` defaults (`default_theta` 5e6).
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 8, maxPositionEmbeddings: 196608, rmsNormEps: 1e-6, ropeTheta: 5_000_000, numExperts: 256,
        numExpertsPerToken: 8, normTopKProb: true, bosTokenId: 200034, eosTokenId: 200020)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        config.headDim = try keys.int("head_dim") ?? 128
        config.attentionBias = false
        if try keys.ropeObject()?.0.partialRotaryFactor == nil, try keys.double("partial_rotary_factor") == nil,
            let rotary = try keys.int("rotary_dim")
        {
            config.partialRotaryFactor = Double(rotary) / Double(config.headDim)
        }
        config.normTopKProb = true
        config.router = BiasedRouter(scoring: .sigmoid, normalize: true)
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try keys.set("rotary_dim", config.rotaryDim)
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try check(config.numExperts >= 1, "num_local_experts must be positive, got \(config.numExperts)")
        try check(
            config.partialRotaryFactor > 0 && config.partialRotaryFactor <= 1,
            "rotary_dim must be within head_dim \(config.headDim)")
    }

    static func qkNorm(_ config: ModelConfig) -> QKNorm { .fullProjection }
}
