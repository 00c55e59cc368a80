import Foundation
import Testing

@testable import ExpertLock

/// Labels to a target by interpolation, means over seeds, and the Table-4-shaped report.
struct LearningCurveTests {
    static func curve(_ points: [(Int, Double)]) -> [LearningCurvePoint] {
        points.map { LearningCurvePoint(labeled: $0.0, metric: $0.1) }
    }

    @Test func labelsToReachInterpolates() {
        let up = Self.curve([(0, 0.5), (32, 0.6), (64, 0.8)])
        #expect(abs(LearningCurve.labelsToReach(0.7, in: up, higherIsBetter: true)! - 48) < 1e-9)
        #expect(LearningCurve.labelsToReach(0.4, in: up, higherIsBetter: true) == 0)
        #expect(LearningCurve.labelsToReach(0.9, in: up, higherIsBetter: true) == nil)
        let down = Self.curve([(0, 100), (10, 50), (20, 60), (30, 40)])
        #expect(LearningCurve.labelsToReach(75, in: down, higherIsBetter: false) == 5)
        #expect(LearningCurve.labelsToReach(45, in: down, higherIsBetter: false) == 27.5)
    }

    @Test func meanAndSampleStandardDeviation() {
        let mean = LearningCurve.mean([Self.curve([(0, 1), (4, 3)]), Self.curve([(0, 3), (4, 3), (8, 9)])])
        #expect(mean.map(\.labeled) == [0, 4])
        #expect(mean[0].mean == 2 && abs(mean[0].std - 2.0.squareRoot()) < 1e-12 && mean[0].runs == 2)
        #expect(mean[1].std == 0)
    }

    static func result(_ strategy: QueryStrategy, seed: UInt64, _ points: [(Int, Double)]) -> ActiveLearningLoop.Result
    {
        ActiveLearningLoop.Result(
            strategy: strategy, seed: seed, metric: .accuracy, curve: curve(points), labeled: Array(0..<points.last!.0),
            labeledIDs: Array(0..<points.last!.0), completed: true, startRound: 0, seconds: 1)
    }

    @Test func reportShapedLikeTableFour() {
        let results = [
            Self.result(.random, seed: 0, [(0, 0.5), (50, 0.6), (100, 0.8)]),
            Self.result(.random, seed: 1, [(0, 0.5), (50, 0.6), (100, 0.8)]),
            Self.result(.entropy, seed: 0, [(0, 0.5), (50, 0.7), (100, 0.9)]),
            Self.result(.entropy, seed: 1, [(0, 0.5), (50, 0.9), (100, 0.9)]),
        ]
        let report = RealignmentReport(results: results)
        // Target: 95% of random's best mean (0.8) = 0.76; random reaches it at 90 labels, entropy's
        // mean curve (0.5, 0.8, 0.9) at 50 · 0.26 / 0.3 ≈ 43.3.
        #expect(abs(report.target - 0.76) < 1e-12)
        let random = report.rows[0]
        let entropy = report.rows[1]
        #expect(random.strategy == .random && entropy.strategy == .entropy)
        #expect(abs(random.labelsToTarget! - 90) < 1e-9)
        #expect(abs(entropy.labelsToTarget! - 50 * 0.26 / 0.3) < 1e-9)
        #expect(abs(entropy.labelsSaved! - (90 - 50 * 0.26 / 0.3)) < 1e-9)
        #expect(entropy.afterPruning.mean == 0.5 && entropy.afterFineTuning.mean == 0.9 && entropy.labelsUsed == 100)
        let markdown = report.markdown()
        #expect(markdown.contains("| entropy | 2 | 0.5000 ± 0.0000 | 0.9000 ± 0.0000 | 100 | 43.3 | +46.7 |"))
        // Random is the baseline: no "+0.0 saved" against itself.
        #expect(random.labelsSaved == nil)
        #expect(markdown.contains("| random | 2 | 0.5000 ± 0.0000 | 0.8000 ± 0.0000 | 100 | 90.0 | (the baseline) |"))
        #expect(report.svg().hasPrefix("<svg"))
        // An explicit reference (the unpruned model's metric) sets the target instead.
        #expect(abs(RealignmentReport(results: results, targetFraction: 0.9, reference: 0.8).target - 0.72) < 1e-12)
    }
}
