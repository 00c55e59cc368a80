import Foundation
import Testing

@testable import TensorCore

@Suite struct ClampedSwiGLUTests {
    /// Values on both sides of ±limit (kept away from the kinks, where a difference quotient straddles them).
    static func inputs() -> (Variable, Variable) {
        let g = randomTensor([3, 8], seed: 31, scale: 4), u = randomTensor([3, 8], seed: 32, scale: 4)
        func awayFromKinks(_ t: Tensor) -> Tensor {
            Tensor(shape: t.shape, data: t.data.map { abs(abs($0) - 2.5) < 0.05 ? $0 + 0.1 : $0 })
        }
        return (Variable(awayFromKinks(g), requiresGrad: true), Variable(awayFromKinks(u), requiresGrad: true))
    }

    @Test func forwardMatchesTransformersFormula() {
        let (g, u) = Self.inputs()
        let out = clampedSwiglu(gate: g, up: u, alpha: 1.702, limit: 2.5).value
        for i in 0..<out.count {
            let gate = min(Double(g.value.data[i]), 2.5), up = min(max(Double(u.value.data[i]), -2.5), 2.5)
            let expected = (up + 1) * gate / (1 + exp(-1.702 * gate))
            #expect(abs(Double(out.data[i]) - expected) <= 1e-5)
        }
    }

    @Test func gradientsMatchFiniteDifferences() {
        let (g, u) = Self.inputs()
        // Both clamps active somewhere: the gate above the limit and the up projection beyond both bounds.
        #expect(g.value.data.contains { $0 > 2.5 })
        #expect(u.value.data.contains { $0 > 2.5 } && u.value.data.contains { $0 < -2.5 })
        checkGradients([g, u], step: 1e-3, tolerance: 1e-3) { clampedSwiglu(gate: g, up: u, alpha: 1.702, limit: 2.5) }
    }
}
