import ExpertLock
import Foundation

/// Every number the demo measured, written as report/results.json and rendered by `DemoReport`.
public struct DemoResults: Sendable, Codable {
    public struct TaskResult: Sendable, Codable {
        /// Soft routing share A_i per sparse layer and expert on this task's data.
        public var attributionShares: [[Double]]
        public var curve: PrunabilityCurve
        /// Mean Spearman ρ per layer between each criterion and the measured ablation drops (LM only).
        public var criterionAgreement: [String: Double]?
    }

    public struct RecoveryResult: Sendable, Codable {
        public var pruned: Double
        public var runs: [String: [[LearningCurvePoint]]]
    }

    public struct ModelResult: Sendable, Codable {
        public var tasks: [String: TaskResult] = [:]
    }

    public var sizes: DemoSizes
    public var seed: UInt64
    public var entanglement: EntanglementRegularizer
    public var models: [String: ModelResult] = [:]
    /// Sentiment accuracy of each model pruned to its top-2 experts, and learning curves of
    /// re-alignment per strategy (one curve per seed).
    public var recovery: [String: RecoveryResult] = [:]
    /// Provenance of a pruned, re-aligned derivative and of a model trained from another seed.
    public var provenance: ProvenanceResult?
    /// The signed update log: the owner's honest runs and the tampered copies.
    public var signedLog: SignedLogResult?
    public var trainingSeconds: [String: Double] = [:]
    /// Models loaded from the output folder's cache (trained by an earlier run with the same settings).
    public var cachedModels: [String] = []
    /// Wall time of each stage after training (audit, realign, provenance, signed log).
    public var stageSeconds: [String: Double] = [:]
    public var totalSeconds: Double = 0
    /// Where the run ran (threads, cores, processor), as report/excerpt.md labels it.
    public var machine: DemoMachine?

    public init(sizes: DemoSizes, seed: UInt64, entanglement: EntanglementRegularizer) {
        self.sizes = sizes
        self.seed = seed
        self.entanglement = entanglement
    }

    public static let taskOrder = ["lm", "sentiment", "entailment", "summarization"]
}
