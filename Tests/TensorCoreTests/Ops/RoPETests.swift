import Foundation
import Testing

@testable import TensorCore

@Suite struct RoPETests {
    @Test func inverseFrequenciesAreExactPowersOfTheta() {
        #expect(ropeInverseFrequencies(headDim: 8, theta: 10_000) == [1, 0.1, 0.01, 0.001])
    }

    @Test(arguments: [(2, 4, 10_000.0), (3, 8, 1_000_000.0)])
    func forwardMatchesRotateHalf(heads: Int, headDim: Int, theta: Double) {
        let positions = [0, 1, 7, 300, 4095]
        let x = randomTensor([positions.count, heads * headDim], seed: 81)
        let y = rope(Variable(x), heads: heads, headDim: headDim, positions: positions, theta: theta).value
        let inv = ropeInverseFrequencies(headDim: headDim, theta: theta)
        let half = headDim / 2
        for (r, p) in positions.enumerated() {
            for h in 0..<heads {
                let base = r * heads * headDim + h * headDim
                for i in 0..<headDim {
                    // q·cos + rotate_half(q)·sin with rotate_half(q) = cat(−q2, q1);
                    // the angle is Float32 as in transformers.
                    let angle = Double(Float(p) * inv[i % half])
                    let rotated = i < half ? -Double(x.data[base + i + half]) : Double(x.data[base + i - half])
                    let e = Double(x.data[base + i]) * cos(angle) + rotated * sin(angle)
                    #expect(abs(Double(y.data[base + i]) - e) <= 1e-6)
                }
            }
        }
    }

    @Test func batchPositionsMatchRowByRow() {
        // B sequences of length T repeat positions 0..<T: the kernel tabulates cos/sin per position.
        let positions = (0..<12).map { $0 % 4 }
        let x = randomTensor([12, 2 * 8], seed: 84)
        let y = rope(Variable(x), heads: 2, headDim: 8, positions: positions, theta: 10_000).value
        for r in 0..<12 {
            let row = rope(
                Variable(x.rows(r..<(r + 1))), heads: 2, headDim: 8, positions: [positions[r]], theta: 10_000)
            #expect(Array(y.data[(r * 16)..<(r * 16 + 16)]) == row.value.data)
        }
    }

    @Test func positionZeroIsIdentity() {
        let x = randomTensor([1, 8], seed: 82)
        #expect(rope(Variable(x), heads: 2, headDim: 4, positions: [0], theta: 10_000).value == x)
    }

    @Test func gradient() {
        let x = parameter([4, 2 * 6], seed: 83)
        checkGradients([x]) { rope(x, heads: 2, headDim: 6, positions: [3, 0, 11, 5], theta: 10_000) }
    }
}
