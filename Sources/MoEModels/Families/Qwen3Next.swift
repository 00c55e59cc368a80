// Port of transformers' modeling_qwen3_next.py (5.25): a hybrid of Gated DeltaNet linear attention and gated
// full attention, chosen per layer by `layer_types` (default: three linear layers, then one full one), over
// Qwen's sparse block (softmax → top-k, `norm_topk_prob` default true, one shared expert scaled by
// sigmoid(x·w_gate)), dense layers by `decoder_sparse_step` and `mlp_only_layers` as Qwen3-MoE.
// Traps: every RMSNorm but the gated one inside linear attention scales by 1 + w (weights stored zero-centred);
// q_proj holds each head's queries then its output-gate logits; partial rotary defaults to 0.25 and head_dim
// to 256 when config.json leaves them out; a shared expert of size 0 still has its gate on disk.

/// Qwen3-Next-80B-A3B, Qwen3-Coder-Next and their fine-tunes (REAP-pruned ones included).
enum Qwen3Next: FamilyDefinition {
    static let modelType = "qwen3_next"
    static let architecture = "Qwen3NextForCausalLM"
    static let layout = FamilyLayout(
        sharedExpert: "shared_expert", sharedExpertGate: "shared_expert_gate", sharedExpertBuiltWhenAbsent: true)

    /// `Qwen3NextConfig` defaults.
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 2, maxPositionEmbeddings: 32768, rmsNormEps: 1e-6, numExperts: 512, numExpertsPerToken: 10,
        normTopKProb: true)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        try decodeHybrid(keys, into: &config, projections: .groupedPerKeyHead)
        config.sharedExpertIntermediateSize = try keys.int("shared_expert_intermediate_size") ?? 512
        return config
    }

    /// What Qwen3-Next and Qwen3.5 share: head_dim 256, partial rotary 0.25, zero-centred norms, gated
    /// attention with per-head q/k norms, the linear-attention keys.
    static func decodeHybrid(
        _ keys: ConfigReader, into config: inout ModelConfig, projections: LinearAttentionConfig.Projections
    ) throws {
        config.headDim = try keys.int("head_dim") ?? 256
        let rope = try keys.ropeObject()?.0.partialRotaryFactor
        config.partialRotaryFactor = try rope ?? keys.double("partial_rotary_factor") ?? 0.25
        config.moeIntermediateSize = try keys.int("moe_intermediate_size") ?? 512
        config.linearAttention = try LinearAttentionConfig.decode(
            keys, layers: config.numHiddenLayers, projections: projections)
        config.zeroCenteredNorms = true
        config.attentionOutputGate = true
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try encodeHybrid(config, into: &keys)
        try keys.set("decoder_sparse_step", config.decoderSparseStep)
        try keys.set("mlp_only_layers", config.mlpOnlyLayers)
        try keys.set("norm_topk_prob", config.normTopKProb)
    }

    static func encodeHybrid(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try keys.set("moe_intermediate_size", config.moeIntermediateSize)
        try keys.set("shared_expert_intermediate_size", config.sharedExpertIntermediateSize)
        try keys.set("attention_bias", config.attentionBias)
        try config.linearAttention?.encode(into: &keys)
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try check(config.linearAttention != nil, "linear attention settings are missing")
        try config.linearAttention?.validate(layers: config.numHiddenLayers, check)
    }

    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool {
        Qwen3Moe.isSparseLayer(layer, config: config, isDense: isDense)
    }

    static func attentionOutputBias(_ config: ModelConfig) -> Bool { config.attentionBias }
    static func qkNorm(_ config: ModelConfig) -> QKNorm { .perHead }
}
