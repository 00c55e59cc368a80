import Foundation
import Testing

@testable import TensorCore

@Suite struct SoftmaxTests {
    /// log-softmax of one row in Double.
    static func referenceLogSoftmax(_ row: [Float]) -> [Double] {
        let m = Double(row.max()!)
        let z = m + log(row.map { exp(Double($0) - m) }.reduce(0, +))
        return row.map { Double($0) - z }
    }

    @Test(arguments: [Float(1), 30])
    func softmaxForwardMatchesDouble(scale: Float) {
        let x = randomTensor([4, 9], seed: 71, scale: scale)
        let y = softmax(Variable(x)).value
        let ly = logSoftmax(Variable(x)).value
        for r in 0..<4 {
            let expected = Self.referenceLogSoftmax(Array(x.data[(r * 9)..<(r * 9 + 9)]))
            var total: Float = 0
            for c in 0..<9 {
                total += y.data[r * 9 + c]
                #expect(abs(Double(y.data[r * 9 + c]) - exp(expected[c])) <= 1e-6 * max(exp(expected[c]), 1e-3))
                #expect(abs(Double(ly.data[r * 9 + c]) - expected[c]) <= 1e-6 * max(abs(expected[c]), 1))
            }
            #expect(abs(total - 1) < 1e-6)
        }
    }

    @Test func softmaxStableForLargeLogits() {
        let x = Tensor(shape: [1, 3], data: [1000, 1001, -1000])
        let y = softmax(Variable(x)).value
        #expect(y.data.allSatisfy { $0.isFinite })
        #expect(abs(y.data[1] - 0.7310586) < 1e-6)
    }

    @Test(arguments: [[3, 5], [2, 2, 4]])
    func softmaxGradient(shape: [Int]) {
        let x = parameter(shape, seed: 72, scale: 2)
        checkGradients([x]) { softmax(x) }
    }

    @Test(arguments: [[3, 5], [2, 2, 4]])
    func logSoftmaxGradient(shape: [Int]) {
        let x = parameter(shape, seed: 73, scale: 2)
        checkGradients([x]) { logSoftmax(x) }
    }
}
