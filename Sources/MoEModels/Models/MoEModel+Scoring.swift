import TensorCore

// Inference that scores tokens never needs the whole logits matrix: perplexity reads one entry
// per row, classification a few rows per prompt, attribution none at all. [N, V] in Float32 is the
// largest allocation of a forward pass (65 MB for 2,048 tokens of an 8,000-word vocabulary, 1.2 GB
// for Qwen3's 151,936), so these entry points run the output head on the rows asked for, a
// vocabulary slice at a time (`headScores`).

extension MoEModel {
    /// Share of the weights' Float32 bytes one pass of `finalHiddenStates` may take in activations.
    /// The budget counts 48·C bytes (a dozen [N, C] Float32 matrices) per token; the inference
    /// path keeps fewer (heaptrack, config A: 15 MB at the peak for 768 tokens of width 512), and
    /// smaller passes cost speed: every expert product repacks its weights for fewer rows (config
    /// A, one thread: 2,048 tokens per pass 1.10 s, 1,024 1.13 s, 512 1.22 s, 256 1.28 s per
    /// batch). A tenth of the weights keeps config A's peak RSS at 1.195× its weights, and lets a
    /// large model (where activations are small next to its weights) take whole batches.
    public static let scoringPassShare = 0.10
    /// The least a pass may take whatever the model's size (a small model's memory does not matter).
    public static let scoringPassMinimumBytes = 12 << 20

    /// Tokens per pass for this model (see `scoringPassShare`); whole sequences are taken, at least one.
    public var scoringPassTokens: Int {
        let weightBytes = Double(parameters.reduce(0) { $0 + $1.elementCount }) * 4
        let budget = Swift.max(MoEModel.scoringPassMinimumBytes, Int(MoEModel.scoringPassShare * weightBytes))
        return Swift.max(1, budget / (48 * config.hiddenSize))
    }

    /// The final hidden states [N, C] (after the last norm), without the output head. Inference
    /// only: no graph is kept. Without an observer the sequences go through the layers in groups of
    /// at most `passTokens` tokens (default `scoringPassTokens`; sequences do not interact, so only
    /// rounding differs);
    /// with one, in a single pass, so it hears every layer once per batch as from `forward`.
    public func finalHiddenStates(
        _ batch: TokenBatch, observer: RoutingObserver? = nil, passTokens: Int? = nil
    ) throws -> Tensor {
        var whole: Tensor?
        var out: Tensor?
        try forEachHiddenPass(batch, observer: observer, passTokens: passTokens) { tokens, hidden in
            if tokens.count == batch.tokenCount {
                whole = hidden  // one pass: no copy
                return
            }
            if out == nil { out = Tensor(shape: [batch.tokenCount, hidden.lastDim], repeating: 0) }
            out!.withUnsafeMutableBufferPointer { po in
                hidden.withUnsafeBufferPointer { ph in
                    (po.baseAddress! + tokens.lowerBound * hidden.lastDim).update(
                        from: ph.baseAddress!, count: ph.count)
                }
            }
        }
        return whole ?? out ?? Tensor.zeros([0, config.hiddenSize])
    }

    /// Runs `batch` through the layers as `finalHiddenStates` does and hands each pass to
    /// `body(tokens, hidden)`: the batch rows it covers and their final hidden states [tokens, C].
    /// Passes come in order; each is dropped when `body` returns.
    public func forEachHiddenPass(
        _ batch: TokenBatch, observer: RoutingObserver? = nil, passTokens: Int? = nil,
        _ body: (Range<Int>, Tensor) throws -> Void
    ) throws {
        try checkTokens(batch)
        let perPass = observer == nil ? sequencesPerPass(batch, passTokens: passTokens) : batch.batch
        var first = 0
        while first < batch.batch {
            let sequences = first..<min(batch.batch, first + perPass)
            let part =
                sequences.count == batch.batch
                ? batch
                : TokenBatch(
                    ids: Array(batch.ids[(sequences.lowerBound * batch.seq)..<(sequences.upperBound * batch.seq)]),
                    batch: sequences.count, seq: batch.seq, lengths: batch.lengths.map { Array($0[sequences]) })
            try body(
                (sequences.lowerBound * batch.seq)..<(sequences.upperBound * batch.seq),
                try hiddenPass(part, observer: observer))
            first = sequences.upperBound
        }
    }

    /// `headScores(rows:of:targets:)` of `batch`'s final hidden states, pass by pass
    /// (`forEachHiddenPass`): each pass is scored and dropped, so the batch's [N, C] final hidden
    /// states never exist at once. `rows` index the batch (b · T + t).
    public func headScores(
        _ batch: TokenBatch, rows: [Int], targets: [Int], entropy: Bool = false, observer: RoutingObserver? = nil,
        passTokens: Int? = nil
    ) throws -> HeadScores {
        precondition(rows.count == targets.count, "headScores: \(rows.count) rows, \(targets.count) targets")
        var scores = HeadScores(
            logProbabilities: [Double](repeating: 0, count: rows.count),
            entropies: [Double](repeating: 0, count: entropy ? rows.count : 0))
        try forEachHiddenPass(batch, observer: observer, passTokens: passTokens) { tokens, hidden in
            let picked = rows.indices.filter { tokens.contains(rows[$0]) }
            let part = try headScores(
                rows: picked.map { rows[$0] - tokens.lowerBound }, of: hidden, targets: picked.map { targets[$0] },
                entropy: entropy)
            for (j, i) in picked.enumerated() {
                scores.logProbabilities[i] = part.logProbabilities[j]
                if entropy { scores.entropies[i] = part.entropies[j] }
            }
        }
        return scores
    }

    /// Sequences per pass of `finalHiddenStates` without an observer: as many whole sequences as fit
    /// `passTokens` (default `scoringPassTokens`, at least one), evened out so that the passes are of
    /// equal size and the last is no larger.
    public func sequencesPerPass(_ batch: TokenBatch, passTokens: Int? = nil) -> Int {
        let most = max(1, (passTokens ?? scoringPassTokens) / max(1, batch.seq))
        guard most < batch.batch else { return batch.batch }
        let passes = (batch.batch + most - 1) / most
        return (batch.batch + passes - 1) / passes
    }

    /// Embeddings, every layer and the final norm for one batch in one pass.
    func hiddenPass(_ batch: TokenBatch, observer: RoutingObserver?) throws -> Tensor {
        try normalized(throughLayers(batch, options: ForwardOptions(observer: observer))).value
    }

    /// log p(target | row) for `rows` of `hidden` (final hidden states [N, C]) through the output
    /// head, and the rows' next-token entropies when `entropy` (see TensorCore's `headScores`):
    /// the same log-softmax as `forward`'s logits give, without the [N, V] matrix.
    public func headScores(rows: [Int], of hidden: Tensor, targets: [Int], entropy: Bool = false) throws -> HeadScores {
        if let stored = try lmHead.storedMatrix() {
            return TensorCore.headScores(
                hidden: hidden, storedHead: stored, precision: lmHead.precision, rows: rows, targets: targets,
                entropy: entropy)
        }
        return TensorCore.headScores(
            hidden: hidden, head: try lmHead.variable().value, rows: rows, targets: targets, entropy: entropy)
    }
}
