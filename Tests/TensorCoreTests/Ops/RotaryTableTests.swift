import Testing

@testable import TensorCore

/// The frequency-table rope: plain RoPE as before, partial and interleaved layouts, scaling, and its
/// backward against finite differences.
struct RotaryTableTests {
    static let positions = [0, 1, 2, 5, 3, 7]

    @Test func plainTableEqualsThetaRoPE() {
        let x = Variable(randomTensor([6, 2 * 8], seed: 1))
        let a = rope(x, heads: 2, headDim: 8, positions: Self.positions, theta: 10_000)
        let b = rope(
            x, heads: 2, headDim: 8, positions: Self.positions,
            inverseFrequencies: ropeInverseFrequencies(headDim: 8, theta: 10_000))
        #expect(a.value == b.value)
    }

    /// A shared permutation of queries and keys (adjacent pairs ↔ rotate_half pairs) keeps every dot product.
    @Test func interleavedIsAPermutationOfHalf() {
        let d = 8
        let q = randomTensor([6, d], seed: 2), k = randomTensor([6, d], seed: 3)
        let frequencies = ropeInverseFrequencies(headDim: d, theta: 500)
        // Channel 2i -> i, 2i+1 -> i + d/2.
        func permuted(_ t: Tensor) -> Tensor {
            Tensor(
                shape: t.shape,
                data: (0..<t.count).map { j in
                    let (r, c) = (j / d, j % d)
                    let source = c < d / 2 ? 2 * c : 2 * (c - d / 2) + 1
                    return t.data[r * d + source]
                })
        }
        let qi = rope(
            Variable(q), heads: 1, headDim: d, positions: Self.positions, inverseFrequencies: frequencies,
            layout: .interleaved
        ).value
        let ki = rope(
            Variable(k), heads: 1, headDim: d, positions: Self.positions, inverseFrequencies: frequencies,
            layout: .interleaved
        ).value
        let qh = rope(
            Variable(permuted(q)), heads: 1, headDim: d, positions: Self.positions,
            inverseFrequencies: frequencies
        ).value
        let kh = rope(
            Variable(permuted(k)), heads: 1, headDim: d, positions: Self.positions,
            inverseFrequencies: frequencies
        ).value
        for a in 0..<6 {
            for b in 0..<6 {
                var interleaved: Float = 0, half: Float = 0
                for c in 0..<d {
                    interleaved += qi.data[a * d + c] * ki.data[b * d + c]
                    half += qh.data[a * d + c] * kh.data[b * d + c]
                }
                #expect(abs(interleaved - half) <= 1e-5)
            }
        }
    }

    /// Partial rotary leaves the last channels of each head as they are; scaling multiplies only the rotated ones.
    @Test func partialRotaryPassesTheRestThrough() {
        let x = randomTensor([6, 2 * 10], seed: 4)
        let y = rope(
            Variable(x), heads: 2, headDim: 10, positions: Self.positions,
            inverseFrequencies: ropeInverseFrequencies(headDim: 4, theta: 10_000), attentionScaling: 1.5,
            rotaryDim: 4
        ).value
        for r in 0..<6 {
            for h in 0..<2 {
                for c in 4..<10 { #expect(y.data[r * 20 + h * 10 + c] == x.data[r * 20 + h * 10 + c]) }
            }
        }
        #expect(abs(y.data[0] - 1.5 * x.data[0]) <= 1e-6)  // position 0: cos 1, sin 0
    }

    @Test(arguments: [RotaryLayout.half, .interleaved])
    func backwardMatchesFiniteDifferences(_ layout: RotaryLayout) {
        let x = parameter([6, 2 * 8], seed: 5)
        let frequencies = ropeInverseFrequencies(headDim: 6, theta: 100)
        checkGradients([x]) {
            rope(
                x, heads: 2, headDim: 8, positions: Self.positions, inverseFrequencies: frequencies,
                attentionScaling: 1.3, rotaryDim: 6, layout: layout)
        }
    }
}
