import Foundation
import Testing
@testable import TensorCore
@testable import ExpertLock

struct RoutingEntropyTests {
    /// Gradient against central differences (Double accumulation), with some rows above the floor.
    @Test func gradientMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 11)
        let x = Tensor(shape: [5, 6], data: (0..<30).map { _ in 3 * (rng.nextFloat() - 0.5) })
        let floor: Float = 1.5
        let v = Variable(x, requiresGrad: true)
        let loss = routingEntropyShortfall(v, floor: floor, rows: [0, 2, 3, 4])
        loss.backward()
        let analytic = v.grad!
        let h: Float = 1e-2
        var worst: Float = 0
        for i in 0..<x.count {
            var plus = x, minus = x
            plus.data[i] += h
            minus.data[i] -= h
            let fp = routingEntropyShortfall(Variable(plus), floor: floor, rows: [0, 2, 3, 4]).value.scalar
            let fm = routingEntropyShortfall(Variable(minus), floor: floor, rows: [0, 2, 3, 4]).value.scalar
            let numeric = (fp - fm) / (2 * h)
            worst = max(worst, abs(numeric - analytic.data[i]) / max(1e-3, abs(numeric) + abs(analytic.data[i])))
        }
        #expect(worst <= 1e-2)
        // Row 1 was not selected: no gradient.
        #expect((6..<12).allSatisfy { analytic.data[$0] == 0 })
    }

    @Test func uniformRoutingHasNoShortfall() {
        let x = Variable(Tensor(shape: [3, 4], repeating: 0.7), requiresGrad: true)
        #expect(routingEntropyShortfall(x, floor: Float(log(4.0)) - 1e-4).value.scalar == 0)
        let peaked = Variable(Tensor(shape: [1, 4], data: [20, 0, 0, 0]))
        #expect(abs(routingEntropyShortfall(peaked, floor: 1).value.scalar - 1) < 1e-3)
    }
}
