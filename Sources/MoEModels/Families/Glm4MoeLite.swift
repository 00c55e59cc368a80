// Port of transformers' modeling_glm4_moe_lite.py (5.25): DeepSeek-V3's multi-head latent attention
// (optional q LoRA, interleaved rotary pairs by default, YaRN mscale in the softmax scale) with GLM-4.5's
// router (sigmoid scores, selection-only `e_score_correction_bias`, group-limited top-k, scaling), n shared
// experts fused into one ungated MLP; which layers are dense is a list, `mlp_layer_types`.
// Trap: `mlp_layer_types` defaults to ["dense"] + ["sparse"] × (layers − 1), not to `first_k_dense_replace`.

import TensorCore

/// GLM-4.7-Flash.
enum Glm4MoeLite: FamilyDefinition {
    static let modelType = "glm4_moe_lite"
    static let architecture = "Glm4MoeLiteForCausalLM"
    static let expertCountKeys = (declared: "n_routed_experts", alias: "num_local_experts")
    static let layout = DeepseekV3.layout

    /// `Glm4MoeLiteConfig` defaults.
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 20, maxPositionEmbeddings: 202752, rmsNormEps: 1e-5, numExperts: 64, numExpertsPerToken: 4,
        normTopKProb: true, bosTokenId: 0, eosTokenId: 1)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        try DeepseekV3.decodeDeepseek(
            keys, defaults: defaults, expertCountKeys: expertCountKeys, interleave: true, qLoraRank: 768,
            ropeHeadDim: 64, vHeadDim: 256, nopeHeadDim: 192, moeIntermediate: 1536, firstDense: 0
        ) { keys, config in
            let types =
                try keys.strings("mlp_layer_types")
                ?? ["dense"] + Array(repeating: "sparse", count: max(0, config.numHiddenLayers - 1))
            guard types.count == config.numHiddenLayers, types.allSatisfy({ $0 == "dense" || $0 == "sparse" }) else {
                throw ConfigError.invalidValue(
                    file: keys.file, key: "mlp_layer_types",
                    reason: "needs one of \"dense\" or \"sparse\" per layer (\(config.numHiddenLayers) layers)")
            }
            config.mlpOnlyLayers = types.indices.filter { types[$0] == "dense" }
            config.router = BiasedRouter(
                scoring: .sigmoid, groups: try keys.int("n_group") ?? 1, topkGroup: try keys.int("topk_group") ?? 1,
                groupRanking: .topTwoSum, normalize: config.normTopKProb, normalizationEpsilon: 1e-20,
                scaling: Float(try keys.double("routed_scaling_factor") ?? 1.8))
        }
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try DeepseekV3.encodeDeepseek(config, into: &keys)
        let dense = Set(config.mlpOnlyLayers)
        try keys.set("mlp_layer_types", (0..<config.numHiddenLayers).map { dense.contains($0) ? "dense" : "sparse" })
        try keys.set("n_group", config.router?.groups)
        try keys.set("topk_group", config.router?.topkGroup)
        try keys.set("routed_scaling_factor", config.router?.scaling)
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try DeepseekV3.validateDeepseek(config, check)
    }

    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool { !isDense(layer) }

    static func attentionOutputBias(_ config: ModelConfig) -> Bool { config.attentionBias }
}
