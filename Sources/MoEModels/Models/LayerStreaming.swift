import Foundation
import TensorCore

/// A forward pass over a whole corpus taken layer by layer instead of batch by batch: every batch
/// goes through layer l before layer l + 1 is read, so only one layer's weights are in memory at a
/// time (plus the residual stream of the corpus, spilled to a temporary file when large). This is
/// how a checkpoint larger than the memory allowed is attributed or evaluated; with the model
/// loaded as `WeightResidency.read` nothing of the checkpoint is mapped either.
///
/// Each batch meets exactly the computation of `MoEModel.forward` (the same skeleton parts: `embedded`,
/// `layerStep`, `normalized`; same kernels, same order within the batch), so its logits and routing decisions are the
/// same; only the order in
/// which the observer hears about (layer, batch) pairs changes: all batches of layer l, then l + 1.
/// Inference only: no KV cache, no router losses, no graph.
///
/// Weights of a layer are held in memory while its batches run (`Parameter.hold`: a bfloat16 matrix as its
/// stored bits, which the products read, anything else in Float32) and released when it ends; weights already
/// resident (a Float32 model loaded resident, trainable or edited parameters) are left as they are. With
/// `readAhead` > 0 a thread reads the next stages' bytes (`ReadAhead`) while a layer computes, so the pass
/// runs at the speed of the disk or of the arithmetic, whichever is slower, not of their sum.
public enum LayerStreaming {
    public struct Parameters: Sendable {
        /// Hidden states of the whole corpus above this many bytes go to a temporary file between
        /// layers (N × C × 4 bytes for N tokens).
        public var activationBudgetBytes: Int
        /// Folder of that temporary file (nil: the system's temporary folder).
        public var spillDirectory: URL?
        /// Stages (the embeddings, a layer, the head) read ahead of the one computing, on a background thread;
        /// 0 reads each stage when it starts. Memory holds up to `readAhead + 1` stages' stored bytes.
        public var readAhead: Int

        public init(activationBudgetBytes: Int = 256 << 20, spillDirectory: URL? = nil, readAhead: Int = 1) {
            self.activationBudgetBytes = activationBudgetBytes
            self.spillDirectory = spillDirectory
            self.readAhead = max(0, readAhead)
        }
    }

    /// Where the pass is: `stage` of `stages` (embedding, each layer, the output head).
    public struct Progress: Sendable, CustomStringConvertible {
        public var stage: Int
        public var stages: Int
        public var name: String
        public var description: String { "\(name) (\(stage)/\(stages))" }
    }

    /// Runs `batches` through `model`. `observer` sees every routing decision (layer by layer);
    /// `finalHidden`, when given, receives each batch's final hidden states [N_i, C] (after the last
    /// norm) in batch order, with the output head resident so it may call `model.headScores(rows:of:targets:)`
    /// (the norm and head are skipped without it: attribution does not need them).
    public static func forward(
        model: MoEModel, batches: [TokenBatch], observer: RoutingObserver? = nil, parameters: Parameters = Parameters(),
        finalHidden: ((Int, Tensor) throws -> Void)? = nil, progress: ((Progress) -> Void)? = nil
    ) throws {
        let config = model.config
        for batch in batches { try model.checkTokens(batch) }
        guard !batches.isEmpty else { return }
        let rowCounts = batches.map(\.tokenCount)
        let bytes = HiddenStateStore.byteCount(rowCounts: rowCounts, width: config.hiddenSize)
        let spill =
            bytes > parameters.activationBudgetBytes
            ? (parameters.spillDirectory ?? FileManager.default.temporaryDirectory) : nil
        let store = try HiddenStateStore(rowCounts: rowCounts, width: config.hiddenSize, spillDirectory: spill)
        let stages = model.layers.count + (finalHidden == nil ? 1 : 2)
        var stage = 0
        func report(_ name: String) {
            stage += 1
            progress?(Progress(stage: stage, stages: stages, name: name))
        }

        // Stage s's weights: the embeddings, each layer, then the norm and head when they are wanted.
        var plan: [[Parameter]] = [[model.embedTokens]] + model.layers.map(\.parameters)
        if finalHidden != nil { plan.append([model.finalNorm, model.lmHead]) }
        // Only bytes read with `pread` are staged (a mapped or resident model has nothing to read ahead).
        let readAhead =
            parameters.readAhead > 0
            ? ReadAhead(
                stages: plan.map { $0.filter { !$0.isResident }.flatMap(\.sourceExtents) }, depth: parameters.readAhead)
            : nil
        if let readAhead, readAhead.largestStageBytes > 0 { readAhead.start() }
        defer { readAhead?.stop() }
        func withStage<R>(_ s: Int, _ body: () throws -> R) throws -> R {
            try readAhead?.waitUntilRead(s)
            defer { readAhead?.release(s) }
            return try withStaged(plan[s], body)
        }

        try withStage(0) {
            for (i, batch) in batches.enumerated() {
                try store.write(i, model.embedded(batch).value)  // [B*T] -> [N, C]
            }
        }
        report("embeddings")
        let options = ForwardOptions(observer: observer)
        let masks = model.layerMasks(options)
        for (l, layer) in model.layers.enumerated() {
            try withStage(1 + l) {
                for (i, batch) in batches.enumerated() {
                    let h = Variable(try store.read(i))
                    let (out, _) = try model.layerStep(layer, h, batch: batch, options: options, masks: masks)
                    try store.write(i, out.value)
                }
            }
            report("layer \(layer.index)")
        }
        guard let finalHidden else { return }
        try withStage(plan.count - 1) {
            for i in batches.indices {
                try finalHidden(i, model.normalized(Variable(try store.read(i))).value)
            }
        }
        report("output head")
    }

    /// Holds the parameters not yet in memory (`Parameter.hold`) for the duration of `body`.
    static func withStaged<R>(_ parameters: [Parameter], _ body: () throws -> R) throws -> R {
        let staged = parameters.filter { !$0.isResident }
        defer { for p in staged { p.releaseResident() } }
        for p in staged { try p.hold() }
        return try body()
    }
}

/// Problems of a layer-streamed pass.
public enum LayerStreamingError: InputError, Equatable {
    case spillFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case .spillFailed(let file, let reason): return "\(file): cannot keep hidden states between layers: \(reason)"
        }
    }
}
