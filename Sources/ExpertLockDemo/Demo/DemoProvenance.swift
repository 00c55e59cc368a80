import ExpertLock
import Foundation
import MoEModels

/// The demo's provenance stage (issue #7): can the owner recognise their experts in a model an
/// attacker derived from theirs, and does the check stay quiet on a model that merely saw the
/// same data?
///
/// - The derivative: the standard model pruned *by removal* to the experts the attacker ranks
///   highest on sentiment data (so the suspect's experts are renumbered), then re-aligned with
///   `ActiveLearningLoop`'s default learning rate and label budget (what `expertlock realign`
///   does without options), saved as `models/derivative`.
/// - The control: a model trained on the same data from another seed, saved as `models/other-seed`.
///
/// Both are compared with the original by `Provenance.compare`, which matches experts by weight
/// similarity with a permutation-aware assignment and knows nothing of the pruning plan; the demo
/// checks its answer against the plan.
enum DemoProvenance {
    /// Runs the stage. `plan` is the pruning the derivative gets (kept experts of the original),
    /// `otherSeed` the control model; `progress` gets the stage's own fraction done.
    static func run(
        original: URL, plan: PruningPlan, otherSeed: MoEModel, otherSeedValue: UInt64, pool: ClassificationPool,
        sizes: DemoSizes,
        output: URL, progress: (Double) -> Void
    ) throws -> DemoResults.ProvenanceResult {
        let originalModel = try ModelLoader.load(directory: original, residency: .resident)
        // A fresh copy: `keepingExperts` shares tensors with its source, and re-alignment trains in place.
        let derivative = try ModelLoader.load(directory: original, residency: .resident).keepingExperts(plan.kept)
        var parameters = ActiveLearningLoop.Parameters()  // default learning rate, budget, rounds
        // A quarter of a small pool at most is held out for the gated schedule (the demo's pools hold 64).
        parameters.validationSize = min(parameters.heldOutCount, max(1, pool.poolSize / 4))
        parameters.budget = min(parameters.budget, pool.poolSize - parameters.heldOutCount)
        parameters.initialSize = min(parameters.initialSize, parameters.budget)
        parameters.candidatesPerRound = 4 * parameters.batchSize
        parameters.seed = 1
        let realigned = try ActiveLearningLoop.run(model: derivative, task: pool, parameters: parameters) { p in
            progress(0.9 * Double(p.round * p.steps + p.step) / Double(max(1, p.rounds * p.steps)))
            return .more
        }
        let derivativeDir = output.appendingPathComponent("models/derivative")
        try OutputDirectory.write(to: derivativeDir, overwrite: true) { tmp in
            try derivative.save(to: tmp, dtype: .f32)
            try OutputDirectory.copyCompanionFiles(from: original, to: tmp)
        }
        progress(0.95)
        let thresholds = Provenance.Thresholds()
        let derived = try Provenance.compare(original: originalModel, suspect: derivative, thresholds: thresholds)
        let control = try Provenance.compare(original: originalModel, suspect: otherSeed, thresholds: thresholds)
        progress(1)
        let training = parameters.roundSizes.count * parameters.stepsPerRound
        return DemoResults.ProvenanceResult(
            thresholds: thresholds,
            suspects: [
                .init(
                    name: "derivative",
                    description: "standard model, \(plan.rule) removed and renumbered, re-aligned on "
                        + "\(realigned.labeled.count) labels (\(parameters.trainable.rawValue), lr "
                        + "\(parameters.learningRate), \(training) steps)",
                    folder: "models/derivative", report: derived, plannedKept: plan.kept,
                    metricBefore: realigned.afterPruning, metricAfter: realigned.final),
                .init(
                    name: "other seed",
                    description: "trained on the same data and recipe from seed \(otherSeedValue) "
                        + "(\(sizes.trainingSteps) steps)",
                    folder: "models/other-seed", report: control, plannedKept: nil, metricBefore: nil,
                    metricAfter: nil),
            ])
    }
}

extension DemoResults {
    /// What `Provenance.compare` said about each suspect, against what the demo knows.
    public struct ProvenanceResult: Sendable, Codable {
        public struct Suspect: Sendable, Codable {
            public var name: String
            public var description: String
            /// The suspect's folder, relative to the demo's output.
            public var folder: String
            public var report: Provenance.Report
            /// The original experts the derivative was built from (nil for the control).
            public var plannedKept: [[Int]]?
            /// Sentiment accuracy of the derivative right after pruning and after re-alignment.
            public var metricBefore: Double?
            public var metricAfter: Double?

            /// Whether every planned expert was named, and no other (the derivative), or the model
            /// was called `not derived` (the control).
            public var correct: Bool {
                if let plannedKept { return report.keptExperts == plannedKept && report.verdict == .derived }
                return report.verdict == .notDerived
            }

            /// Lowest similarity among the matched pairs, over layers.
            public var lowestMatch: Float { report.layers.flatMap(\.matches).map(\.similarity).min() ?? 0 }
            /// Highest similarity among the matched pairs, over layers.
            public var highestMatch: Float { report.layers.flatMap(\.matches).map(\.similarity).max() ?? 0 }
            /// Highest similarity of pairs not matched, over layers.
            public var background: Float { report.layers.map(\.backgroundMaximum).max() ?? 0 }
        }

        public var thresholds: Provenance.Thresholds
        public var suspects: [Suspect]
    }
}
