// Port of transformers' modeling_llama4.py (5.25), the text model (`Llama4ForCausalLM`, `llama4_text`): GQA
// attention whose rotating layers use RoPE on adjacent channel pairs (complex `freqs_cis`), chunked local
// attention (`attention_chunk_size`) and an L2 q/k norm after RoPE (`use_qk_norm`); every `no_rope_layer_interval`-th
// layer is a NoPE layer with full attention whose queries get the temperature 1 + attn_scale·log1p(floor((p + 1) /
// floor_scale)) (`attn_temperature_tuning`). Sparse layers (`moe_layers`, or every `interleave_moe_layer_step`-th)
// route top-k (Llama-4: 1) on the raw logits and weight with sigmoid(logit), applied to the expert's INPUT
// (`routed_in = x · score`); an always-on shared expert is added; dense layers use `intermediate_size_mlp`.
// Experts are stored fused (x @ W: gate_up_proj [E, C, 2I] with gate first, down_proj [E, I, C]).
// Traps: `no_rope_layers[i] == 1` means layer i DOES rotate; the q/k norm exists only on rotating layers;
// `layer_types` makes the rotating layers chunked; the block is `feed_forward` and the router `router`.

import TensorCore

/// meta-llama/Llama-4-Scout-17B-16E and Maverick, text model.
enum Llama4Text: FamilyDefinition {
    static let modelType = "llama4_text"
    static let architecture = "Llama4ForCausalLM"
    static let expertCountKeys = (declared: "num_local_experts", alias: "num_experts")
    static let layout = FamilyLayout(
        sparseBlock: "feed_forward", denseBlock: "feed_forward", router: "router",
        fusedExperts: FusedExpertLayout(orientation: .inputsFirst, gateUp: .halves), sharedExpert: "shared_expert")

    /// `Llama4TextConfig` defaults (`default_theta` 500 000).
    static let defaults = FamilyDefaults(
        numKeyValueHeads: 8, maxPositionEmbeddings: 4096 * 32, rmsNormEps: 1e-5, ropeTheta: 500_000, numExperts: 16,
        numExpertsPerToken: 1, normTopKProb: false, bosTokenId: 1, eosTokenId: 2)

    static func decode(_ keys: ConfigReader) throws -> ModelConfig {
        var config = try keys.common(defaults, expertCountKeys: expertCountKeys)
        let layers = config.numHiddenLayers
        config.headDim = try keys.int("head_dim") ?? 128
        // Routed and shared experts are `intermediate_size`; dense layers `intermediate_size_mlp`.
        config.moeIntermediateSize = config.intermediateSize
        config.sharedExpertIntermediateSize = config.intermediateSize
        config.intermediateSize = try keys.int("intermediate_size_mlp") ?? 16384
        let step = try keys.int("interleave_moe_layer_step") ?? 1
        let moeLayers = try keys.ints("moe_layers") ?? Array(stride(from: step - 1, to: layers, by: max(1, step)))
        config.mlpOnlyLayers = (0..<layers).filter { !moeLayers.contains($0) }
        config.router = BiasedRouter(scoring: .sigmoid, normalize: false)
        config.routingScalesExpertInput = true
        config.rotaryLayout = .interleaved
        let interval = try keys.int("no_rope_layer_interval") ?? 4
        let ropeFlags =
            try keys.ints("no_rope_layers").flatMap { $0.isEmpty ? nil : $0 }
            ?? (0..<layers).map { ($0 + 1) % interval != 0 ? 1 : 0 }
        config.ropeLayers = ropeFlags.map { $0 != 0 }
        config.attentionChunkSize =
            try keys.isExplicitNull("attention_chunk_size")
            ? nil : keys.int("attention_chunk_size") ?? 8192
        config.layerTypes =
            try keys.strings("layer_types")
            ?? ropeFlags.map {
                $0 != 0 && config.attentionChunkSize != nil ? "chunked_attention" : "full_attention"
            }
        config.useQKNorm = try keys.bool("use_qk_norm") ?? true
        if try keys.bool("attn_temperature_tuning") ?? true {
            config.queryTemperature = QueryTemperature(
                scale: try keys.double("attn_scale") ?? 0.1, floor: try keys.double("floor_scale") ?? 8192)
        }
        return config
    }

    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {
        try keys.set("head_dim", config.headDim)
        try keys.set("intermediate_size", config.moeIntermediateSize)
        try keys.set("intermediate_size_mlp", config.intermediateSize)
        try keys.set("moe_layers", config.sparseLayers)
        try keys.set("no_rope_layers", config.ropeLayers?.map { $0 ? 1 : 0 })
        try keys.set("attention_chunk_size", config.attentionChunkSize)
        try keys.set("layer_types", config.layerTypes)
        try keys.set("use_qk_norm", config.useQKNorm)
        try keys.set("attn_temperature_tuning", config.queryTemperature != nil)
        if let t = config.queryTemperature {
            try keys.set("attn_scale", t.scale)
            try keys.set("floor_scale", t.floor)
        }
    }

    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {
        try check(config.numExperts >= 1, "num_local_experts must be positive, got \(config.numExperts)")
        try check(config.layerTypes?.contains("sliding_attention") != true, "Llama-4 has no sliding-window layers")
    }

    /// Dense where `moe_layers` does not list the layer (kept as `mlp_only_layers`).
    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool {
        !isDense(layer) && config.numExperts > 0
    }

    static func qkNorm(_ config: ModelConfig) -> QKNorm { config.useQKNorm ? .l2AfterRotary : .none }
}
