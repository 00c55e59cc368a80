import TensorCore

/// What a forward pass computes besides the logits, and the per-call inputs a pass reads besides the
/// weights: the model holds weights only, so a mask, a training-time draw or an observer is given
/// here for one call, never set on the model and undone afterwards.
public struct ForwardOptions {
    /// Sees every routing decision (attribution).
    public var observer: RoutingObserver?
    /// Keep each sparse layer's raw router logits in `ForwardOutput.routerLogits`.
    public var recordRouterLogits: Bool
    /// Compute `ForwardOutput.auxiliaryLoss`, the load-balancing loss, as a graph node.
    public var loadBalancingLoss: Bool
    /// Compute `ForwardOutput.routerZLoss` as a graph node.
    public var routerZLoss: Bool
    /// Keys and values of earlier positions (inference with one unpadded sequence), extended by the pass.
    public var cache: KVCache? = nil
    /// The experts each sparse layer's router may choose this pass, one list of flags per sparse layer
    /// in layer order (nil: the model's `expertMask`): a pruning candidate, a training-time draw.
    public var expertMask: [[Bool]]? = nil
    /// Keep the logits each router chose from (mask applied) in `ForwardOutput.routedLogits`, as graph
    /// nodes, for penalties on routing.
    public var recordRoutedLogits = false
    /// Keep each sparse layer's gated expert outputs in `ForwardOutput.expertOutputs` (graph nodes), for
    /// penalties on them. The experts then run one by one (the fused and stored paths do not keep them).
    public var recordExpertOutputs = false

    public init(
        observer: RoutingObserver? = nil, recordRouterLogits: Bool = false, loadBalancingLoss: Bool = false,
        routerZLoss: Bool = false
    ) {
        self.observer = observer
        self.recordRouterLogits = recordRouterLogits
        self.loadBalancingLoss = loadBalancingLoss
        self.routerZLoss = routerZLoss
    }

    var needsRoutedLogits: Bool { loadBalancingLoss || routerZLoss || recordRoutedLogits }
}

/// The forward skeleton every pass shares (the full pass, the scoring pass, layer streaming):
/// `embedded` → `layerStep` for each layer in order → `normalized` → the head. A layer is a token mixer
/// (attention, or any `SequenceMixer`) and a feed-forward part (dense MLP or sparse experts); the
/// skeleton does not look inside. The passes differ only in what they keep (graph, router logits,
/// KV cache) and in their order over batches and layers: the full and scoring passes go batch by batch
/// (`throughLayers`), layer streaming layer by layer (calling `layerStep` itself).
extension MoEModel {
    /// Token embeddings of a batch: ids [B*T] -> [N, C].
    /// A frozen embedding is looked up without a graph, a bfloat16 one in place: only the batch's rows
    /// become Float32.
    func embedded(_ batch: TokenBatch) throws -> Variable {
        embedTokens.isTrainable
            ? gatherRows(try embedTokens.variable(), batch.ids) : Variable(try embedTokens.gatherRows(batch.ids))
    }

    /// The final norm: [N, C] -> [N, C].
    func normalized(_ h: Variable) throws -> Variable {
        rmsNorm(h, weight: try finalNorm.normWeight(zeroCentered: config.zeroCenteredNorms), eps: config.rmsNormEps)
    }

    /// The routing mask of each layer for a pass with `options`, by layer index (nil: all experts).
    func layerMasks(_ options: ForwardOptions) -> [Int: [Bool]] {
        guard let mask = options.expertMask ?? expertMask else { return [:] }
        let sparse = layers.filter { $0.moe != nil }
        precondition(
            mask.count == sparse.count, "expert mask for \(mask.count) sparse layers, model has \(sparse.count)")
        return Dictionary(uniqueKeysWithValues: zip(sparse.map(\.index), mask))
    }

    /// One layer of the skeleton: x [N, C] -> ([N, C], the sparse block's routing when sparse).
    func layerStep(
        _ layer: DecoderLayer, _ x: consuming Variable, batch: TokenBatch, options: ForwardOptions, masks: [Int: [Bool]]
    ) throws -> (Variable, SparseMoEBlock.Output?) {
        try layer.forward(
            x, batch: batch, cache: options.cache, observer: options.observer, allowed: masks[layer.index],
            recordExpertOutputs: options.recordExpertOutputs)
    }

    /// Embeddings and every layer for one batch, batch-major; `collect` hears each sparse layer's routing.
    /// Returns the last layer's output [N, C] (before the final norm).
    func throughLayers(
        _ batch: TokenBatch, options: ForwardOptions, collect: ((SparseMoEBlock.Output) -> Void)? = nil
    ) throws -> Variable {
        let masks = layerMasks(options)
        var h = try embedded(batch)  // [B*T] -> [N, C]
        for layer in layers {
            let (out, routing) = try layerStep(layer, consume h, batch: batch, options: options, masks: masks)
            h = out
            if let routing { collect?(routing) }
        }
        return h
    }
}
