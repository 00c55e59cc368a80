import Foundation
import MoEModels
import TensorCore

extension Perplexity {
    /// The log-likelihood one window batch contributes: Σ log p over its scored tokens, as the
    /// exact Double `evaluate` adds. Shards (`Shard`) hold the partials of their batches; merged in
    /// batch order they give `evaluate`'s sum, hence its bits.
    public struct Partial: Sendable, Equatable {
        /// Index of the batch among all of the run's batches.
        public var batch: Int
        public var logLikelihood: Double
        public var tokens: Int

        public init(batch: Int, logLikelihood: Double, tokens: Int) {
            self.batch = batch
            self.logLikelihood = logLikelihood
            self.tokens = tokens
        }
    }

    /// Number of window batches a run over `ids` makes (what `--shard` slices).
    public static func batchCount(ids: [Int], parameters: Parameters) throws -> Int {
        let stride = try validatedStride(ids: ids, parameters: parameters)
        return batches(ids: ids, context: parameters.context, stride: stride, batchSize: parameters.batchSize).count
    }

    /// The partials of the batches of `shard` (all batches when nil), each batch formed exactly as
    /// `evaluate` forms it. `progress` receives (batches done, batches of the shard).
    public static func partials(
        model: MoEModel, ids: [Int], parameters: Parameters = Parameters(), shard: Shard? = nil,
        progress: ((Int, Int) -> Void)? = nil
    ) throws -> [Partial] {
        let stride = try validatedStride(ids: ids, parameters: parameters)
        let groups = batches(ids: ids, context: parameters.context, stride: stride, batchSize: parameters.batchSize)
        let range = shard?.range(of: groups.count) ?? 0..<groups.count
        var out: [Partial] = []
        for i in range {
            let lp = try model.headScores(groups[i].batch, rows: groups[i].rows, targets: groups[i].targets)
                .logProbabilities
            out.append(Partial(batch: i, logLikelihood: lp.reduce(0, +), tokens: lp.count))
            progress?(out.count, range.count)
        }
        return out
    }

    /// Perplexity from the partials of every batch, added in batch order exactly as `evaluate` adds.
    public static func combine(_ partials: [Partial]) throws -> Result {
        var totalNLL = 0.0
        var scored = 0
        for partial in partials.sorted(by: { $0.batch < $1.batch }) {
            totalNLL -= partial.logLikelihood
            scored += partial.tokens
        }
        let mean = totalNLL / Double(max(scored, 1))
        guard mean.isFinite else { throw TaskError.nonFinite(what: "token log-probabilities") }
        return Result(perplexity: exp(mean), nll: mean, tokens: scored)
    }
}
