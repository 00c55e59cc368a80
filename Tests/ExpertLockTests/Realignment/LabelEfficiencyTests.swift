import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// Label savings measured per seed with paired two-stage bootstrap intervals, and the case where
/// the shared seed set already reaches the target.
struct LabelEfficiencyTests {
    /// A run whose curve point j has `correct[j]` of `n` evaluation examples right (the first ones).
    static func run(
        _ strategy: QueryStrategy, seed: UInt64, labels: [Int], correct: [Int], n: Int = 40, seedSet: Int = 10
    ) -> ActiveLearningLoop.Result {
        let curve = zip(labels, correct).map { x, k in
            LearningCurvePoint(
                labeled: x, metric: Double(k) / Double(n), outcomes: (0..<n).map { $0 < k ? 1.0 : 0.0 })
        }
        return ActiveLearningLoop.Result(
            strategy: strategy, seed: seed, metric: .accuracy, curve: curve, labeled: Array(0..<labels.last!),
            labeledIDs: Array(0..<labels.last!), completed: true, startRound: 0, seconds: 1, seedSetSize: seedSet)
    }

    @Test func labelsToTargetPerSeed() throws {
        let labels = [0, 10, 20, 30, 40]
        let results = [
            Self.run(.random, seed: 0, labels: labels, correct: [20, 22, 26, 30, 32]),
            Self.run(.random, seed: 1, labels: labels, correct: [20, 24, 27, 28, 34]),
            Self.run(.entropy, seed: 0, labels: labels, correct: [20, 22, 30, 33, 34]),
            Self.run(.entropy, seed: 1, labels: labels, correct: [20, 24, 29, 34, 35]),
        ]
        let e = try #require(LabelEfficiency(results: results, rule: .fixed(0.7), resamples: 200))
        // Target 0.7 = 28 of 40. random seed 0: 26 → 30 between 20 and 30 labels: 20 + 10·2/4 = 25;
        // seed 1: 28 at 30 labels exactly; entropy seed 0: 26 → 30 between 10 and 20... (22 → 30): 10 + 10·6/8
        let random = e.strategies[0].labelsToTarget
        let entropy = e.strategies[1].labelsToTarget
        #expect(abs(random[0]! - 25) < 1e-9 && abs(random[1]! - 30) < 1e-9)
        #expect(abs(entropy[0]! - 17.5) < 1e-9 && abs(entropy[1]! - (10 + 10.0 * 4 / 5)) < 1e-9)
        #expect(abs(e.strategies[0].meanLabelsToTarget.estimate - 27.5) < 1e-9)
        let c = try #require(e.comparisons.first)
        #expect(c.verdict != .notResolvable && c.labelsSaved != nil)
        #expect(abs(c.labelsSaved!.estimate - (27.5 - (17.5 + 18) / 2)) < 1e-9)
        #expect(e.markdown().contains("| random | 25.0 | 30.0 |"))
    }

    /// Paired by seed and example: a strategy that is random's curve moved 5 labels earlier in every
    /// seed saves exactly 5 labels in every resample, however different the seeds are, so the
    /// interval is [5, 5]; unpaired resampling would mix seeds and widen it.
    @Test func pairedDesignCancelsSeedVariance() throws {
        var results: [ActiveLearningLoop.Result] = []
        for (s, base, step) in [(0, 4, 8), (1, 8, 8), (2, 0, 2)] {
            let labels = [0, 10, 20, 30, 40, 50]
            let correct = labels.indices.map { base + step * $0 }
            let shifted = labels.map { $0 == 0 ? 0 : $0 - 5 }
            results.append(Self.run(.random, seed: UInt64(s), labels: labels, correct: correct, n: 60, seedSet: 0))
            results.append(Self.run(.margin, seed: UInt64(s), labels: shifted, correct: correct, n: 60, seedSet: 0))
        }
        let target = 27.0 / 60
        let e = try #require(LabelEfficiency(results: results, rule: .fixed(target), resamples: 300))
        // Seed 2 never reaches the target (10 of 60 at most): its mean labels are +∞, undefined.
        #expect(e.strategies[0].labelsToTarget[2] == nil)
        #expect(try #require(e.comparisons.first?.labelsSaved).undefined > 0)
        let two = try #require(
            LabelEfficiency(results: results.filter { $0.seed != 2 }, rule: .fixed(target), resamples: 300))
        let saved = try #require(two.comparisons.first?.labelsSaved)
        #expect(abs(saved.lower - 5) < 1e-9 && abs(saved.upper - 5) < 1e-9 && abs(saved.estimate - 5) < 1e-9)
        #expect(two.comparisons.first?.verdict == .fewerLabels)
        // Unpaired, the per-strategy interval of random's mean labels is wide (the seeds differ).
        let r = try #require(two.strategies.first?.meanLabelsToTarget)
        #expect(r.upper - r.lower > 4)
    }

    /// Both strategies share the random seed set of round 0 and the target is reached inside it:
    /// the report says so and prints no ratio.
    @Test func targetInsideTheSharedSeedSetIsNotResolvable() throws {
        let labels = [0, 16, 32, 48]
        let results = [
            Self.run(.random, seed: 0, labels: labels, correct: [10, 30, 31, 32], seedSet: 16),
            Self.run(.entropy, seed: 0, labels: labels, correct: [10, 30, 33, 35], seedSet: 16),
            Self.run(.random, seed: 1, labels: labels, correct: [10, 29, 31, 33], seedSet: 16),
            Self.run(.entropy, seed: 1, labels: labels, correct: [10, 29, 32, 36], seedSet: 16),
        ]
        let report = RealignmentReport(
            results: results, targetFraction: 0.95, referenceOutcomes: (0..<40).map { $0 < 30 ? 1 : 0 },
            resamples: 200)
        let e = try #require(report.efficiency)
        #expect(e.comparisons.first?.verdict == .notResolvable)
        #expect(e.comparisons.first?.labelsSaved == nil && e.comparisons.first?.savedFraction == nil)
        #expect(report.rows.allSatisfy { $0.labelsSaved == nil })  // random's own +0 is no ratio either
        let text = report.markdown()
        #expect(text.contains("not resolvable at this round size"))
        #expect(!text.contains("of random's"))
        // The target comes from the reference's outcomes: 0.95 × 30/40, with an interval.
        #expect(abs(e.target.estimate - 0.95 * 0.75) < 1e-12 && e.target.upper > e.target.lower)
    }

    /// End to end: random and entropy with the same seed label the same random seed set in round 0
    /// and train on it identically, so their first two curve points are equal; a reference low
    /// enough to be reached there makes the comparison not resolvable.
    @Test func loopSharesRoundZeroAndReportSaysNotResolvable() throws {
        let task = try RealignmentFixtures.classificationTask()
        var results: [ActiveLearningLoop.Result] = []
        for strategy in [QueryStrategy.random, .entropy] {
            var p = RealignmentFixtures.parameters(strategy)
            p.stepsPerRound = 2
            results.append(
                try ActiveLearningLoop.run(model: try RealignmentFixtures.model(), task: task, parameters: p))
        }
        #expect(results[0].labeled.prefix(4) == results[1].labeled.prefix(4))
        #expect(results[0].curve.prefix(2) == results[1].curve.prefix(2))
        #expect(results.allSatisfy { $0.seedSetSize == 4 && $0.curve.allSatisfy { $0.outcomes?.count == 8 } })
        let reference = results[0].curve[1].metric  // reached at the seed set by construction
        let report = RealignmentReport(results: results, targetFraction: 1, reference: reference, resamples: 100)
        #expect(report.efficiency?.comparisons.first?.verdict == .notResolvable)
        #expect(report.markdown().contains("not resolvable at this round size"))
    }

    @Test func meanOverLabelsIsTheTrapezoidArea() {
        let curve = [(0, 0.5), (10, 0.7), (30, 0.8)].map { LearningCurvePoint(labeled: $0.0, metric: $0.1) }
        #expect(abs(LabelEfficiency.meanOverLabels(curve) - (10 * 0.6 + 20 * 0.75) / 30) < 1e-12)
    }
}
