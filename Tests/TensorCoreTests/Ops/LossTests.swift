import Foundation
import Testing

@testable import TensorCore

@Suite struct LossTests {
    @Test(arguments: [-100, 2])
    func crossEntropyMatchesDouble(ignoreIndex: Int) {
        let logits = randomTensor([5, 7], seed: 111, scale: 4)
        let targets = [3, ignoreIndex, 0, 6, 2]
        let loss = crossEntropy(Variable(logits), targets: targets, ignoreIndex: ignoreIndex).value
        #expect(loss.shape == [])
        var total: Double = 0
        var counted = 0
        for (r, t) in targets.enumerated() where t != ignoreIndex {
            let row = (0..<7).map { Double(logits.data[r * 7 + $0]) }
            let m = row.max()!
            total += m + log(row.map { exp($0 - m) }.reduce(0, +)) - row[t]
            counted += 1
        }
        #expect(abs(Double(loss.scalar) - total / Double(counted)) <= 1e-6 * total / Double(counted))
    }

    @Test(arguments: [[1, 4, 0, 2], [1, -100, -100, 3]])
    func gradient(targets: [Int]) {
        let logits = parameter([2, 2, 5], seed: 112, scale: 2)
        checkGradients([logits]) { crossEntropy(logits, targets: targets) }
    }

    @Test func allIgnoredGivesZeroLossAndGradient() {
        let logits = parameter([2, 3], seed: 113)
        let loss = crossEntropy(logits, targets: [-100, -100])
        #expect(loss.value.scalar == 0)
        loss.backward()
        #expect(logits.grad == Tensor.zeros([2, 3]))
    }
}
