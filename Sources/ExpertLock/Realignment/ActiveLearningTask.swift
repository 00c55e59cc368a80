import Foundation
import MoEModels

/// What the active-learning loop needs from a task: an unlabeled pool it can score with a model,
/// the oracle that reveals a pool example's label, and the held-out metric.
///
/// `ClassificationPool`, `LanguageModelingPool` and `SummarizationPool` implement it; a test can
/// implement it with hand-made scores.
public protocol ActiveLearningTask {
    /// Number of examples in the pool.
    var poolSize: Int { get }
    /// Whether the pool is scored by class probabilities (margin, least-confidence, BADGE apply).
    var isClassification: Bool { get }
    /// The data file's id of pool example `index` (what `labeled_ids` reports).
    func poolID(_ index: Int) -> Int
    /// The oracle: the training examples of pool example `index`, its label revealed (empty when it
    /// does not fit the sequence length: the label is spent all the same).
    func labeledExamples(_ index: Int) -> [TrainingExample]
    /// The model's view of pool examples `indices`: predictions when `predictions`, pooled hidden
    /// states when `embeddings`. Never reads a label.
    func score(model: MoEModel, indices: [Int], predictions: Bool, embeddings: Bool) throws -> [PoolScore]
    /// What `evaluate` measures.
    var metric: TaskMetric { get }
    /// The metric on the held-out data.
    func evaluate(model: MoEModel) throws -> Double
    /// The metric and, when it is a mean over examples, each example's outcome (same order every
    /// call), which bootstrap intervals over the evaluation set need.
    func evaluateWithOutcomes(model: MoEModel) throws -> (metric: Double, outcomes: [Double]?)
    /// Identifies the pool, the held-out data and the task settings; a resumed run must match it.
    var fingerprint: String { get }
    /// A metric on pool examples `indices`, their labels revealed: the held-out split the gated
    /// schedule keeps or undoes each round by (`FineTuningSchedule.gated`).
    func validationMetric(model: MoEModel, indices: [Int]) throws -> (metric: TaskMetric, value: Double)
}

extension ActiveLearningTask {
    /// The perplexity of the oracle's sequences of `indices` (their target tokens, teacher-forced):
    /// what language modelling and summarization measure; classification measures accuracy.
    public func validationMetric(model: MoEModel, indices: [Int]) throws -> (metric: TaskMetric, value: Double) {
        (
            .perplexity,
            try SequenceScorer.perplexity(model: model, examples: indices.flatMap(labeledExamples), batchSize: 8)
        )
    }

    /// Tasks whose metric is no mean over examples (perplexity pools tokens) report none.
    public func evaluateWithOutcomes(model: MoEModel) throws -> (metric: Double, outcomes: [Double]?) {
        (try evaluate(model: model), nil)
    }
}

/// A task's metric and which way is better: one type for sweeps, audits and re-alignment.
public struct TaskMetric: Sendable, Codable, Equatable {
    /// `accuracy`, `perplexity`, `rougeL` or `summary_perplexity`.
    public var name: String
    public var higherIsBetter: Bool

    enum CodingKeys: String, CodingKey {
        case name
        case higherIsBetter = "higher_is_better"
    }

    public init(name: String, higherIsBetter: Bool) {
        self.name = name
        self.higherIsBetter = higherIsBetter
    }

    public static let accuracy = TaskMetric(name: "accuracy", higherIsBetter: true)
    public static let perplexity = TaskMetric(name: "perplexity", higherIsBetter: false)
    public static let rougeL = TaskMetric(name: "rougeL", higherIsBetter: true)
    public static let summaryPerplexity = TaskMetric(name: "summary_perplexity", higherIsBetter: false)
}

/// The name re-alignment gave its metric before sweeps and audits shared it.
public typealias RealignmentMetric = TaskMetric

/// FNV-1a over strings, as 16 hex digits: fingerprints of pools and settings.
struct Fingerprint {
    private var hash: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func mix(_ text: String) {
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        hash = (hash ^ 0xFF) &* 0x100_0000_01B3  // separator, so ("ab","c") ≠ ("a","bc")
    }

    mutating func mix(_ value: Int) { mix(String(value)) }

    var value: String { String(hash, radix: 16) }
}
