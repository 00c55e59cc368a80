/// The shapes of Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5) and which layers use it
/// (`layer_types`: "linear_attention" or "full_attention" per layer).
public struct LinearAttentionConfig: Sendable, Equatable {
    /// How the input projections are stored.
    public enum Projections: Sendable, Equatable {
        /// Qwen3-Next: `in_proj_qkvz` [Hk·(2Dk + 2·(Hv/Hk)·Dv), C] grouped per key head as q, k, v, z, and
        /// `in_proj_ba` [2Hv, C] grouped per key head as b, a.
        case groupedPerKeyHead
        /// Qwen3.5: `in_proj_qkv` [2·Hk·Dk + Hv·Dv, C] (all q, all k, all v), `in_proj_z`, `in_proj_b`, `in_proj_a`.
        case separate
    }

    public var layerTypes: [String]
    public var keyHeads: Int
    public var valueHeads: Int
    public var keyHeadDim: Int
    public var valueHeadDim: Int
    public var convKernel: Int
    public var projections: Projections
    /// Tokens per chunk of the chunked delta rule (transformers' `chunk_size` 64; the result does not depend on it).
    public var chunkSize = 64

    public static let linear = "linear_attention", full = "full_attention"

    public func isLinear(_ layer: Int) -> Bool {
        layerTypes.indices.contains(layer) && layerTypes[layer] == Self.linear
    }

    /// Channels through the convolution: q, k and v.
    public var convChannels: Int { 2 * keyHeads * keyHeadDim + valueHeads * valueHeadDim }

    /// The linear_* keys of Qwen3-Next and Qwen3.5 with their transformers defaults; `layer_types` defaults to
    /// three linear layers then one full one (`full_attention_interval`, 4).
    static func decode(_ keys: ConfigReader, layers: Int, projections: Projections) throws -> LinearAttentionConfig {
        let interval = try keys.int("full_attention_interval") ?? 4
        let types =
            try keys.strings("layer_types")
            ?? (0..<layers).map { (interval > 0 && ($0 + 1) % interval == 0) ? full : linear }
        return LinearAttentionConfig(
            layerTypes: types, keyHeads: try keys.int("linear_num_key_heads") ?? 16,
            valueHeads: try keys.int("linear_num_value_heads") ?? 32,
            keyHeadDim: try keys.int("linear_key_head_dim") ?? 128,
            valueHeadDim: try keys.int("linear_value_head_dim") ?? 128,
            convKernel: try keys.int("linear_conv_kernel_dim") ?? 4, projections: projections)
    }

    func encode(into keys: inout ConfigWriter) throws {
        try keys.set("layer_types", layerTypes)
        try keys.set("linear_num_key_heads", keyHeads)
        try keys.set("linear_num_value_heads", valueHeads)
        try keys.set("linear_key_head_dim", keyHeadDim)
        try keys.set("linear_value_head_dim", valueHeadDim)
        try keys.set("linear_conv_kernel_dim", convKernel)
    }

    func validate(layers: Int, _ check: ConfigCheck) throws {
        try check(layerTypes.count == layers, "layer_types has \(layerTypes.count) entries for \(layers) layers")
        for (l, type) in layerTypes.enumerated() {
            try check(
                type == Self.linear || type == Self.full,
                "layer_types[\(l)] '\(type)' is neither \(Self.linear) nor \(Self.full)")
        }
        for (key, value) in [
            ("linear_num_key_heads", keyHeads), ("linear_num_value_heads", valueHeads),
            ("linear_key_head_dim", keyHeadDim), ("linear_value_head_dim", valueHeadDim),
            ("linear_conv_kernel_dim", convKernel),
        ] {
            try check(value > 0, "\(key) must be positive, got \(value)")
        }
        try check(
            valueHeads % keyHeads == 0,
            "linear_num_value_heads \(valueHeads) is not a multiple of linear_num_key_heads \(keyHeads)")
    }
}
