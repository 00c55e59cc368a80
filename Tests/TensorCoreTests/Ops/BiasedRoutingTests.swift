import Foundation
import Testing

@testable import TensorCore

/// Routers whose choice and weights differ: the choice against a direct reading of transformers' rules,
/// the weights' gradient against finite differences.
struct BiasedRoutingTests {
    /// DeepSeek-V3: two groups of four, one kept; the bias moves the choice but not the weights.
    @Test func groupLimitedSigmoidChoice() {
        // Row 0: group 0 scores lower, but the bias makes group 0's best two win.
        let logits = Tensor(shape: [1, 8], data: [0.1, 0.2, 0.0, -1, 1.0, 0.9, -2, -2])
        let bias: [Float] = [0.5, 0.5, 0, 0, 0, 0, 0, 0]
        let router = BiasedRouter(
            scoring: .sigmoid, groups: 2, topkGroup: 1, normalize: true,
            normalizationEpsilon: 1e-20, scaling: 2.5)
        let r = biasedTopKRouting(Variable(logits), router: router, k: 2, selectionBias: bias)
        #expect(Set(r.experts) == [0, 1])
        let s = logits.data.map { 1 / (1 + exp(-$0)) }
        let expected = [s[r.experts[0]], s[r.experts[1]]].map { 2.5 * $0 / (s[0] + s[1]) }
        #expect(
            abs(r.weights.value.data[0] - expected[0]) <= 1e-6 && abs(r.weights.value.data[1] - expected[1]) <= 1e-6)
        // Masking expert 0: group 0 still ranks first (σ(0.2) + 0.5 + σ(0) = 1.55 > σ(1) + σ(0.9) = 1.44),
        // so its next best, expert 2, takes the slot.
        let masked = biasedTopKRouting(
            Variable(logits), router: router, k: 2, selectionBias: bias,
            keep: [false] + Array(repeating: true, count: 7))
        #expect(Set(masked.experts) == [1, 2])
    }

    /// ERNIE: softmax scores, sum clamped from below.
    @Test func clampedNormalisation() {
        let logits = Tensor(shape: [1, 4], data: [-30, -30, 10, -30])
        let router = BiasedRouter(scoring: .softmax, normalize: true, normalizationFloor: 2)
        let r = biasedTopKRouting(Variable(logits), router: router, k: 2, selectionBias: [0, 1, 0, 0])
        #expect(Set(r.experts) == [1, 2])
        #expect(abs(r.weights.value.data.reduce(0, +) - 0.5) <= 1e-5)  // (≈1 + ≈0) / 2
    }

    @Test(arguments: [RouterScoring.sigmoid, .softmax], [false, true])
    func weightsBackwardMatchesFiniteDifferences(_ scoring: RouterScoring, _ normalize: Bool) {
        let logits = parameter([5, 8], seed: 11, scale: 3)
        let router = BiasedRouter(
            scoring: scoring, groups: 2, topkGroup: 1, groupRanking: .topTwoSum,
            normalize: normalize, normalizationEpsilon: 1e-20, scaling: 1.7)
        let bias = randomTensor([8], seed: 12, scale: 0.2).data
        checkGradients([logits], step: 1e-3, tolerance: 2e-3) {
            biasedTopKRouting(logits, router: router, k: 3, selectionBias: bias).weights
        }
    }
}
