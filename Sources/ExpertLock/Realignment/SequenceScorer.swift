import Foundation
import MoEModels
import TensorCore

/// Batched inference over token sequences: the per-sequence quantities the query strategies and
/// the held-out metrics are made of, from one forward pass per batch and no graph.
///
/// For a sequence with targets from `firstTarget` on (position p − 1 predicts token p, as in
/// `TrainingExample`) it gives the summed log-likelihood of the targets, the mean entropy of the
/// predictive distribution at the positions that predict them, and, when asked, the final hidden
/// state (after the last norm) mean-pooled over positions `0..<pooledLength`.
enum SequenceScorer {
    struct Sequence: Sendable {
        var ids: [Int]
        /// First target position (≥ 1).
        var firstTarget: Int
        /// Positions mean-pooled into the embedding.
        var pooledLength: Int

        init(ids: [Int], firstTarget: Int = 1, pooledLength: Int? = nil) {
            self.ids = ids
            self.firstTarget = max(1, firstTarget)
            self.pooledLength = min(ids.count, max(1, pooledLength ?? ids.count))
        }
    }

    struct Output: Sendable {
        /// Σ log p(ids[p] | ids[..<p]) over targets p (nats).
        var logLikelihood: Double
        /// Targets scored.
        var targets: Int
        /// Mean over target positions of H(p(· | prefix)) in nats (0 without targets).
        var meanEntropy: Double
        /// Mean-pooled final hidden state [C] (nil unless asked).
        var embedding: [Float]?

        /// Mean negative log-likelihood per target token (0 without targets).
        var meanNLL: Double { targets > 0 ? -logLikelihood / Double(targets) : 0 }
    }

    /// exp(Σ NLL of the target tokens / their count) over `examples`, teacher-forced: the perplexity of
    /// held-out summaries (`SummarizationPool`) and of the gated schedule's split (`ActiveLearningTask`).
    static func perplexity(model: MoEModel, examples: [TrainingExample], batchSize: Int) throws -> Double {
        let outputs = try score(
            model: model, sequences: examples.map { Sequence(ids: $0.ids, firstTarget: $0.firstTarget) },
            batchSize: batchSize, entropy: false, embeddings: false)
        let nll = -outputs.reduce(0) { $0 + $1.logLikelihood }
        let tokens = outputs.reduce(0) { $0 + $1.targets }
        return exp(nll / Double(max(tokens, 1)))
    }

    /// Scores `sequences` through `model` (inside `withoutGradients` while training), `batchSize`
    /// sequences per forward pass. Sequences are batched in order of length so padding stays small;
    /// outputs come back in input order.
    static func score(
        model: MoEModel, sequences: [Sequence], batchSize: Int, entropy: Bool, embeddings: Bool
    ) throws -> [Output] {
        var outputs = [Output?](repeating: nil, count: sequences.count)
        let order = sequences.indices.sorted { (sequences[$0].ids.count, $0) < (sequences[$1].ids.count, $1) }
        var start = 0
        while start < order.count {
            let chunk = Array(order[start..<min(start + max(1, batchSize), order.count)])
            let batch = TokenBatch(padding: chunk.map { sequences[$0].ids }, pad: 0)
            let hidden = try model.finalHiddenStates(batch)  // [B*T, C]
            // The target rows of every sequence of the batch, through the output head in blocks.
            var rows: [Int] = []
            var targets: [Int] = []
            var spans: [Range<Int>] = []
            for (b, index) in chunk.enumerated() {
                let s = sequences[index]
                let first = rows.count
                for p in s.firstTarget..<max(s.firstTarget, s.ids.count) {
                    rows.append(b * batch.seq + p - 1)
                    targets.append(s.ids[p])
                }
                spans.append(first..<rows.count)
            }
            let scores = try model.headScores(rows: rows, of: hidden, targets: targets, entropy: entropy)
            let (logLikelihoods, entropies) = (scores.logProbabilities, scores.entropies)
            for (b, index) in chunk.enumerated() {
                let s = sequences[index]
                let span = spans[b]
                let h = entropy && !span.isEmpty ? entropies[span].reduce(0, +) / Double(span.count) : 0
                outputs[index] = Output(
                    logLikelihood: logLikelihoods[span].reduce(0, +), targets: span.count, meanEntropy: h,
                    embedding: embeddings ? meanRows(hidden, from: b * batch.seq, count: s.pooledLength) : nil)
            }
            start += chunk.count
        }
        return outputs.map { $0! }
    }

    /// log p(candidate | prompt) for every candidate token after each prompt (its last position), one
    /// forward per prompt, in input order; `embeddings`: the mean-pooled final hidden state over the
    /// first `pooledLength` positions. Batched by length like `score`.
    static func scoreNextToken(
        model: MoEModel, prompts: [Sequence], candidates: [Int], batchSize: Int, embeddings: Bool
    ) throws -> [(logLikelihoods: [Double], embedding: [Float]?)] {
        var outputs = [(logLikelihoods: [Double], embedding: [Float]?)?](repeating: nil, count: prompts.count)
        let order = prompts.indices.sorted { (prompts[$0].ids.count, $0) < (prompts[$1].ids.count, $1) }
        var start = 0
        while start < order.count {
            let chunk = Array(order[start..<min(start + max(1, batchSize), order.count)])
            let batch = TokenBatch(padding: chunk.map { prompts[$0].ids }, pad: 0)
            let hidden = try model.finalHiddenStates(batch)  // [B*T, C]
            var rows: [Int] = []
            for (b, index) in chunk.enumerated() {
                rows += [Int](repeating: b * batch.seq + prompts[index].ids.count - 1, count: candidates.count)
            }
            let targets = chunk.flatMap { _ in candidates }
            let lp = try model.headScores(rows: rows, of: hidden, targets: targets).logProbabilities
            for (b, index) in chunk.enumerated() {
                outputs[index] = (
                    Array(lp[(b * candidates.count)..<((b + 1) * candidates.count)]),
                    embeddings ? meanRows(hidden, from: b * batch.seq, count: prompts[index].pooledLength) : nil
                )
            }
            start += chunk.count
        }
        return outputs.map { $0! }
    }

    /// Mean of rows `from..<from+count` of a [N, C] matrix.
    static func meanRows(_ t: Tensor, from: Int, count: Int) -> [Float] {
        let c = t.lastDim
        var sum = [Double](repeating: 0, count: c)
        t.withUnsafeBufferPointer { p in
            for r in from..<(from + count) {
                for j in 0..<c { sum[j] += Double(p[r * c + j]) }
            }
        }
        return sum.map { Float($0 / Double(max(count, 1))) }
    }
}
