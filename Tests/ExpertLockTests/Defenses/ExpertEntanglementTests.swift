import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// The output-agreement penalty: invariant to scaling every expert output (its normaliser is in
/// the graph), and its gradient matches finite differences.
struct ExpertEntanglementTests {
    static func stacked(_ scaleBy: Float = 1) -> Variable {
        var rng = SplitMix64(seed: 12)
        // Three tokens, two experts each: rows 0–5 in `rows` order.
        return Variable(
            Tensor(shape: [6, 4], data: (0..<24).map { _ in scaleBy * (2 * rng.nextFloat() - 1) }), requiresGrad: true)
    }

    @Test func scalingEveryOutputLeavesThePenaltyAndGivesNoGradientAlongTheScale() throws {
        let batch = TokenBatch(ids: [1, 2, 3], batch: 1, seq: 3)
        let rows = [0, 1, 2, 0, 1, 2]
        let x = Self.stacked()
        let p = try #require(ExpertEntanglement.outputDisagreement(stacked: x, rows: rows, k: 2, batch: batch))
        let doubled = try #require(
            ExpertEntanglement.outputDisagreement(stacked: Self.stacked(2), rows: rows, k: 2, batch: batch))
        #expect(abs(p.value.scalar - doubled.value.scalar) <= 1e-5 * p.value.scalar)
        // d/ds penalty(s · y) at s = 1 is ⟨∇penalty, y⟩: zero for a scale-invariant penalty (a detached
        // normaliser gives 2 · penalty here, the pull towards shrinking every output).
        p.backward()
        let g = try #require(x.grad)
        let alongScale = zip(g.data, x.value.data).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        #expect(abs(alongScale) <= 1e-4 * max(1, p.value.scalar))
        // Central differences on every element.
        for i in 0..<x.value.count {
            let original = x.value.data[i]
            let h: Float = 1e-2
            x.value.data[i] = original + h
            let up = ExpertEntanglement.outputDisagreement(stacked: x, rows: rows, k: 2, batch: batch)!.value.scalar
            x.value.data[i] = original - h
            let down = ExpertEntanglement.outputDisagreement(stacked: x, rows: rows, k: 2, batch: batch)!.value.scalar
            x.value.data[i] = original
            let numeric = (up - down) / (2 * h)
            #expect(
                abs(numeric - g.data[i]) <= 2e-3 + 2e-2 * abs(g.data[i]), "element \(i): \(numeric) vs \(g.data[i])")
        }
    }
}
