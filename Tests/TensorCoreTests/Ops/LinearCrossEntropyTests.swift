import Foundation
import Testing

@testable import TensorCore

@Suite struct LinearCrossEntropyTests {
    /// Targets with some ignored rows (every seventh) spread over all chunks.
    static func targets(rows: Int, vocabulary: Int) -> [Int] {
        (0..<rows).map { r in r % 7 == 3 ? -100 : (r * 7919 + 13) % vocabulary }
    }

    static func close(_ a: Tensor, _ b: Tensor, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(a.shape == b.shape, "\(what) shape", sourceLocation: sourceLocation)
        let largest = b.data.map { abs($0) }.max() ?? 0
        let worst = zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0
        #expect(
            worst <= 1e-5 * max(1e-3, largest), "\(what): worst difference \(worst), largest \(largest)",
            sourceLocation: sourceLocation)
    }

    /// Loss and both gradients against the unfused `crossEntropy(linear(x, w))`, over three chunks
    /// (the last one short), with an upstream gradient of 2.5.
    @Test func matchesTheUnfusedPairOverSeveralChunks() {
        let (rows, width, vocabulary) = (600, 8, 5000)
        #expect(linearCrossEntropyChunkRows(rows: rows, vocabulary: vocabulary) == 256)
        let targets = Self.targets(rows: rows, vocabulary: vocabulary)
        var losses: [Float] = []
        var gradients: [[Tensor]] = []
        for fused in [true, false] {
            let x = Variable(randomTensor([rows, width], seed: 11, scale: 2), requiresGrad: true)
            let w = Variable(randomTensor([vocabulary, width], seed: 12, scale: 2), requiresGrad: true)
            let loss =
                fused
                ? linearCrossEntropy(x, weight: w, targets: targets)
                : crossEntropy(linear(x, w), targets: targets)
            losses.append(loss.value.scalar)
            scale(loss, 2.5).backward()
            gradients.append([x.grad!, w.grad!])
        }
        #expect(abs(losses[0] - losses[1]) <= 1e-5 * abs(losses[1]), "\(losses)")
        Self.close(gradients[0][0], gradients[1][0], "dx")
        Self.close(gradients[0][1], gradients[1][1], "dw")
    }

    @Test func gradientToOneSideOnly() {
        let (rows, width, vocabulary) = (40, 6, 30)
        let targets = Self.targets(rows: rows, vocabulary: vocabulary)
        let x = Variable(randomTensor([rows, width], seed: 21), requiresGrad: false)
        let w = Variable(randomTensor([vocabulary, width], seed: 22), requiresGrad: true)
        let loss = linearCrossEntropy(x, weight: w, targets: targets)
        loss.backward()
        let reference = Variable(w.value, requiresGrad: true)
        crossEntropy(linear(x, reference), targets: targets).backward()
        Self.close(w.grad!, reference.grad!, "dw")
        #expect(x.grad == nil)
    }

    @Test func everyRowIgnoredGivesZero() {
        let x = Variable(randomTensor([5, 4], seed: 31), requiresGrad: true)
        let w = Variable(randomTensor([9, 4], seed: 32), requiresGrad: true)
        let loss = linearCrossEntropy(x, weight: w, targets: [Int](repeating: -100, count: 5))
        #expect(loss.value.scalar == 0)
        loss.backward()
        #expect(x.grad!.data.allSatisfy { $0 == 0 })
        #expect(w.grad!.data.allSatisfy { $0 == 0 })
    }

    @Test func finiteDifferences() {
        let x = Variable(randomTensor([6, 5], seed: 41), requiresGrad: true)
        let w = Variable(randomTensor([11, 5], seed: 42), requiresGrad: true)
        let targets = [3, -100, 0, 10, 7, 7]
        checkGradients([x, w]) { linearCrossEntropy(x, weight: w, targets: targets) }
    }
}
