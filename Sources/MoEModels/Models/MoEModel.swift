import TensorCore

/// What a forward pass returns.
public struct ForwardOutput {
    /// The output head [V, C] the logits come from.
    public var head: Variable
    /// Next-token logits [N, V] (a graph node when parameters are trainable), computed on access:
    /// training takes its loss from `languageModelLoss`, which never builds all of them.
    public var logits: Variable { linear(hidden, head) }
    /// Raw router logits [N, E_l] of each sparse layer, in layer order (as transformers'
    /// `output_router_logits`); empty unless requested.
    public var routerLogits: [Tensor]
    /// Final hidden states after the last norm [N, C], for representation-based strategies.
    public var hidden: Variable
    /// The Switch/Mixtral load-balancing loss (a graph node), when `ForwardOptions` asks for it.
    public var auxiliaryLoss: Variable? = nil
    /// The ST-MoE router z-loss (a graph node), when `ForwardOptions` asks for it.
    public var routerZLoss: Variable? = nil
    /// The logits each sparse layer's router chose from (mask applied), graph nodes in layer order,
    /// when `ForwardOptions.recordRoutedLogits` asks for them.
    public var routedLogits: [Variable] = []
    /// Each sparse layer's gated expert outputs, in layer order (nil for a layer that routed nothing),
    /// when `ForwardOptions.recordExpertOutputs` asks for them.
    public var expertOutputs: [ExpertOutputs?] = []

    /// Mean next-token cross-entropy over `targets` (one per row; `ignoreIndex` rows count for
    /// nothing): `crossEntropy(logits, …)` a chunk of rows at a time (`linearCrossEntropy`).
    public func languageModelLoss(targets: [Int], ignoreIndex: Int = -100) -> Variable {
        linearCrossEntropy(hidden, weight: head, targets: targets, ignoreIndex: ignoreIndex)
    }
}

/// A decoder-only Mixture-of-Experts transformer of one of the supported families.
/// Shapes: ids [B*T] -> embeddings [N, C] -> layers -> norm -> logits [N, V].
public final class MoEModel {
    public let config: ModelConfig
    public let family: ModelFamily
    public let embedTokens: Parameter
    public let layers: [DecoderLayer]
    public let finalNorm: Parameter
    /// The output projection [V, C]; the embedding matrix itself when embeddings are tied.
    public let lmHead: Parameter
    /// What loading or pruning decided that the user should hear (the load or prune report): a family
    /// taken from `architectures`, multi-token-prediction layers skipped, routing groups rewritten.
    public var notes: [String] = []
    /// Checkpoint tensors skipped on purpose (multi-token-prediction layers), named in `notes`.
    public var skippedTensors: [String] = []
    /// The other towers of a multimodal checkpoint (Qwen3.5-MoE's vision encoder), read only to be written back.
    public var otherTowerTensors: [Parameter] = []
    /// The MXFP4 checkpoint the experts were dequantised from (nil: not quantised), for byte-exact pruning.
    public var quantizedExperts: QuantizedExpertSource?
    /// The experts a mask-pruned checkpoint leaves routable (its `expertlock_mask.json`, or
    /// `prune --mode mask`), one list of flags per sparse layer; nil: all. Part of what the model is,
    /// like its config: a pass that tries another mask passes it in `ForwardOptions.expertMask`.
    public var expertMask: [[Bool]]?

    /// Builds the model, asking `parameters` for every weight by its Hugging Face name.
    public init(config: ModelConfig, parameters p: ParameterFactory) throws {
        guard let family = config.family else {
            throw ModelError.unsupportedModelType(config.modelType)
        }
        self.config = config
        self.family = family
        embedTokens = try p("model.embed_tokens.weight", [config.vocabSize, config.hiddenSize])
        layers = try (0..<config.numHiddenLayers).map {
            try DecoderLayer(index: $0, config: config, family: family, parameters: p)
        }
        finalNorm = try p("model.norm.weight", [config.hiddenSize])
        lmHead =
            config.tieWordEmbeddings
            ? embedTokens : try p("lm_head.weight", [config.vocabSize, config.hiddenSize])
    }

    /// The same layers under other header fields (`masked`): weights are shared, not copied.
    private init(sharing other: MoEModel) {
        config = other.config
        family = other.family
        embedTokens = other.embedTokens
        layers = other.layers
        finalNorm = other.finalNorm
        lmHead = other.lmHead
        notes = other.notes
        skippedTensors = other.skippedTensors
        expertMask = other.expertMask
    }

    /// This model with `mask` as its `expertMask`, sharing every weight (nothing is copied): a pruning
    /// candidate evaluated beside the full model, without setting a mask on it and undoing it after.
    public func masked(_ mask: [[Bool]]?) -> MoEModel {
        let view = MoEModel(sharing: self)
        view.expertMask = mask
        return view
    }

    /// An independent model with the same values: training either leaves the other as it was. Values
    /// are shared copy-on-write until one side writes them; a mapped weight keeps reading its file.
    public func copy() throws -> MoEModel {
        var byName: [String: Parameter] = [:]
        for p in parameters { byName[p.name] = p }
        let copied = try MoEModel(config: config) { name, _ in
            guard let p = byName[name] else { throw ModelError.missingTensor(file: "model copy", name: name) }
            return p.copy()
        }
        copied.notes = notes
        copied.skippedTensors = skippedTensors
        copied.expertMask = expertMask
        return copied
    }

    /// Every parameter once, in checkpoint order (a tied lm_head is not repeated).
    public var parameters: [Parameter] {
        var all = [embedTokens]
        for layer in layers { all += layer.parameters }
        all.append(finalNorm)
        if !config.tieWordEmbeddings { all.append(lmHead) }
        return all
    }

    /// Throws `tokenOutOfRange` for the first id outside the vocabulary: every entry point checks
    /// before it embeds (a gather out of range would trap).
    public func checkTokens(_ batch: TokenBatch) throws {
        for id in batch.ids where id < 0 || id >= config.vocabSize {
            throw ModelError.tokenOutOfRange(id: id, vocabSize: config.vocabSize)
        }
    }

    /// The sparse blocks, in layer order.
    public var moeBlocks: [SparseMoEBlock] { layers.compactMap(\.moe) }

    /// Runs the model on a batch. `observer` sees every routing decision; `recordRouterLogits`
    /// keeps each sparse layer's raw router logits in the output.
    ///
    /// With a `cache` (inference only, one unpadded sequence) the batch continues the cached
    /// sequence: its tokens take positions `cache.length…`, attend over the cached keys too, and
    /// are added to the cache. A prompt's prefill and each decoding step are this same call.
    public func forward(
        _ batch: TokenBatch, cache: KVCache? = nil, observer: RoutingObserver? = nil, recordRouterLogits: Bool = false
    ) throws -> ForwardOutput {
        var options = ForwardOptions(observer: observer, recordRouterLogits: recordRouterLogits)
        options.cache = cache
        return try forward(batch, options: options)
    }

    /// Runs the model on a batch with the router losses `options` asks for (training).
    public func forward(_ batch: TokenBatch, options: ForwardOptions) throws -> ForwardOutput {
        let cache = options.cache
        try checkTokens(batch)
        precondition(
            cache == nil || (batch.batch == 1 && batch.lengths == nil), "a KV cache holds one unpadded sequence")
        let committed = cache?.length ?? 0
        var routerLogits: [Tensor] = [], routed: [Variable] = [], expertOutputs: [ExpertOutputs?] = []
        let h: Variable
        do {
            h = try throughLayers(batch, options: options) { routing in
                if options.recordRouterLogits { routerLogits.append(routing.logits.value) }
                if options.needsRoutedLogits { routed.append(routing.routed) }
                if options.recordExpertOutputs { expertOutputs.append(routing.expertOutputs) }
            }
        } catch {
            cache?.truncate(to: committed)  // keep the cache consistent for the caller
            throw error
        }
        cache?.advance(by: batch.seq)
        let normed = try normalized(h)
        var output = ForwardOutput(head: try lmHead.variable(), routerLogits: routerLogits, hidden: normed)
        if options.recordRoutedLogits { output.routedLogits = routed }
        output.expertOutputs = expertOutputs
        if !routed.isEmpty {
            let rows = RouterLosses.validRows(batch)
            if options.loadBalancingLoss {
                output.auxiliaryLoss = RouterLosses.loadBalancing(routed, topK: config.numExpertsPerToken, rows: rows)
            }
            if options.routerZLoss { output.routerZLoss = RouterLosses.zLoss(routed, rows: rows) }
        }
        return output
    }
}

extension MoEModel {
    /// The checkpoint's name of weight `name` when the language model sits under `languageModelPrefix`
    /// (`model.embed_tokens.weight` -> `model.language_model.embed_tokens.weight`; `lm_head.weight` unchanged).
    static func checkpointName(_ name: String, languageModelPrefix: String?) -> String {
        guard let prefix = languageModelPrefix, name.hasPrefix("model.") else { return name }
        return prefix + name.dropFirst("model".count)
    }
}

/// Problems with a model's files or its inputs.
public enum ModelError: InputError, Equatable {
    case unsupportedModelType(String)
    case missingTensor(file: String, name: String)
    case shapeMismatch(file: String, name: String, expected: [Int], actual: [Int])
    case unexpectedTensors(file: String, names: [String])
    case tokenOutOfRange(id: Int, vocabSize: Int)
    case unsupported(file: String, feature: String)

    public var description: String {
        switch self {
        case .unsupportedModelType(let t):
            return
                "model_type "
                + "'\(t)' is not supported "
                + "(supported: \(ModelFamily.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .missingTensor(let file, let name):
            return "\(file): missing tensor '\(name)'"
        case .shapeMismatch(let file, let name, let expected, let actual):
            return "\(file): tensor '\(name)' has shape \(actual), expected \(expected) from config.json"
        case .unexpectedTensors(let file, let names):
            let shown = names.prefix(5).joined(separator: ", ")
            return "\(file): \(names.count) tensor(s) the model does not use: \(shown)\(names.count > 5 ? ", …" : "")"
        case .tokenOutOfRange(let id, let vocabSize):
            return "token id \(id) is outside the model's vocabulary (0..<\(vocabSize)): the ids come from another "
                + "model's tokenizer (compare tokenizer.json with config.json's vocab_size)"
        case .unsupported(let file, let feature):
            return "\(file): \(feature) is not supported"
        }
    }
}
