// Port of transformers' modeling_gpt_oss.py (5.25): GQA attention with biases on q/k/v/o and a learned sink
// logit per head in every softmax (`sinks`), alternating sliding-window and full layers (`layer_types`), YaRN
// rotary (rotate_half pairs); a router with a bias that takes the top-k logits and then a softmax over them
// (the same weights as softmax → top-k → renormalise); experts with biases and a clamped SwiGLU
// ((clamp(up, ±limit) + 1) · g · sigmoid(α·g), g = min(gate, limit)) over gate/up columns that interleave;
// every layer sparse. Experts are stored fused (x @ W: gate_up_proj [E, C, 2I], down_proj [E, I, C]), in
// BF16 or MXFP4 (`_blocks`/`_scales`, dequantised on use: `FusedExperts.swift`).
// Traps: `sliding_window` applies only to "sliding_attention" layers; absent `rope_parameters` means YaRN
// (factor 32, original 4096, truncate false), not plain RoPE; the router is `mlp.router`, not `mlp.gate`.

/// openai/gpt-oss-20b and gpt-oss-120b.
enum GptOss: FamilyDefinition {
    static let modelType = "gpt_oss"
    static let architecture = "GptOssForCausalLM"
    static let expertCountKeys = (declared: "num_local_experts", alias: "num_experts")
    static let layout = FamilyLayout(
        router: "router", routerBias: true,
        fusedExperts: FusedExpertLayout(orientation: .inputsFirst, gateUp: .interleaved, biases: true))

    /// `GptOssConfig` defaults (`default_theta` 150 000).
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 8, maxPositionEmbeddings: 131_072, rmsNormEps: 1e-5, ropeTheta: 150_000, numExperts: 128,
        numExpertsPerToken: 4, normTopKProb: true, attentionBias: true)

    /// The rope `GptOssConfig.__post_init__` sets when config.json has none.
    static let defaultYarn = RotaryScaling.Yarn(
        factor: 32, originalMaxPositions: 4096, betaFast: 32, betaSlow: 1, truncate: false)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        config.headDim = try keys.int("head_dim") ?? 64
        config.moeIntermediateSize = config.intermediateSize
        // Top-k logits then softmax over them: softmax over all, top-k, renormalised.
        config.normTopKProb = true
        if try keys.ropeObject() == nil { config.rotaryScaling = .yarn(defaultYarn) }
        config.slidingWindow = try keys.isExplicitNull("sliding_window") ? nil : keys.int("sliding_window") ?? 128
        config.layerTypes =
            try keys.strings("layer_types")
            ?? (0..<config.numHiddenLayers).map {
                ($0 + 1) % 2 == 1 ? "sliding_attention" : "full_attention"
            }
        config.attentionSinks = true
        config.expertActivation = .clampedSwiGLU(
            alpha: Float(try keys.double("swiglu_alpha") ?? 1.702), limit: Float(try keys.double("swiglu_limit") ?? 7))
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try keys.set("head_dim", config.headDim)
        try keys.set("sliding_window", config.slidingWindow)
        try keys.set("layer_types", config.layerTypes)
        try keys.set("attention_bias", config.attentionBias)
        if case let .clampedSwiGLU(alpha, limit) = config.expertActivation {
            try keys.set("swiglu_alpha", Double("\(alpha)"))
            try keys.set("swiglu_limit", Double("\(limit)"))
        }
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try check(config.numExperts >= 1, "num_local_experts must be positive, got \(config.numExperts)")
        try check(config.layerTypes?.contains("chunked_attention") != true, "gpt-oss has no chunked attention layers")
    }

    static func attentionOutputBias(_ config: ModelConfig) -> Bool { config.attentionBias }
}
