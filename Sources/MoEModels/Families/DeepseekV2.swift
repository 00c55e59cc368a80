// Port of transformers' modeling_deepseek_v2.py (5.25): multi-head latent attention as DeepSeek-V3 but with
// rotary pairs of adjacent channels always (complex multiplication by `freqs_cis`), a softmax router with
// `topk_method` greedy (top-k of all experts) or group_limited_greedy (the best `topk_group` of `n_group`
// groups, ranked by their best score), weights = chosen scores × `routed_scaling_factor`, n shared experts
// fused into one ungated MLP, dense MLPs in the first `first_k_dense_replace` layers.
// Traps: the weights are never renormalised (`norm_topk_prob` is not read by the router, as in transformers);
// experts outside the chosen groups get score 0, which never wins while k ≤ topk_group × group size.

import TensorCore

/// DeepSeek-V2, V2-Lite and V2.5.
enum DeepseekV2: FamilyDefinition {
    static let modelType = "deepseek_v2"
    static let architecture = "DeepseekV2ForCausalLM"
    static let expertCountKeys = (declared: "n_routed_experts", alias: "num_experts")
    static let layout = FamilyLayout(sharedExpert: "shared_experts", sharedExpertBuiltWhenAbsent: true)

    /// `DeepseekV2Config` defaults (`num_experts_per_tok` has none: the router cannot run without it).
    static let defaults = FamilyDefaults(
        numKeyValueHeads: nil, maxPositionEmbeddings: 2048, rmsNormEps: 1e-6, numExperts: 64, numExpertsPerToken: 0,
        normTopKProb: false, bosTokenId: 1, eosTokenId: 2)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        guard try keys.int("num_experts_per_tok") != nil else {
            throw ConfigError.missingKey(file: keys.file, key: "num_experts_per_tok")
        }
        // Biases on the dense and shared MLPs (and experts) would be read and ignored.
        if try keys.bool("mlp_bias") ?? false {
            throw ConfigError.invalidValue(file: keys.file, key: "mlp_bias", reason: "MLP biases are not implemented")
        }
        return try DeepseekV3.decodeDeepseek(
            keys, defaults: defaults, expertCountKeys: expertCountKeys, interleave: true, moeIntermediate: 1407,
            firstDense: 0
        ) { keys, config in
            config.rotaryLayout = .interleaved  // V2 has no `rope_interleave` key: its rotation is always complex pairs
            config.normTopKProb = false
            config.sharedExpertIntermediateSize = config.moeIntermediateSize * (try keys.int("n_shared_experts") ?? 2)
            let method = try keys.string("topk_method") ?? "greedy"
            switch method {
            case "greedy":
                config.router = BiasedRouter(
                    scoring: .softmax, normalize: false, scaling: Float(try keys.double("routed_scaling_factor") ?? 1))
            case "group_limited_greedy":
                guard let groups = try keys.int("n_group"), let top = try keys.int("topk_group") else {
                    throw ConfigError.missingKey(file: keys.file, key: "n_group and topk_group")
                }
                config.router = BiasedRouter(
                    scoring: .softmax, groups: groups, topkGroup: top, groupRanking: .best, normalize: false,
                    scaling: Float(try keys.double("routed_scaling_factor") ?? 1))
            default:
                throw ConfigError.invalidValue(
                    file: keys.file, key: "topk_method",
                    reason: "'\(method)' is not a DeepSeek-V2 routing method (greedy, group_limited_greedy)")
            }
        }
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try DeepseekV3.encodeDeepseek(config, into: &keys)
        let grouped = (config.router?.groups ?? 1) > 1
        try keys.set("topk_method", grouped ? "group_limited_greedy" : "greedy")
        try keys.set("n_group", grouped ? config.router?.groups : nil)
        try keys.set("topk_group", grouped ? config.router?.topkGroup : nil)
        try keys.set("routed_scaling_factor", config.router?.scaling)
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try DeepseekV3.validateDeepseek(config, check)
    }

    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool {
        layer >= config.firstDenseLayers
    }

    static func attentionOutputBias(_ config: ModelConfig) -> Bool { config.attentionBias }
}
