import Foundation
import MoEModels

/// Held-out perplexity measured during training, so a run shows whether the model generalises and
/// not only whether its training loss falls (`expertlock train --eval-data FILE --eval-every N`).
///
/// The held-out ids are scored with the same windowed recipe as `expertlock eval --task perplexity`
/// (non-overlapping windows of the training sequence length), so the figures of a training log and
/// of a later `eval` agree for the same context.
public struct HeldOutEvaluation: Sendable {
    /// One measurement of the run's log.
    public struct Point: Sendable, Codable, Equatable {
        public var step: Int
        public var perplexity: Double
        public var tokens: Int
    }

    public let ids: [Int]
    public let parameters: Perplexity.Parameters
    /// Evaluate after every this many optimizer steps (and after the last one).
    public let every: Int

    /// `ids` are the held-out tokens (BOS included when the tokenizer asks for it); `context` is
    /// usually the training sequence length.
    public init(ids: [Int], context: Int, every: Int, batchSize: Int = 4) throws {
        guard every >= 1 else { throw TrainingError.invalidParameter("eval-every must be at least 1, got \(every)") }
        guard ids.count >= 2 else {
            throw TrainingError.noExamples(reason: "the held-out text has \(ids.count) tokens; it needs at least 2")
        }
        self.ids = ids
        self.parameters = Perplexity.Parameters(context: context, stride: nil, batchSize: batchSize)
        self.every = every
    }

    /// Whether a measurement is due after `step` of `steps`.
    public func isDue(step: Int, of steps: Int) -> Bool { step % every == 0 || step == steps }

    /// Held-out perplexity of `model` as it is now.
    public func measure(_ model: MoEModel, step: Int) throws -> Point {
        let result = try Perplexity.evaluate(model: model, ids: ids, parameters: parameters)
        return Point(step: step, perplexity: result.perplexity, tokens: result.tokens)
    }
}
