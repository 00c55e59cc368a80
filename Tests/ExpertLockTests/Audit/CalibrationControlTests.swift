import Foundation
import TensorCore
import Testing

@testable import ExpertLock

/// The calibration control: AUROC by Mann–Whitney (hand-computed and scikit-learn's documented
/// example), the threshold re-fit, and the verdict on a pruned model that only lost its threshold.
struct CalibrationControlTests {
    @Test func aurocMatchesHandComputedValues() {
        // scikit-learn's roc_auc_score docstring example: 0.75.
        #expect(AUROC.binary(scores: [0.1, 0.4, 0.35, 0.8], positives: [false, false, true, true]) == 0.75)
        // Ties count one half: (0.5 + 1) / 2.
        #expect(AUROC.binary(scores: [1, 1, 2], positives: [true, false, true]) == 0.75)
        #expect(AUROC.binary(scores: [1, 2], positives: [true, true]) == nil)
        // Two classes: macro one-vs-rest equals the binary AUROC of the log-odds.
        let scores: [[Double]] = [[-1, -2], [-0.5, -0.4], [-3, -1], [-0.2, -0.9], [-1, -1]]
        let labels = [0, 1, 1, 0, 1]
        let odds = scores.map { $0[1] - $0[0] }
        let binary = AUROC.binary(scores: odds, positives: labels.map { $0 == 1 })!
        #expect(abs(AUROC.macroOneVsRest(scores: scores, labels: labels)! - binary) < 1e-12)
    }

    @Test func refitFindsTheBestThreshold() {
        // Log-odds separate the classes at 2.5, but class 0 wins every example without a bias.
        let odds: [Double] = [0.5, 1, 2, 3, 4, 5]
        let labels = [0, 0, 0, 1, 1, 1]
        let scores = odds.map { [10.0, $0] }
        #expect(scores.allSatisfy { ThresholdRefit.predict($0, biases: [0, 0]) == 0 })
        let b = ThresholdRefit.fit(scores: scores, labels: labels)
        #expect(b[0] == 0 && b[1] > 7 && b[1] < 8)
        #expect(zip(scores, labels).allSatisfy { ThresholdRefit.predict($0, biases: b) == $1 })
        // Uninformative scores keep a zero shift where it is as good as any.
        #expect(ThresholdRefit.fit(scores: [[0, 0], [0, 0]], labels: [0, 1]) == [0, 0])
    }

    /// A "pruned" model that ranks as well as the full one but answers class 0 everywhere: the
    /// control says the threshold moved, not the knowledge.
    @Test func shiftedThresholdIsRecognised() throws {
        var rng = SplitMix64(seed: 5)
        var full: [[Double]] = []
        var labels: [Int] = []
        for _ in 0..<200 {
            let y = Int(rng.next() % 2)
            let noise = Double(rng.next() % 1000) / 1000 - 0.5
            let odds = (y == 1 ? 1.0 : -1.0) + 1.5 * noise
            full.append([0, odds])
            labels.append(y)
        }
        let shifted = full.map { [$0[0] + 5, $0[1]] }
        func outcomes(_ s: [[Double]]) -> ClassificationOutcomes {
            ClassificationOutcomes(
                correct: zip(s, labels).map { ThresholdRefit.predict($0, biases: [0, 0]) == $1 ? 1 : 0 },
                nll: s.map { _ in 0 }, scores: s, labels: labels)
        }
        let fit = ClassificationOutcomes(
            correct: [], nll: [], scores: Array(shifted.prefix(100)), labels: Array(labels.prefix(100)))
        let c = try #require(
            CalibrationControl(
                full: outcomes(full), pruned: outcomes(shifted), prunedFit: fit, level: 0.95, resamples: 200))
        #expect(c.aurocPruned.estimate == c.aurocFull.estimate)
        #expect(c.accuracyPruned.estimate < 0.6)
        #expect(c.refitAccuracyPruned.estimate > 0.8)
        #expect(c.finding(criterion: "soft", k: 2).verdict == .supported)
        // Scores that carry nothing: AUROC ≈ 0.5, the verdict is not "supported".
        let noise = labels.indices.map { _ in [0.0, Double(rng.next() % 1000) / 1000] }
        let n = try #require(
            CalibrationControl(
                full: outcomes(full), pruned: outcomes(noise),
                prunedFit: ClassificationOutcomes(
                    correct: [], nll: [], scores: Array(noise.prefix(100)), labels: Array(labels.prefix(100))),
                level: 0.95, resamples: 200))
        #expect(n.finding(criterion: "soft", k: 2).verdict != .supported)
    }
}
