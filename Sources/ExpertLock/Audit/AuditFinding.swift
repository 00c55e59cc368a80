import Foundation

/// One verdict of an audit with the figure and the interval that decide it.
public struct AuditFinding: Sendable, Codable, Equatable {
    public enum Verdict: String, Sendable, Codable {
        case supported, refuted
        case notResolved = "not resolved"
        case notResolvable = "not resolvable"
        /// A measurement reported with its interval, not a yes/no claim.
        case measured
    }

    /// A stable key, e.g. `prunability.soft.beats_random`.
    public var id: String
    public var verdict: Verdict
    /// One sentence: the claim, the figure, the interval.
    public var statement: String
    public var interval: BootstrapInterval?
    /// p-value of the paired test that backs it, when there is one (exact McNemar).
    public var pValue: Double?

    enum CodingKeys: String, CodingKey {
        case id, verdict, statement, interval
        case pValue = "p_value"
    }

    public init(
        id: String, verdict: Verdict, statement: String, interval: BootstrapInterval? = nil, pValue: Double? = nil
    ) {
        self.id = id
        self.verdict = verdict
        self.statement = statement
        self.interval = interval
        self.pValue = pValue
    }

    /// supported when the interval lies above `threshold`, refuted when below, else not resolved.
    static func decide(_ interval: BootstrapInterval, above threshold: Double) -> Verdict {
        interval.lower > threshold ? .supported : interval.upper < threshold ? .refuted : .notResolved
    }
}

/// Per-example outcomes of a classifier on the evaluation set: what every interval resamples.
public struct ClassificationOutcomes: Sendable, Codable, Equatable {
    /// 1 when the prediction is the label, else 0.
    public var correct: [Double]
    /// −log p(gold label) under the softmax over the class scores (nats).
    public var nll: [Double]
    /// Class log-likelihoods per example, kept where a threshold-free measure needs them (AUROC).
    public var scores: [[Double]]?
    /// Gold labels, kept with `scores`.
    public var labels: [Int]?

    public var accuracy: Double { correct.reduce(0, +) / Double(max(correct.count, 1)) }
    public var meanNLL: Double { nll.reduce(0, +) / Double(max(nll.count, 1)) }

    public init(correct: [Double], nll: [Double], scores: [[Double]]? = nil, labels: [Int]? = nil) {
        self.correct = correct
        self.nll = nll
        self.scores = scores
        self.labels = labels
    }

    /// Outcomes of `Classification.evaluate` on labeled examples (`keepScores`: also the class scores).
    public init(_ result: ClassificationResult, examples: [ClassificationExample], keepScores: Bool = false) {
        correct = zip(examples, result.predictions).map { $0.label == $1 ? 1 : 0 }
        nll = zip(examples, result.probabilities).map { e, p in -log(max(p[e.label ?? 0], 1e-300)) }
        scores = keepScores ? result.scores : nil
        labels = keepScores ? examples.map { $0.label ?? 0 } : nil
    }
}
