/// The MoE families ExpertLock reads, keyed by the `model_type` of their `config.json`.
public enum ModelFamily: String, CaseIterable, Sendable {
    case mixtral
    case qwen2Moe = "qwen2_moe"
    case qwen3Moe = "qwen3_moe"
    case olmoe

    /// The key this family's config class declares for the expert count, then the other
    /// spelling it also answers to. Trap: transformers 5 declares `num_experts` on
    /// `Qwen3MoeConfig` but its `attribute_map` renames it, so `save_pretrained` writes
    /// `num_local_experts` for qwen3_moe, while Hub checkpoints say `num_experts`.
    var expertCountKeys: (declared: String, alias: String) {
        switch self {
        case .mixtral: ("num_local_experts", "num_experts")
        case .qwen2Moe, .qwen3Moe, .olmoe: ("num_experts", "num_local_experts")
        }
    }

    /// Values transformers 5.23 uses when a key is absent from `config.json` (the dataclass
    /// defaults of `MixtralConfig`, `Qwen2MoeConfig`, `Qwen3MoeConfig`, `OlmoeConfig`).
    var defaults: FamilyDefaults {
        switch self {
        case .mixtral:
            FamilyDefaults(
                numKeyValueHeads: 8, maxPositionEmbeddings: 4096 * 32, rmsNormEps: 1e-5, ropeTheta: 1_000_000,
                numExperts: 8, numExpertsPerToken: 2, normTopKProb: true, routerAuxLossCoef: 0.001,
                moeIntermediateSize: nil, sharedExpertIntermediateSize: 0, attentionBias: false,
                bosTokenId: 1, eosTokenId: 2)
        case .qwen2Moe:
            FamilyDefaults(
                numKeyValueHeads: 16, maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, ropeTheta: 10_000,
                numExperts: 60, numExpertsPerToken: 4, normTopKProb: false, routerAuxLossCoef: 0.001,
                moeIntermediateSize: 1408, sharedExpertIntermediateSize: 5632, attentionBias: true,
                bosTokenId: nil, eosTokenId: nil)
        case .qwen3Moe:
            FamilyDefaults(
                numKeyValueHeads: 4, maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, ropeTheta: 10_000,
                numExperts: 128, numExpertsPerToken: 8, normTopKProb: false, routerAuxLossCoef: 0.001,
                moeIntermediateSize: 768, sharedExpertIntermediateSize: 0, attentionBias: false,
                bosTokenId: nil, eosTokenId: nil)
        case .olmoe:
            FamilyDefaults(
                numKeyValueHeads: nil, maxPositionEmbeddings: 4096, rmsNormEps: 1e-5, ropeTheta: 10_000,
                numExperts: 64, numExpertsPerToken: 8, normTopKProb: false, routerAuxLossCoef: 0.01,
                moeIntermediateSize: nil, sharedExpertIntermediateSize: 0, attentionBias: false,
                bosTokenId: nil, eosTokenId: 50279)
        }
    }
}

/// One family's transformers defaults for the keys `ModelConfig` does not require.
struct FamilyDefaults {
    /// nil: as many key/value heads as attention heads.
    var numKeyValueHeads: Int?
    var maxPositionEmbeddings: Int
    var rmsNormEps: Double
    /// `default_theta` of the config class (`PreTrainedConfig` uses 10 000 unless overridden).
    var ropeTheta: Double
    var numExperts: Int
    var numExpertsPerToken: Int
    var normTopKProb: Bool
    var routerAuxLossCoef: Double
    /// nil: the experts use `intermediate_size` (Mixtral and OLMoE never read
    /// `moe_intermediate_size`, even when a config carries it).
    var moeIntermediateSize: Int?
    var sharedExpertIntermediateSize: Int
    var attentionBias: Bool
    var bosTokenId: Int?
    var eosTokenId: Int?
}
