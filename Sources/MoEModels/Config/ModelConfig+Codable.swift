import Foundation

/// `config.json` ↔ `ModelConfig`, family by family, checked against transformers 5.23
/// (`MixtralConfig`, `Qwen2MoeConfig`, `Qwen3MoeConfig`, `OlmoeConfig` and their modeling files).
///
/// Traps, each handled below:
/// - RoPE base: transformers 5 writes `rope_parameters: {rope_theta, rope_type}`; 4.x wrote a
///   top-level `rope_theta` and maybe `rope_scaling`. Priority as in
///   `convert_rope_params_to_dict`: `rope_scaling` (replaces `rope_parameters` when non-null),
///   then `rope_parameters`, then `rope_theta`, then the class `default_theta`.
/// - Expert count: `num_local_experts` (Mixtral) or `num_experts`, and transformers 5 saves
///   qwen3_moe's as `num_local_experts` (see `ModelFamily.expertCountKeys`); both are accepted,
///   and two different values are an error.
/// - `num_key_value_heads`: absent → the class default (8, 16, 4, heads); explicit null → heads.
/// - `head_dim`: absent or null → hidden / heads (Mixtral v5 saves `"head_dim": null`).
/// - Qwen2-MoE saves `sliding_window: 0` and Qwen3-MoE `null` when `use_sliding_window` is false.
/// - `dtype` (v5) wins over `torch_dtype` (v4) when both are present, as in `PreTrainedConfig`.
/// - `norm_topk_prob` is ignored for Mixtral, whose router always renormalises.
extension ModelConfig: Codable {
    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case moeIntermediateSize = "moe_intermediate_size"
        case sharedExpertIntermediateSize = "shared_expert_intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case numExperts = "num_experts"
        case numLocalExperts = "num_local_experts"
        case numExpertsPerToken = "num_experts_per_tok"
        case normTopKProb = "norm_topk_prob"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case ropeParameters = "rope_parameters"
        case ropeScaling = "rope_scaling"
        case tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias"
        case qkvBias = "qkv_bias"
        case decoderSparseStep = "decoder_sparse_step"
        case mlpOnlyLayers = "mlp_only_layers"
        case routerAuxLossCoef = "router_aux_loss_coef"
        case maxPositionEmbeddings = "max_position_embeddings"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case clipQKV = "clip_qkv"
        case slidingWindow = "sliding_window"
        case useSlidingWindow = "use_sliding_window"
        case expertsPerLayer = "expertlock_experts_per_layer"
        case dtype
        case torchDtype = "torch_dtype"
        case hiddenAct = "hidden_act"
    }

    /// The `rope_parameters` / `rope_scaling` object; other keys (factor, ...) are not read.
    private struct RopeParameters: Codable {
        var ropeTheta: Double?
        var ropeType: String?
        var type: String?
        enum CodingKeys: String, CodingKey {
            case ropeTheta = "rope_theta", ropeType = "rope_type", type
        }
    }

    /// `decoder.userInfo[fileKey]`: the path named in errors thrown while decoding.
    static let fileKey = CodingUserInfoKey(rawValue: "expertlock.configFile")!

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let file = decoder.userInfo[Self.fileKey] as? String ?? "config.json"
        let modelType = try c.decode(String.self, forKey: .modelType)
        guard let family = ModelFamily(rawValue: modelType) else {
            throw ConfigError.unknownModelType(file: file, modelType: modelType)
        }
        let d = family.defaults
        func int(_ key: CodingKeys) throws -> Int? { try c.decodeIfPresent(Int.self, forKey: key) }
        func double(_ key: CodingKeys) throws -> Double? { try c.decodeIfPresent(Double.self, forKey: key) }
        func bool(_ key: CodingKeys) throws -> Bool? { try c.decodeIfPresent(Bool.self, forKey: key) }
        func isExplicitNull(_ key: CodingKeys) throws -> Bool { c.contains(key) ? try c.decodeNil(forKey: key) : false }

        let hidden = try c.decode(Int.self, forKey: .hiddenSize)
        let heads = try c.decode(Int.self, forKey: .numAttentionHeads)
        let intermediate = try c.decode(Int.self, forKey: .intermediateSize)

        // Expert count under either spelling.
        let declaredKey = CodingKeys(rawValue: family.expertCountKeys.declared) ?? .numExperts
        let aliasKey = CodingKeys(rawValue: family.expertCountKeys.alias) ?? .numLocalExperts
        let declared = try int(declaredKey)
        let alias = try int(aliasKey)
        if let declared, let alias, declared != alias {
            throw ConfigError.conflictingKeys(file: file, first: declaredKey.rawValue, second: aliasKey.rawValue)
        }

        // RoPE: rope_scaling replaces rope_parameters when present, then the legacy top-level key.
        let scaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling)
        let parameters = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        let rope = scaling ?? parameters

        let kvHeads: Int? = try isExplicitNull(.numKeyValueHeads) ? heads : int(.numKeyValueHeads) ?? d.numKeyValueHeads
        let window: Int?
        switch family {
        case .mixtral: window = try int(.slidingWindow)
        case .qwen2Moe, .qwen3Moe: window = try bool(.useSlidingWindow) ?? false ? int(.slidingWindow) : nil
        case .olmoe: window = nil
        }
        let attentionBias: Bool
        switch family {
        case .mixtral: attentionBias = false
        case .qwen2Moe: attentionBias = try bool(.qkvBias) ?? true
        case .qwen3Moe, .olmoe: attentionBias = try bool(.attentionBias) ?? d.attentionBias
        }
        let moeIntermediate: Int
        switch family {
        case .mixtral, .olmoe: moeIntermediate = intermediate
        case .qwen2Moe, .qwen3Moe: moeIntermediate = try int(.moeIntermediateSize) ?? d.moeIntermediateSize ?? intermediate
        }

        self.init(
            modelType: modelType,
            vocabSize: try c.decode(Int.self, forKey: .vocabSize),
            hiddenSize: hidden,
            intermediateSize: intermediate,
            numHiddenLayers: try c.decode(Int.self, forKey: .numHiddenLayers),
            numAttentionHeads: heads,
            numKeyValueHeads: kvHeads,
            headDim: try int(.headDim),
            moeIntermediateSize: moeIntermediate,
            sharedExpertIntermediateSize: family == .qwen2Moe
                ? try int(.sharedExpertIntermediateSize) ?? d.sharedExpertIntermediateSize : 0,
            numExperts: declared ?? alias ?? d.numExperts,
            numExpertsPerToken: try int(.numExpertsPerToken) ?? d.numExpertsPerToken,
            normTopKProb: family == .mixtral ? true : try bool(.normTopKProb) ?? d.normTopKProb,
            rmsNormEps: Float(try double(.rmsNormEps) ?? d.rmsNormEps),
            ropeTheta: try rope?.ropeTheta ?? double(.ropeTheta) ?? d.ropeTheta,
            ropeType: rope?.ropeType ?? rope?.type ?? "default",
            tieWordEmbeddings: try bool(.tieWordEmbeddings) ?? false,
            attentionBias: attentionBias,
            decoderSparseStep: try int(.decoderSparseStep) ?? 1,
            mlpOnlyLayers: try c.decodeIfPresent([Int].self, forKey: .mlpOnlyLayers) ?? [],
            routerAuxLossCoef: Float(try double(.routerAuxLossCoef) ?? d.routerAuxLossCoef),
            maxPositionEmbeddings: try int(.maxPositionEmbeddings) ?? d.maxPositionEmbeddings,
            bosTokenId: c.contains(.bosTokenId) ? try Self.firstTokenId(c, .bosTokenId) : d.bosTokenId,
            eosTokenId: c.contains(.eosTokenId) ? try Self.firstTokenId(c, .eosTokenId) : d.eosTokenId,
            clipQKV: family == .olmoe ? try double(.clipQKV).map(Float.init) : nil,
            slidingWindow: window,
            expertsPerLayer: try c.decodeIfPresent([Int].self, forKey: .expertsPerLayer),
            torchDtype: try c.decodeIfPresent(String.self, forKey: .dtype)
                ?? c.decodeIfPresent(String.self, forKey: .torchDtype),
            hiddenAct: try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "silu")
    }

    /// A token id given as an int, a list of ints (first wins) or null.
    private static func firstTokenId(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Int? {
        if try c.decodeNil(forKey: key) { return nil }
        if let id = try? c.decode(Int.self, forKey: key) { return id }
        return try c.decode([Int].self, forKey: key).first
    }

    /// Writes the keys the family's transformers config declares (v5 spelling), plus
    /// `expertlock_experts_per_layer` when set, so `JSONDecoder` reads back an equal value.
    public func encode(to encoder: any Swift.Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let family = self.family
        try c.encode(modelType, forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(numExperts, forKey: family == .mixtral ? .numLocalExperts : .numExperts)
        try c.encode(numExpertsPerToken, forKey: .numExpertsPerToken)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(RopeParameters(ropeTheta: ropeTheta, ropeType: ropeType), forKey: .ropeParameters)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(routerAuxLossCoef, forKey: .routerAuxLossCoef)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(bosTokenId, forKey: .bosTokenId)
        try c.encode(eosTokenId, forKey: .eosTokenId)
        try c.encodeIfPresent(torchDtype, forKey: .dtype)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encodeIfPresent(expertsPerLayer, forKey: .expertsPerLayer)
        switch family {
        case .mixtral:
            try c.encode(slidingWindow, forKey: .slidingWindow)
        case .qwen2Moe, .qwen3Moe:
            try c.encode(moeIntermediateSize, forKey: .moeIntermediateSize)
            if family == .qwen2Moe {
                try c.encode(sharedExpertIntermediateSize, forKey: .sharedExpertIntermediateSize)
                try c.encode(attentionBias, forKey: .qkvBias)
            } else {
                try c.encode(attentionBias, forKey: .attentionBias)
            }
            try c.encode(decoderSparseStep, forKey: .decoderSparseStep)
            try c.encode(mlpOnlyLayers, forKey: .mlpOnlyLayers)
            try c.encode(normTopKProb, forKey: .normTopKProb)
            try c.encode(slidingWindow != nil, forKey: .useSlidingWindow)
            try c.encode(slidingWindow, forKey: .slidingWindow)
        case .olmoe:
            try c.encode(attentionBias, forKey: .attentionBias)
            try c.encode(clipQKV, forKey: .clipQKV)
            try c.encode(normTopKProb, forKey: .normTopKProb)
        case nil:
            break
        }
    }
}
