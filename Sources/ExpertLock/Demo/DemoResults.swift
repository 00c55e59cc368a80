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

    public struct ModelResult: Sendable, Codable {
        public var tasks: [String: TaskResult] = [:]
    }

    public var sizes: DemoSizes
    public var seed: UInt64
    public var entanglement: EntanglementRegularizer
    public var models: [String: ModelResult] = [:]
    public var trainingSeconds: [String: Double] = [:]
    public var totalSeconds: Double = 0

    public init(sizes: DemoSizes, seed: UInt64, entanglement: EntanglementRegularizer) {
        self.sizes = sizes
        self.seed = seed
        self.entanglement = entanglement
    }

    public static let taskOrder = ["lm", "sentiment", "entailment", "summarization"]
}
