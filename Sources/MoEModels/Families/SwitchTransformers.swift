// Port of transformers' modeling_switch_transformers.py (5.25): the T5 encoder-decoder with a top-1
// sparse MLP in every `encoder_sparse_step`-th / `decoder_sparse_step`-th block.
import Foundation

/// `config.json` of a `switch_transformers` checkpoint (google/switch-base-8 … switch-base-256, switch-large-128).
/// Defaults are `SwitchTransformersConfig`'s; the sparse steps are derived from the sparse-layer counts, as its
/// `__post_init__` does (a stored `encoder_sparse_step` is overwritten there, so it is not read here).
public struct SwitchTransformersConfig: Codable, Sendable, Equatable {
    public static let modelType = "switch_transformers"
    public static let architecture = "SwitchTransformersForConditionalGeneration"

    public var vocabSize = 32128
    public var dModel = 768
    public var dKV = 64
    public var dFF = 2048
    public var expertCapacity = 64
    public var numLayers = 12
    public var numSparseEncoderLayers = 3
    public var numDecoderLayers: Int? = 12
    public var numSparseDecoderLayers = 3
    public var numHeads = 12
    public var numExperts = 8
    public var routerBias = false
    public var routerJitterNoise = 0.01
    public var routerDtype = "float32"
    public var relativeAttentionNumBuckets = 32
    public var relativeAttentionMaxDistance = 128
    public var layerNormEpsilon = 1e-6
    public var routerZLossCoef = 0.001
    public var routerAuxLossCoef = 0.001
    public var denseActFn = "relu"
    public var padTokenId: Int? = 0
    public var eosTokenId: Int? = 1
    public var decoderStartTokenId: Int? = nil
    public var tieWordEmbeddings = true
    /// Experts per sparse layer after a non-uniform ExpertLock removal (`expertlock_experts_per_layer`:
    /// encoder sparse layers, then decoder ones); transformers cannot load such a checkpoint.
    public var expertsPerLayer: [Int]? = nil

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case dModel = "d_model"
        case dKV = "d_kv"
        case dFF = "d_ff"
        case expertCapacity = "expert_capacity"
        case numLayers = "num_layers"
        case numSparseEncoderLayers = "num_sparse_encoder_layers"
        case numDecoderLayers = "num_decoder_layers"
        case numSparseDecoderLayers = "num_sparse_decoder_layers"
        case numHeads = "num_heads"
        case numExperts = "num_experts"
        case routerBias = "router_bias"
        case routerJitterNoise = "router_jitter_noise"
        case routerDtype = "router_dtype"
        case relativeAttentionNumBuckets = "relative_attention_num_buckets"
        case relativeAttentionMaxDistance = "relative_attention_max_distance"
        case layerNormEpsilon = "layer_norm_epsilon"
        case routerZLossCoef = "router_z_loss_coef"
        case routerAuxLossCoef = "router_aux_loss_coef"
        case denseActFn = "dense_act_fn"
        case padTokenId = "pad_token_id"
        case eosTokenId = "eos_token_id"
        case decoderStartTokenId = "decoder_start_token_id"
        case tieWordEmbeddings = "tie_word_embeddings"
        case expertsPerLayer = "expertlock_experts_per_layer"
    }

    public init() {}

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        func tokenId(_ key: CodingKeys, _ fallback: Int?) throws -> Int? {
            guard c.contains(key) else { return fallback }
            if try c.decodeNil(forKey: key) { return nil }
            if let id = try? c.decode(Int.self, forKey: key) { return id }
            return try c.decode([Int].self, forKey: key).first
        }
        let d = SwitchTransformersConfig()
        vocabSize = try value(.vocabSize, d.vocabSize)
        dModel = try value(.dModel, d.dModel)
        dKV = try value(.dKV, d.dKV)
        dFF = try value(.dFF, d.dFF)
        expertCapacity = try value(.expertCapacity, d.expertCapacity)
        numLayers = try value(.numLayers, d.numLayers)
        numSparseEncoderLayers = try value(.numSparseEncoderLayers, d.numSparseEncoderLayers)
        numDecoderLayers =
            c.contains(.numDecoderLayers) ? try c.decodeIfPresent(Int.self, forKey: .numDecoderLayers) : 12
        numSparseDecoderLayers = try value(.numSparseDecoderLayers, d.numSparseDecoderLayers)
        numHeads = try value(.numHeads, d.numHeads)
        numExperts = try value(.numExperts, d.numExperts)
        routerBias = try value(.routerBias, d.routerBias)
        routerJitterNoise = try value(.routerJitterNoise, d.routerJitterNoise)
        routerDtype = try value(.routerDtype, d.routerDtype)
        relativeAttentionNumBuckets = try value(.relativeAttentionNumBuckets, d.relativeAttentionNumBuckets)
        relativeAttentionMaxDistance = try value(.relativeAttentionMaxDistance, d.relativeAttentionMaxDistance)
        layerNormEpsilon = try value(.layerNormEpsilon, d.layerNormEpsilon)
        routerZLossCoef = try value(.routerZLossCoef, d.routerZLossCoef)
        routerAuxLossCoef = try value(.routerAuxLossCoef, d.routerAuxLossCoef)
        denseActFn = try value(.denseActFn, d.denseActFn)
        padTokenId = try tokenId(.padTokenId, d.padTokenId)
        eosTokenId = try tokenId(.eosTokenId, d.eosTokenId)
        decoderStartTokenId = try tokenId(.decoderStartTokenId, d.decoderStartTokenId)
        tieWordEmbeddings = try value(.tieWordEmbeddings, d.tieWordEmbeddings)
        expertsPerLayer = try c.decodeIfPresent([Int].self, forKey: .expertsPerLayer)
    }

    /// Decoder blocks (`num_decoder_layers`, null: as many as the encoder's).
    public var decoderLayerCount: Int { numDecoderLayers ?? numLayers }

    // Trap: transformers' step is layers // sparse layers, and block i is sparse when i % step == 1 or step == 1;
    // with no sparse layers the step is the layer count, which still makes block 1 sparse ("HACK" in the config).
    static func sparseStep(layers: Int, sparse: Int) -> Int { sparse > 0 ? layers / sparse : layers }

    public var encoderSparseStep: Int { Self.sparseStep(layers: numLayers, sparse: numSparseEncoderLayers) }
    public var decoderSparseStep: Int { Self.sparseStep(layers: decoderLayerCount, sparse: numSparseDecoderLayers) }

    static func isSparse(_ block: Int, step: Int) -> Bool { step > 0 && (block % step == 1 || step == 1) }

    /// The sparse blocks of a stack, in order.
    public func sparseBlocks(_ stack: SwitchStack) -> [Int] {
        let step = stack == .encoder ? encoderSparseStep : decoderSparseStep
        return (0..<(stack == .encoder ? numLayers : decoderLayerCount)).filter { Self.isSparse($0, step: step) }
    }

    /// Every sparse layer of the model, encoder first: the order of router logits, attribution and plans.
    public var sparseLayers: [SwitchLayerID] {
        SwitchStack.allCases.flatMap { stack in sparseBlocks(stack).map { SwitchLayerID(stack: stack, block: $0) } }
    }

    /// A block's index over both stacks: encoder blocks 0..<num_layers, then the decoder's.
    public func flatIndex(_ layer: SwitchLayerID) -> Int {
        layer.stack == .encoder ? layer.block : numLayers + layer.block
    }

    /// The feed-forward activation (`dense_act_fn`, transformers' ACT2FN names this port computes).
    public var activation: FeedForwardActivation? { FeedForwardActivation(rawValue: denseActFn) }

    /// Refuses what the port cannot honour or what describes no model.
    public func validate(file: String) throws {
        let check = ConfigCheck(file: file)
        try check(vocabSize > 0 && dModel > 0 && dKV > 0 && dFF > 0 && numHeads > 0, "sizes must be positive")
        try check(numLayers > 0 && decoderLayerCount > 0, "num_layers and num_decoder_layers must be positive")
        try check(numExperts > 0, "num_experts must be positive")
        try check(expertCapacity >= 0, "expert_capacity must not be negative")
        try check(
            numSparseEncoderLayers >= 0 && numSparseDecoderLayers >= 0, "sparse layer counts must not be negative")
        // Trap: the logarithmic buckets divide by log(max_distance / max_exact) (max_exact = buckets / 2 in the
        // decoder): at or below max_exact they go negative or infinite, and transformers indexes out of range.
        try check(relativeAttentionNumBuckets >= 4, "relative_attention_num_buckets must be at least 4")
        try check(
            relativeAttentionMaxDistance > relativeAttentionNumBuckets / 2,
            "relative_attention_max_distance must exceed relative_attention_num_buckets / 2 (the exact buckets)")
        try check(activation != nil, "dense_act_fn '\(denseActFn)' is not supported (relu, gelu_new, silu)")
        try check(!routerBias, "router_bias true is not supported (no released checkpoint has it)")
        try check(routerDtype == "float32", "router_dtype '\(routerDtype)' is not supported (float32)")
        if let expertsPerLayer {
            try check(
                expertsPerLayer.count == sparseLayers.count && expertsPerLayer.allSatisfy { $0 > 0 },
                "expertlock_experts_per_layer needs one positive count per sparse layer")
        }
    }

    /// Reads and validates `config.json` (a folder or the file).
    public static func load(from url: URL) throws -> SwitchTransformersConfig {
        let file = ModelConfig.configFile(url)
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw ConfigError.fileNotFound(file: file.path)
        }
        let config: SwitchTransformersConfig
        do {
            config = try JSONDecoder().decode(SwitchTransformersConfig.self, from: data)
        } catch let error as DecodingError {
            throw ConfigError.invalidJSON(file: file.path, reason: "\(error)".prefix(200).description)
        }
        try config.validate(file: file.path)
        return config
    }

    /// The `model_type` of a config file, nil when it has none or is unreadable.
    public static func modelType(at url: URL) -> String? {
        guard let data = FileManager.default.contents(atPath: ModelConfig.configFile(url).path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object["model_type"] as? String
    }

    /// Expert count of sparse layer `i` (in `sparseLayers` order).
    public func expertCount(sparseLayer i: Int) -> Int { expertsPerLayer?[i] ?? numExperts }
}

/// The two stacks of an encoder-decoder.
public enum SwitchStack: String, Sendable, CaseIterable, Codable {
    case encoder, decoder
}

/// A sparse layer named by stack and block, as attribution and plans print it (`encoder.3`, `decoder.1`).
public struct SwitchLayerID: Sendable, Hashable, CustomStringConvertible {
    public var stack: SwitchStack
    public var block: Int
    public init(stack: SwitchStack, block: Int) {
        self.stack = stack
        self.block = block
    }
    public var description: String { "\(stack.rawValue).\(block)" }
}

/// The feed-forward activations a T5-style `DenseActDense` may use.
public enum FeedForwardActivation: String, Sendable {
    case relu
    case geluNew = "gelu_new"
    case geluTanh = "gelu_pytorch_tanh"
    case silu
}

/// Hugging Face tensor names of the switch model (the `SwitchTransformersForConditionalGeneration` layout).
enum SwitchNames {
    static let shared = "shared.weight"
    static let lmHead = "lm_head.weight"
    /// Copies of `shared.weight` some checkpoints also store (tied; ignored when loading).
    static let tiedCopies = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]

    static func block(_ stack: SwitchStack, _ i: Int) -> String { "\(stack.rawValue).block.\(i)" }
    static func finalNorm(_ stack: SwitchStack) -> String { "\(stack.rawValue).final_layer_norm.weight" }
    /// `layer.0` self-attention, decoder `layer.1` cross-attention, then the feed-forward layer.
    static func selfAttention(_ stack: SwitchStack, _ i: Int) -> String { "\(block(stack, i)).layer.0" }
    static func crossAttention(_ i: Int) -> String { "\(block(.decoder, i)).layer.1" }
    static func feedForward(_ stack: SwitchStack, _ i: Int) -> String {
        "\(block(stack, i)).layer.\(stack == .encoder ? 1 : 2)"
    }
    static func router(_ layer: SwitchLayerID) -> String {
        "\(feedForward(layer.stack, layer.block)).mlp.router.classifier.weight"
    }
    static func expert(_ layer: SwitchLayerID, _ e: Int, _ projection: String) -> String {
        "\(feedForward(layer.stack, layer.block)).mlp.experts.expert_\(e).\(projection).weight"
    }
}

/// A switch checkpoint's MoE tensor read back from its name: the inverse of `SwitchNames.expert` and
/// `SwitchNames.router`, for `lock`, `log verify` and provenance, which read roles from a file's names (a tampered
/// checkpoint may not load):
///
///     {encoder|decoder}.block.B.layer.M.mlp.experts.expert_E.{wi|wo}.weight   one expert's projection
///     {encoder|decoder}.block.B.layer.M.mlp.router.classifier.weight         the router [E, C]; row e scores expert e
///
/// M is the feed-forward sub-layer (1 in the encoder, 2 in the decoder, after cross-attention). A name is accepted
/// only when formatting the parsed parts gives it back, so `block.01` or a decoder `layer.1` is no expert.
public enum SwitchTensorName: Equatable, Sendable {
    case expert(SwitchLayerID, expert: Int, projection: String)
    case router(SwitchLayerID)

    public init?(parsing name: String) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 9, let stack = SwitchStack(rawValue: parts[0]), let block = Int(parts[2]) else {
            return nil
        }
        let layer = SwitchLayerID(stack: stack, block: block)
        let parsed: SwitchTensorName
        if parts.count == 10, parts[7].hasPrefix("expert_"), let e = Int(parts[7].dropFirst("expert_".count)),
            ["wi", "wo"].contains(parts[8])
        {
            parsed = .expert(layer, expert: e, projection: parts[8])
        } else {
            parsed = .router(layer)
        }
        guard parsed.text == name else { return nil }
        self = parsed
    }

    /// The name as the checkpoint spells it.
    public var text: String {
        switch self {
        case let .expert(layer, expert, projection): SwitchNames.expert(layer, expert, projection)
        case let .router(layer): SwitchNames.router(layer)
        }
    }

    public var layer: SwitchLayerID {
        switch self {
        case let .expert(layer, _, _), let .router(layer): layer
        }
    }
}

extension SwitchLayerID: Comparable {
    /// Encoder layers first, then the decoder's, each by block: the order of `sparseLayers`.
    public static func < (a: SwitchLayerID, b: SwitchLayerID) -> Bool {
        a.stack == b.stack ? a.block < b.block : a.stack == .encoder
    }
}
