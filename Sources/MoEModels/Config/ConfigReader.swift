import Foundation

/// A config.json key by its Hugging Face spelling.
struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// One family's defaults for the keys every family shares (its transformers config class defaults).
struct FamilyDefaults {
    /// nil: as many key/value heads as attention heads.
    var numKeyValueHeads: Int?
    /// nil: `intermediate_size` is required; else its value when absent (a family without dense MLPs).
    var intermediateSize: Int? = nil
    var maxPositionEmbeddings: Int
    var rmsNormEps: Double
    /// `default_theta` of the config class (`PreTrainedConfig` uses 10 000 unless overridden).
    var ropeTheta: Double = 10_000
    var numExperts: Int
    var numExpertsPerToken: Int
    var normTopKProb: Bool
    var routerAuxLossCoef: Double = 0.001
    var attentionBias = false
    var bosTokenId: Int? = nil
    var eosTokenId: Int? = nil
}

/// Reads config.json keys for a family's `decode`: typed, optional, with the traps every family shares
/// handled once (expert-count spellings, rope parameters, null key/value heads, token-id lists).
struct ConfigReader {
    let c: KeyedDecodingContainer<AnyKey>
    let file: String
    let modelType: String

    func has(_ key: String) -> Bool { c.contains(AnyKey(key)) }
    /// The keys of a nested object (a multimodal config's `text_config`), read with the same file and model_type.
    func nested(_ key: String) throws -> ConfigReader {
        ConfigReader(
            c: try c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey(key)), file: file, modelType: modelType)
    }
    func int(_ key: String) throws -> Int? { try c.decodeIfPresent(Int.self, forKey: AnyKey(key)) }
    func double(_ key: String) throws -> Double? { try c.decodeIfPresent(Double.self, forKey: AnyKey(key)) }
    func bool(_ key: String) throws -> Bool? { try c.decodeIfPresent(Bool.self, forKey: AnyKey(key)) }
    func string(_ key: String) throws -> String? { try c.decodeIfPresent(String.self, forKey: AnyKey(key)) }
    func ints(_ key: String) throws -> [Int]? { try c.decodeIfPresent([Int].self, forKey: AnyKey(key)) }
    func strings(_ key: String) throws -> [String]? { try c.decodeIfPresent([String].self, forKey: AnyKey(key)) }
    func required(_ key: String) throws -> Int { try c.decode(Int.self, forKey: AnyKey(key)) }
    func isExplicitNull(_ key: String) throws -> Bool { has(key) ? try c.decodeNil(forKey: AnyKey(key)) : false }

    /// A token id given as an int, a list of ints (first wins) or null; absent: `fallback`.
    func tokenId(_ key: String, default fallback: Int?) throws -> Int? {
        guard has(key) else { return fallback }
        if try c.decodeNil(forKey: AnyKey(key)) { return nil }
        if let id = try? c.decode(Int.self, forKey: AnyKey(key)) { return id }
        return try c.decode([Int].self, forKey: AnyKey(key)).first
    }

    /// The expert count under either spelling; two different values are an error.
    func expertCount(_ keys: (declared: String, alias: String)) throws -> Int? {
        let declared = try int(keys.declared)
        let alias = try int(keys.alias)
        if let declared, let alias, declared != alias {
            throw ConfigError.conflictingKeys(file: file, first: keys.declared, second: keys.alias)
        }
        return declared ?? alias
    }

    /// The `rope_parameters` / `rope_scaling` object (rope_scaling replaces rope_parameters when present,
    /// as transformers' `convert_rope_params_to_dict`), and the key it came from.
    func ropeObject() throws -> (RopeObject, key: String)? {
        if let scaling = try c.decodeIfPresent(RopeObject.self, forKey: AnyKey("rope_scaling")) {
            return (scaling, "rope_scaling")
        }
        if let parameters = try c.decodeIfPresent(RopeObject.self, forKey: AnyKey("rope_parameters")) {
            return (parameters, "rope_parameters")
        }
        return nil
    }

    /// The keys every family shares, with `d` for absent ones. The family then sets what differs.
    func common(_ d: FamilyDefaults, expertCountKeys: (declared: String, alias: String)) throws -> ModelConfig {
        let heads = try required("num_attention_heads")
        let kvHeads: Int? =
            try isExplicitNull("num_key_value_heads") ? heads : int("num_key_value_heads") ?? d.numKeyValueHeads
        let rope = try ropeObject()
        var config = ModelConfig(
            modelType: modelType,
            vocabSize: try required("vocab_size"),
            hiddenSize: try required("hidden_size"),
            intermediateSize: try d.intermediateSize.map { try int("intermediate_size") ?? $0 }
                ?? required("intermediate_size"),
            numHiddenLayers: try required("num_hidden_layers"),
            numAttentionHeads: heads,
            numKeyValueHeads: kvHeads,
            headDim: try int("head_dim"),
            numExperts: try expertCount(expertCountKeys) ?? d.numExperts,
            numExpertsPerToken: try int("num_experts_per_tok") ?? d.numExpertsPerToken,
            normTopKProb: try bool("norm_topk_prob") ?? d.normTopKProb,
            rmsNormEps: Float(try double("rms_norm_eps") ?? d.rmsNormEps),
            ropeTheta: try rope?.0.ropeTheta ?? double("rope_theta") ?? d.ropeTheta,
            ropeType: rope?.0.ropeType ?? rope?.0.type ?? "default",
            tieWordEmbeddings: try bool("tie_word_embeddings") ?? false,
            attentionBias: try bool("attention_bias") ?? d.attentionBias,
            decoderSparseStep: try int("decoder_sparse_step") ?? 1,
            mlpOnlyLayers: try ints("mlp_only_layers") ?? [],
            routerAuxLossCoef: Float(try double("router_aux_loss_coef") ?? d.routerAuxLossCoef),
            maxPositionEmbeddings: try int("max_position_embeddings") ?? d.maxPositionEmbeddings,
            bosTokenId: try tokenId("bos_token_id", default: d.bosTokenId),
            eosTokenId: try tokenId("eos_token_id", default: d.eosTokenId),
            expertsPerLayer: try ints("expertlock_experts_per_layer"),
            torchDtype: try string("dtype") ?? string("torch_dtype"),
            hiddenAct: try string("hidden_act") ?? "silu")
        config.expertIntermediateSizes = try c.decodeIfPresent(
            [[Int]].self, forKey: AnyKey("expertlock_expert_intermediate_sizes"))
        if let (object, key) = rope { config.rotaryScaling = try object.scaling(file: file, key: key) }
        let partial = try rope?.0.partialRotaryFactor ?? double("partial_rotary_factor")
        if let partial { config.partialRotaryFactor = partial }
        config.fp8 = try fp8Quantization()
        return config
    }

    /// `quantization_config`: block-scaled FP8 (`quant_method: fp8`) is read; every other method, format or
    /// option would change the weights' meaning and is refused by name.
    func fp8Quantization() throws -> FP8Quantization? {
        guard has("quantization_config"), !(try isExplicitNull("quantization_config")) else { return nil }
        let q = try c.decode(QuantizationObject.self, forKey: AnyKey("quantization_config"))
        func refuse(_ key: String, _ reason: String) -> ConfigError {
            .invalidValue(file: file, key: "quantization_config.\(key)", reason: reason)
        }
        // gpt-oss's MXFP4 experts are read (and pruned byte for byte) by its fused layout (`FusedExperts.swift`).
        if q.quantMethod == "mxfp4" && modelType == GptOss.modelType { return nil }
        guard q.quantMethod == "fp8" else {
            throw refuse("quant_method", "'\(q.quantMethod ?? "null")' is not implemented (fp8 is; mxfp4 for gpt-oss)")
        }
        if let fmt = q.fmt, fmt != "e4m3" { throw refuse("fmt", "'\(fmt)' is not implemented (e4m3 is)") }
        if let scheme = q.activationScheme, scheme.lowercased() != "dynamic" {
            throw refuse("activation_scheme", "'\(scheme)' activation scales are not implemented (dynamic is)")
        }
        if let format = q.scaleFmt, format != "float" {
            throw refuse("scale_fmt", "'\(format)' scales are not implemented (float is)")
        }
        if let expert = q.expertDtype, expert != "fp8" {
            throw refuse("expert_dtype", "'\(expert)' is not implemented")
        }
        let block = q.weightBlockSize ?? [128, 128]
        guard block.count == 2, block.allSatisfy({ $0 > 0 }) else {
            throw refuse("weight_block_size", "must be two positive integers, got \(block)")
        }
        return FP8Quantization(blockSize: block)
    }
}

/// The `quantization_config` object, as transformers' `FineGrainedFP8Config` reads it.
struct QuantizationObject: Codable {
    var quantMethod: String?
    var fmt: String?
    var activationScheme: String?
    var weightBlockSize: [Int]?
    var scaleFmt: String? = nil
    var expertDtype: String? = nil

    enum CodingKeys: String, CodingKey {
        case quantMethod = "quant_method", fmt, activationScheme = "activation_scheme"
        case weightBlockSize = "weight_block_size", scaleFmt = "scale_fmt", expertDtype = "expert_dtype"
    }
}

/// The rope object of config.json; the keys each scaling type reads.
struct RopeObject: Decodable {
    var ropeTheta: Double?
    var ropeType: String?
    var type: String?
    var factor: Double?
    var originalMaxPositionEmbeddings: Int?
    var betaFast: Double?, betaSlow: Double?
    var mscale: Double?, mscaleAllDim: Double?
    var attentionFactor: Double?
    var lowFreqFactor: Double?, highFreqFactor: Double?
    var partialRotaryFactor: Double?
    var truncate: Bool?

    enum CodingKeys: String, CodingKey {
        case ropeTheta = "rope_theta", ropeType = "rope_type", type, factor
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        case betaFast = "beta_fast", betaSlow = "beta_slow", mscale, mscaleAllDim = "mscale_all_dim"
        case attentionFactor = "attention_factor"
        case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
        case partialRotaryFactor = "partial_rotary_factor", truncate
    }

    /// The scaling, or an error naming the type ExpertLock does not implement or the key it lacks.
    func scaling(file: String, key: String) throws -> RotaryScaling {
        let name = ropeType ?? type ?? "default"
        func need<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else {
                throw ConfigError.invalidValue(file: file, key: "\(key).\(field)", reason: "\(name) rope needs it")
            }
            return value
        }
        switch name {
        case "default": return .none
        case "linear": return .linear(factor: try need(factor, "factor"))
        case "llama3":
            return .llama3(
                factor: try need(factor, "factor"), lowFrequencyFactor: try need(lowFreqFactor, "low_freq_factor"),
                highFrequencyFactor: try need(highFreqFactor, "high_freq_factor"),
                originalMaxPositions: try need(originalMaxPositionEmbeddings, "original_max_position_embeddings"))
        case "yarn":
            var y = RotaryScaling.Yarn(
                factor: try need(factor, "factor"),
                originalMaxPositions: try need(originalMaxPositionEmbeddings, "original_max_position_embeddings"))
            if let betaFast, betaFast != 0 { y.betaFast = betaFast }
            if let betaSlow, betaSlow != 0 { y.betaSlow = betaSlow }
            y.mscale = mscale
            y.mscaleAllDim = mscaleAllDim
            y.attentionFactor = attentionFactor
            y.truncate = truncate ?? true
            return .yarn(y)
        default:
            throw ConfigError.invalidValue(
                file: file, key: "\(key).rope_type",
                reason: "rope type '\(name)' is not implemented (default, linear, llama3, yarn)")
        }
    }
}

/// Writes config.json keys for a family's `encode`.
struct ConfigWriter {
    var c: KeyedEncodingContainer<AnyKey>
    /// Writes `value` (nil as null).
    mutating func set<T: Encodable>(_ key: String, _ value: T?) throws {
        if let value { try c.encode(value, forKey: AnyKey(key)) } else { try c.encodeNil(forKey: AnyKey(key)) }
    }
    mutating func setIfPresent<T: Encodable>(_ key: String, _ value: T?) throws {
        try c.encodeIfPresent(value, forKey: AnyKey(key))
    }
}
