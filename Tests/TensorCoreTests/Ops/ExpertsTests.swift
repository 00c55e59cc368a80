import Testing

@testable import TensorCore

/// `groupedExperts` against the composed ops it replaces (gatherRows → linear → swiglu → linear →
/// scaleRows → scatterAddRows): the same output bit for bit, the same gradients, and finite
/// differences.
@Suite struct ExpertsTests {
    /// Three experts of width C = 4, I = 6 over N = 5 tokens with K = 2; expert 2 gets no token.
    struct Layer {
        let x = parameter([5, 4], seed: 61)
        let weights = parameter([5, 2], seed: 62)
        let gate = (0..<3).map { parameter([6, 4], seed: 63 + UInt64($0)) }
        let up = (0..<3).map { parameter([6, 4], seed: 66 + UInt64($0)) }
        let down = (0..<3).map { parameter([4, 6], seed: 69 + UInt64($0)) }
        /// Slot s = token·K + k; expert of each slot.
        let expertOfSlot = [0, 1, 1, 0, 0, 1, 1, 0, 0, 1]
        var slots: [[Int]] { (0..<3).map { e in expertOfSlot.indices.filter { expertOfSlot[$0] == e } } }
        var tokens: [[Int]] { slots.map { $0.map { $0 / 2 } } }
        var leaves: [Variable] { [x, weights] + gate + up + down }

        func fused() -> Variable {
            groupedExperts(x, gate: gate, up: up, down: down, tokens: tokens, slots: slots, weights: weights)
        }

        func composed() -> Variable {
            let flat = reshape(weights, [10, 1])
            let active = (0..<3).filter { !tokens[$0].isEmpty }
            let parts = active.map { e in
                let xe = gatherRows(x, tokens[e])
                let h = swiglu(gate: linear(xe, gate[e]), up: linear(xe, up[e]))
                return scaleRows(linear(h, down[e]), reshape(gatherRows(flat, slots[e]), [slots[e].count]))
            }
            return scatterAddRows(parts, active.map { tokens[$0] }, rowCount: 5)
        }
    }

    @Test func forwardEqualsTheComposedOps() {
        let layer = Layer()
        #expect(layer.fused().value == layer.composed().value)
    }

    @Test func gradientsEqualTheComposedOps() throws {
        let layer = Layer()
        let seed = randomTensor([5, 4], seed: 99)
        layer.composed().backward(seed: seed)
        let expected = layer.leaves.map(\.grad)
        for leaf in layer.leaves { leaf.zeroGrad() }
        layer.fused().backward(seed: seed)
        for (leaf, want) in zip(layer.leaves, expected) {
            if let want {
                let got = try #require(leaf.grad)
                #expect(maxRelativeError(got, want, floor: 1e-3) < 1e-5)
            } else {
                #expect(leaf.grad == nil)  // the idle expert gets no gradient
            }
        }
        #expect(layer.gate[2].grad == nil && layer.down[2].grad == nil)
    }

    @Test func finiteDifferences() {
        let layer = Layer()
        checkGradients(layer.leaves) { layer.fused() }
    }

    @Test func frozenInputsKeepNothing() {
        let x = Variable(randomTensor([3, 4], seed: 1))
        let w = Variable(randomTensor([3, 1], seed: 2))
        let g = [Variable(randomTensor([6, 4], seed: 3))]
        let u = [Variable(randomTensor([6, 4], seed: 4))]
        let d = [Variable(randomTensor([4, 6], seed: 5))]
        let y = groupedExperts(x, gate: g, up: u, down: d, tokens: [[2, 0]], slots: [[2, 0]], weights: w)
        #expect(!y.requiresGrad && y.shape == [3, 4])
        #expect(y.value.data[4..<8].allSatisfy { $0 == 0 })  // token 1 went to no expert
    }

    /// Frozen inputs take `inferenceExperts` (in-place SwiGLU; with K ≤ 2 rows added as experts
    /// finish): the output must equal the training path's bit for bit, for K = 1, 2 and 3 (the
    /// ordered scatter), with experts of unequal load and one idle.
    @Test(arguments: [1, 2, 3])
    func inferencePathEqualsTheTrainingPathBitForBit(k: Int) {
        let (n, c, i, experts) = (37, 16, 24, 5)
        var rng = SplitMix64(seed: 7 + UInt64(k))
        // Distinct experts per token among the first four (expert 4 stays idle), skewed to expert 0.
        var slots = [[Int]](repeating: [], count: experts)
        for t in 0..<n {
            var chosen: [Int] = []
            while chosen.count < k {
                let e = Int(rng.next() % 7) % 4
                if !chosen.contains(e) { chosen.append(e) }
            }
            for (j, e) in chosen.enumerated() { slots[e].append(t * k + j) }
        }
        let tokens = slots.map { $0.map { $0 / k } }
        func run(trainable: Bool) -> Tensor {
            func v(_ shape: [Int], _ seed: UInt64) -> Variable {
                trainable ? parameter(shape, seed: seed) : Variable(randomTensor(shape, seed: seed))
            }
            return groupedExperts(
                v([n, c], 1), gate: (0..<experts).map { v([i, c], 10 + UInt64($0)) },
                up: (0..<experts).map { v([i, c], 20 + UInt64($0)) },
                down: (0..<experts).map { v([c, i], 30 + UInt64($0)) },
                tokens: tokens, slots: slots, weights: v([n, k], 2)
            ).value
        }
        let frozen = run(trainable: false)
        #expect(frozen == run(trainable: true))
        #expect(frozen.data.contains { $0 != 0 })
    }
}
