import Testing

@testable import TensorCore

@Suite struct RoutingTests {
    @Test func choosesLargestWithTiesToLowerIndex() {
        let logits = Variable(Tensor(shape: [2, 4], data: [1, 2, 2, 0, 5, 5, 5, 5]))
        let routing = topKRouting(logits, k: 2, normalize: false)
        #expect(routing.experts == [1, 2, 0, 1])
        #expect(routing.k == 2)
        #expect(routing.probabilities.shape == [2, 4])
        let p = routing.probabilities.data
        #expect(routing.weights.value.data == [p[1], p[2], p[4], p[5]])
    }

    @Test func normalizedWeightsSumToOne() {
        let logits = Variable(randomTensor([5, 8], seed: 101, scale: 3))
        let routing = topKRouting(logits, k: 3, normalize: true)
        #expect(routing.weights.shape == [5, 3])
        for r in 0..<5 {
            let w = routing.weights.value.data[(r * 3)..<(r * 3 + 3)]
            #expect(abs(w.reduce(0, +) - 1) < 1e-6)
            #expect(w[r * 3] >= w[r * 3 + 1] && w[r * 3 + 1] >= w[r * 3 + 2])
        }
    }

    @Test(arguments: [true, false], [1, 2, 3])
    func gradient(normalize: Bool, k: Int) {
        // Logits spaced ≥ 0.4 apart so the ±h perturbation never changes the top-k choice.
        var rng = SplitMix64(seed: 102)
        var data: [Float] = []
        for _ in 0..<4 {
            var ranks = Array(0..<6)
            ranks.shuffle(using: &rng)
            data += ranks.map { Float($0) * 0.5 + 0.05 * rng.nextFloat() }
        }
        let logits = Variable(Tensor(shape: [4, 6], data: data), requiresGrad: true)
        checkGradients([logits]) { topKRouting(logits, k: k, normalize: normalize).weights }
    }

    @Test func allExpertsNormalizedHasNoGradient() {
        // With k = E and normalisation every weight is exactly its probability: the sum is 1.
        let logits = parameter([2, 3], seed: 103)
        let routing = topKRouting(logits, k: 3, normalize: true)
        sum(routing.weights).backward()
        #expect(logits.grad!.data.allSatisfy { abs($0) < 1e-6 })
    }
}
