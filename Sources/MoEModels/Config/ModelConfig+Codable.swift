import Foundation

/// `config.json` ↔ `ModelConfig`. The shared keys are read once (`ConfigReader.common`); each family's
/// file reads its own keys with its transformers defaults (`FamilyDefinition.decode`).
///
/// Traps handled for every family:
/// - RoPE base: transformers 5 writes `rope_parameters: {rope_theta, rope_type, …}`; 4.x wrote a
///   top-level `rope_theta` and maybe `rope_scaling`. Priority as in `convert_rope_params_to_dict`:
///   `rope_scaling` (replaces `rope_parameters` when non-null), then `rope_parameters`, then
///   `rope_theta`, then the class `default_theta`. A rope type ExpertLock does not implement is refused.
/// - Expert count under either spelling (`FamilyDefinition.expertCountKeys`); two different values are an error.
/// - `num_key_value_heads`: absent → the class default; explicit null → heads.
/// - `head_dim`: absent or null → hidden / heads (Mixtral v5 saves `"head_dim": null`).
/// - `dtype` (v5) wins over `torch_dtype` (v4) when both are present, as in `PreTrainedConfig`.
extension ModelConfig: Codable {
    /// `decoder.userInfo[fileKey]`: the path named in errors thrown while decoding.
    static let fileKey = CodingUserInfoKey(rawValue: "expertlock.configFile")!

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let file = decoder.userInfo[Self.fileKey] as? String ?? "config.json"
        let modelType = try c.decode(String.self, forKey: AnyKey("model_type"))
        let architectures = (try? c.decodeIfPresent([String].self, forKey: AnyKey("architectures"))) ?? []
        guard let family = ModelFamily.resolve(modelType: modelType, architectures: architectures) else {
            throw ConfigError.unknownModelType(file: file, modelType: modelType)
        }
        self = try family.definition.decode(ConfigReader(c: c, file: file, modelType: modelType))
        // Kept only when it chose the family: a config's identity (`lock`'s hash) is otherwise unchanged.
        if family.rawValue != modelType { self.architectures = architectures }
    }

    /// Writes the keys the family's transformers config declares (v5 spelling), plus
    /// `expertlock_experts_per_layer` when set, so `JSONDecoder` reads back an equal value.
    public func encode(to encoder: any Swift.Encoder) throws {
        var w = ConfigWriter(c: encoder.container(keyedBy: AnyKey.self))
        try w.set("model_type", modelType)
        try w.set("vocab_size", vocabSize)
        try w.set("hidden_size", hiddenSize)
        try w.set("intermediate_size", intermediateSize)
        try w.set("num_hidden_layers", numHiddenLayers)
        try w.set("num_attention_heads", numAttentionHeads)
        try w.set("num_key_value_heads", numKeyValueHeads)
        try w.set("head_dim", headDim)
        try w.set("num_experts_per_tok", numExpertsPerToken)
        try w.set("rms_norm_eps", rmsNormEps)
        try w.set("tie_word_embeddings", tieWordEmbeddings)
        try w.set("router_aux_loss_coef", routerAuxLossCoef)
        try w.set("max_position_embeddings", maxPositionEmbeddings)
        try w.set("bos_token_id", bosTokenId)
        try w.set("eos_token_id", eosTokenId)
        try w.setIfPresent("dtype", torchDtype)
        try w.set("hidden_act", hiddenAct)
        try w.setIfPresent("expertlock_experts_per_layer", expertsPerLayer)
        try w.setIfPresent("expertlock_expert_intermediate_sizes", expertIntermediateSizes)
        if !architectures.isEmpty { try w.set("architectures", architectures) }
        try w.set(
            "rope_parameters",
            RopeParametersOut(
                theta: ropeTheta, type: ropeType, scaling: rotaryScaling,
                partialRotaryFactor: partialRotaryFactor))
        if let fp8 {
            try w.set(
                "quantization_config",
                QuantizationObject(
                    quantMethod: "fp8", fmt: "e4m3", activationScheme: "dynamic", weightBlockSize: fp8.blockSize))
        }
        guard let family else { return }
        try w.set(family.expertCountKeys.declared, numExperts)
        try family.definition.encode(self, into: &w)
    }
}

/// `rope_parameters` as transformers 5 writes it.
private struct RopeParametersOut: Encodable {
    var theta: Double
    var type: String
    var scaling: RotaryScaling
    var partialRotaryFactor: Double

    func encode(to encoder: any Swift.Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(theta, forKey: AnyKey("rope_theta"))
        try c.encode(type, forKey: AnyKey("rope_type"))
        if partialRotaryFactor != 1 { try c.encode(partialRotaryFactor, forKey: AnyKey("partial_rotary_factor")) }
        switch scaling {
        case .none: break
        case .linear(let factor): try c.encode(factor, forKey: AnyKey("factor"))
        case let .llama3(factor, low, high, original):
            try c.encode(factor, forKey: AnyKey("factor"))
            try c.encode(low, forKey: AnyKey("low_freq_factor"))
            try c.encode(high, forKey: AnyKey("high_freq_factor"))
            try c.encode(original, forKey: AnyKey("original_max_position_embeddings"))
        case .yarn(let y):
            try c.encode(y.factor, forKey: AnyKey("factor"))
            try c.encode(y.originalMaxPositions, forKey: AnyKey("original_max_position_embeddings"))
            try c.encode(y.betaFast, forKey: AnyKey("beta_fast"))
            try c.encode(y.betaSlow, forKey: AnyKey("beta_slow"))
            try c.encodeIfPresent(y.mscale, forKey: AnyKey("mscale"))
            try c.encodeIfPresent(y.mscaleAllDim, forKey: AnyKey("mscale_all_dim"))
            try c.encodeIfPresent(y.attentionFactor, forKey: AnyKey("attention_factor"))
            try c.encode(y.truncate, forKey: AnyKey("truncate"))
        }
    }
}
