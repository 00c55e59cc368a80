import Foundation
import TensorCore

/// One T5 block: self-attention, (decoder) cross-attention, feed-forward, each pre-norm with a residual.
public final class SwitchBlock {
    public let selfAttention: RelativeAttention
    public let selfAttentionNorm: Parameter
    public let crossAttention: RelativeAttention?
    public let crossAttentionNorm: Parameter?
    public let feedForwardNorm: Parameter
    /// The sparse MLP, or the dense `DenseActDense` of a non-sparse block.
    public let sparse: SwitchSparseMLP?
    public let dense: DenseActDense?

    var parameters: [Parameter] {
        var all = selfAttention.parameters + [selfAttentionNorm]
        if let crossAttention, let crossAttentionNorm { all += crossAttention.parameters + [crossAttentionNorm] }
        all.append(feedForwardNorm)
        all += sparse?.parameters ?? dense?.parameters ?? []
        return all
    }

    init(
        stack: SwitchStack, index i: Int, config c: SwitchTransformersConfig, sparseLayer: Int?,
        parameters p: ParameterFactory
    ) throws {
        let attention = SwitchNames.selfAttention(stack, i)
        selfAttention = try RelativeAttention(
            prefix: "\(attention).SelfAttention", dModel: c.dModel, heads: c.numHeads, headDim: c.dKV, parameters: p)
        selfAttentionNorm = try p("\(attention).layer_norm.weight", [c.dModel])
        if stack == .decoder {
            let cross = SwitchNames.crossAttention(i)
            crossAttention = try RelativeAttention(
                prefix: "\(cross).EncDecAttention", dModel: c.dModel, heads: c.numHeads, headDim: c.dKV, parameters: p)
            crossAttentionNorm = try p("\(cross).layer_norm.weight", [c.dModel])
        } else {
            crossAttention = nil
            crossAttentionNorm = nil
        }
        let ff = SwitchNames.feedForward(stack, i)
        feedForwardNorm = try p("\(ff).layer_norm.weight", [c.dModel])
        let activation = c.activation ?? .relu
        if let sparseLayer {
            let id = SwitchLayerID(stack: stack, block: i)
            let e = c.expertCount(sparseLayer: sparseLayer)
            let experts = try (0..<e).map {
                try DenseActDense(
                    prefix: "\(ff).mlp.experts.expert_\($0)", dModel: c.dModel, dFF: c.dFF,
                    activation: activation, parameters: p)
            }
            sparse = SwitchSparseMLP(
                layer: c.flatIndex(id), id: id, router: try p(SwitchNames.router(id), [e, c.dModel]), experts: experts,
                capacity: c.expertCapacity)
            dense = nil
        } else {
            sparse = nil
            dense = try DenseActDense(
                prefix: "\(ff).mlp", dModel: c.dModel, dFF: c.dFF, activation: activation,
                parameters: p)
        }
    }
}

/// One stack (encoder or decoder): blocks over the shared embedding, the first owning the relative bias.
public final class SwitchStackModel {
    public let stack: SwitchStack
    public let blocks: [SwitchBlock]
    public let positionBias: RelativePositionBias
    public let finalNorm: Parameter

    init(stack: SwitchStack, config c: SwitchTransformersConfig, firstSparseLayer: Int, parameters p: ParameterFactory)
        throws
    {
        self.stack = stack
        let sparse = c.sparseBlocks(stack)
        let count = stack == .encoder ? c.numLayers : c.decoderLayerCount
        blocks = try (0..<count).map { i in
            try SwitchBlock(
                stack: stack, index: i, config: c, sparseLayer: sparse.firstIndex(of: i).map { firstSparseLayer + $0 },
                parameters: p)
        }
        positionBias = RelativePositionBias(
            table: try p(
                "\(SwitchNames.selfAttention(stack, 0)).SelfAttention.relative_attention_bias.weight",
                [c.relativeAttentionNumBuckets, c.numHeads]),
            buckets: c.relativeAttentionNumBuckets, maxDistance: c.relativeAttentionMaxDistance,
            bidirectional: stack == .encoder)
        finalNorm = try p(SwitchNames.finalNorm(stack), [c.dModel])
    }

    var parameters: [Parameter] { [positionBias.table] + blocks.flatMap(\.parameters) + [finalNorm] }
}

/// What one encoder-decoder pass over a batch of sequence pairs returns (rows: the sequences one after another).
public struct Seq2SeqOutput {
    /// Final decoder hidden states [N_dec, C], already scaled by d_model^-0.5 when embeddings are tied.
    public var hidden: Variable
    /// The output head [V, C].
    public var head: Variable
    public var logits: Variable { linear(hidden, head) }
    /// Final encoder hidden states [N_enc, C] (after its final norm).
    public var encoderHidden: Variable
    /// Raw router logits of every sparse layer (encoder first; rows of that stack's sequences), when recorded.
    public var routerLogits: [Tensor] = []
    /// Router z-loss and load-balancing loss, per stack summed, when asked (training).
    public var routerZLoss: Variable?
    public var auxiliaryLoss: Variable?
}

/// A Switch Transformer encoder-decoder (`SwitchTransformersForConditionalGeneration`).
public final class SwitchTransformersModel {
    public let config: SwitchTransformersConfig
    public let shared: Parameter
    public let encoder: SwitchStackModel
    public let decoder: SwitchStackModel
    /// [V, C]: `shared` when tied, else `lm_head.weight`.
    public let lmHead: Parameter
    /// Token embeddings of each stack [V, C]: `shared` when tied. Trap: with `tie_word_embeddings: false`
    /// transformers 5 unties all three tables, so `encoder.embed_tokens` and `decoder.embed_tokens` are weights
    /// of their own (and `shared` is then used by neither stack).
    public let encoderEmbedding: Parameter
    public let decoderEmbedding: Parameter
    public var notes: [String] = []
    /// Experts each sparse layer's router may choose (encoder first; nil: all), like `MoEModel.expertMask`: what
    /// the model is (`prune --mode mask`, a saved mask). The blocks hold no mask: each pass gets its own.
    public internal(set) var expertMask: [[Bool]]?

    public init(config: SwitchTransformersConfig, parameters p: ParameterFactory) throws {
        self.config = config
        shared = try p(SwitchNames.shared, [config.vocabSize, config.dModel])
        if config.tieWordEmbeddings {
            (encoderEmbedding, decoderEmbedding) = (shared, shared)
        } else {
            encoderEmbedding = try p(SwitchNames.tiedCopies[0], [config.vocabSize, config.dModel])
            decoderEmbedding = try p(SwitchNames.tiedCopies[1], [config.vocabSize, config.dModel])
        }
        encoder = try SwitchStackModel(stack: .encoder, config: config, firstSparseLayer: 0, parameters: p)
        decoder = try SwitchStackModel(
            stack: .decoder, config: config, firstSparseLayer: config.sparseBlocks(.encoder).count, parameters: p)
        lmHead = config.tieWordEmbeddings ? shared : try p(SwitchNames.lmHead, [config.vocabSize, config.dModel])
    }

    public var parameters: [Parameter] {
        let untied = config.tieWordEmbeddings ? [] : [encoderEmbedding, decoderEmbedding, lmHead]
        return [shared] + encoder.parameters + decoder.parameters + untied
    }

    /// This model with `mask` as its `expertMask` (nil: every expert), sharing every weight (nothing is copied):
    /// a pruning candidate evaluated without changing the model it came from.
    public func masked(_ mask: [[Bool]]?) -> SwitchTransformersModel {
        let view = SwitchTransformersModel(sharing: self)
        view.maskExperts(mask ?? [])
        return view
    }

    private init(sharing other: SwitchTransformersModel) {
        config = other.config
        shared = other.shared
        encoder = other.encoder
        decoder = other.decoder
        lmHead = other.lmHead
        encoderEmbedding = other.encoderEmbedding
        decoderEmbedding = other.decoderEmbedding
        notes = other.notes
        expertMask = other.expertMask
    }

    /// Sparse blocks, encoder first (the order of `SwitchTransformersConfig.sparseLayers`).
    public var sparseBlocks: [SwitchSparseMLP] { (encoder.blocks + decoder.blocks).compactMap(\.sparse) }

    func checkTokens(_ ids: [Int]) throws {
        for id in ids where id < 0 || id >= config.vocabSize {
            throw ModelError.tokenOutOfRange(id: id, vocabSize: config.vocabSize)
        }
    }

    func embed(_ ids: [Int], _ table: Parameter) throws -> Variable {
        table.isTrainable ? gatherRows(try table.variable(), ids) : Variable(try table.gatherRows(ids))
    }

    func norm(_ x: Variable, _ weight: Parameter) throws -> Variable {
        // T5 LayerNorm: no mean subtracted, no bias.
        rmsNorm(x, weight: try weight.variable(), eps: Float(config.layerNormEpsilon))
    }

    /// Runs one stack over one sequence. Decoder: `memory` is the encoder output, `cache` continues a decoding.
    /// -> (final normed hidden [T, C], each sparse block's output in order).
    func run(
        _ stack: SwitchStackModel, ids: [Int], memory: Variable?, cache: Seq2SeqCache?, observer: RoutingObserver?
    ) throws -> (Variable, [SwitchSparseMLP.Output]) {
        let past = cache?.length ?? 0
        var h = try embed(ids, stack.stack == .encoder ? encoderEmbedding : decoderEmbedding)  // [T] -> [T, C]
        let t = ids.count
        let sequence = TokenBatch(ids)
        // The first block's bias serves every block of the stack (transformers passes `position_bias` on).
        let bias = try stack.positionBias.headBiases(
            queryPositions: Array(past..<(past + t)), keys: past + t, heads: config.numHeads)
        var routed: [SwitchSparseMLP.Output] = []
        // The mask row of each sparse block: the encoder's come first. An all-true row routes as no mask.
        var sparseIndex = stack.stack == .encoder ? 0 : encoder.blocks.filter { $0.sparse != nil }.count
        for (l, block) in stack.blocks.enumerated() {
            let normed = try norm(h, block.selfAttentionNorm)
            var keys = try block.selfAttention.k.project(normed)
            var values = try block.selfAttention.v.project(normed)
            if let cache { (keys, values) = cache.appendSelf(layer: l, keys: keys.value, values: values.value) }
            h = add(
                h,
                try block.selfAttention.attend(
                    normed, keys: keys, values: values, bias: bias, causalOffset: stack.stack == .decoder ? past : nil))
            if let cross = block.crossAttention, let crossNorm = block.crossAttentionNorm, let memory {
                let kv: (keys: Variable, values: Variable)
                if let cache, let k = cache.crossKeys[l], let v = cache.crossValues[l] {
                    kv = (k, v)
                } else {
                    kv = try cross.keysAndValues(memory)  // [S, C] -> [S, H·D] twice
                    cache?.crossKeys[l] = kv.keys
                    cache?.crossValues[l] = kv.values
                }
                h = add(
                    h,
                    try cross.attend(
                        try norm(h, crossNorm), keys: kv.keys, values: kv.values, bias: nil, causalOffset: nil))
            }
            let normedFF = try norm(h, block.feedForwardNorm)
            if let sparse = block.sparse {
                let row = expertMask?[sparseIndex]
                sparseIndex += 1
                let allowed = row?.allSatisfy { $0 } == true ? nil : row
                let out = try sparse.forward(normedFF, allowed: allowed, observer: observer, sequence: sequence)
                h = add(h, out.output)
                routed.append(out)
            } else if let dense = block.dense {
                h = add(h, try dense.forward(normedFF))
            }
        }
        cache?.advance(by: t)
        return (try norm(h, stack.finalNorm), routed)
    }

    /// The encoder over one sequence: final hidden states [S, C].
    public func encode(_ ids: [Int], observer: RoutingObserver? = nil) throws -> Variable {
        try checkTokens(ids)
        return try run(encoder, ids: ids, memory: nil, cache: nil, observer: observer).0
    }

    /// Decoder hidden states ready for the head: scaled by d_model^-0.5 when tied (Mesh TensorFlow's rescale).
    func headInput(_ h: Variable) -> Variable {
        config.tieWordEmbeddings ? scale(h, 1 / Float(config.dModel).squareRoot()) : h
    }

    /// Decoder logits [T, V] of `ids` attending over `memory` (teacher forcing, no cache).
    public func decoderLogits(_ ids: [Int], memory: Variable, observer: RoutingObserver? = nil) throws -> Tensor {
        try checkTokens(ids)
        let h = try run(decoder, ids: ids, memory: memory, cache: nil, observer: observer).0
        return linear(headInput(h), try lmHead.variable()).value
    }

    /// One decoding step (or a prefill) continuing `cache`: next-token logits [T, V] of `ids`.
    public func decodeStep(_ ids: [Int], memory: Variable, cache: Seq2SeqCache) throws -> Tensor {
        try checkTokens(ids)
        let h = try run(decoder, ids: ids, memory: memory, cache: cache, observer: nil).0
        return linear(headInput(h), try lmHead.variable()).value
    }

    /// Encoder and decoder over pairs of sequences (`encoderIds[b]` with `decoderIds[b]`), each pair on its own
    /// (no padding: capacity counts a sequence's own tokens, as transformers does for an unpadded batch).
    public func forward(
        encoderIds: [[Int]], decoderIds: [[Int]], observer: RoutingObserver? = nil, recordRouterLogits: Bool = false,
        routerLosses: Bool = false
    ) throws -> Seq2SeqOutput {
        precondition(
            encoderIds.count == decoderIds.count && !encoderIds.isEmpty, "one decoder sequence per encoder one")
        for ids in encoderIds + decoderIds { try checkTokens(ids) }
        var encoderRows: [Variable] = []
        var decoderRows: [Variable] = []
        var logits = [[Variable]](repeating: [], count: sparseBlocks.count)
        var zLoss: Variable?
        var auxLoss: Variable?
        for (source, target) in zip(encoderIds, decoderIds) {
            let (memory, encoderRouted) = try run(encoder, ids: source, memory: nil, cache: nil, observer: observer)
            let (hidden, decoderRouted) = try run(decoder, ids: target, memory: memory, cache: nil, observer: observer)
            encoderRows.append(memory)
            decoderRows.append(hidden)
            for (i, out) in (encoderRouted + decoderRouted).enumerated() { logits[i].append(out.logits) }
            if routerLosses {
                // transformers adds them per stack, and only for a stack whose sparse step is above 1.
                for (routed, step) in [
                    (encoderRouted, config.encoderSparseStep), (decoderRouted, config.decoderSparseStep),
                ]
                where step > 1 && !routed.isEmpty {
                    let z = RouterLosses.zLoss(routed.map(\.routed), rows: nil)
                    let aux = RouterLosses.loadBalancing(routed.map(\.routed), topK: 1, rows: nil)
                    zLoss = zLoss.map { add($0, z) } ?? z
                    auxLoss = auxLoss.map { add($0, aux) } ?? aux
                }
            }
        }
        let pairs = Float(encoderIds.count)
        var output = Seq2SeqOutput(
            hidden: headInput(concatRows(decoderRows)), head: try lmHead.variable(),
            encoderHidden: concatRows(encoderRows))
        if recordRouterLogits { output.routerLogits = logits.map { concatRows($0).value } }
        output.routerZLoss = zLoss.map { scale($0, 1 / pairs) }
        output.auxiliaryLoss = auxLoss.map { scale($0, 1 / pairs) }
        return output
    }
}
