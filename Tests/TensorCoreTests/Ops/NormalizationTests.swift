import Foundation
import Testing

@testable import TensorCore

@Suite struct NormalizationTests {
    @Test(arguments: [[3, 8], [2, 3, 13], [1, 64]])
    func rmsNormForwardMatchesDouble(shape: [Int]) {
        let x = randomTensor(shape, seed: 51, scale: 2)
        let w = randomTensor([shape.last!], seed: 52)
        let eps: Float = 1e-6
        let y = rmsNorm(Variable(x), weight: Variable(w), eps: eps).value
        let width = shape.last!
        for r in 0..<x.rows {
            var ms: Double = 0
            for c in 0..<width { ms += Double(x.data[r * width + c]) * Double(x.data[r * width + c]) }
            let inv = 1 / (ms / Double(width) + Double(eps)).squareRoot()
            for c in 0..<width {
                let e = Double(w.data[c]) * Double(x.data[r * width + c]) * inv
                #expect(abs(Double(y.data[r * width + c]) - e) <= 1e-6 * max(abs(e), 1e-3))
            }
        }
    }

    @Test(arguments: [[3, 8], [2, 2, 5]])
    func rmsNormGradient(shape: [Int]) {
        let x = parameter(shape, seed: 53)
        let w = parameter([shape.last!], seed: 54)
        checkGradients([x, w]) { rmsNorm(x, weight: w, eps: 1e-5) }
    }

    @Test(arguments: [true, false])
    func layerNormForwardMatchesDouble(withBias: Bool) {
        let x = randomTensor([4, 11], seed: 55, scale: 3)
        let w = randomTensor([11], seed: 56)
        let b = randomTensor([11], seed: 57)
        let eps: Float = 1e-5
        let y = layerNorm(Variable(x), weight: Variable(w), bias: withBias ? Variable(b) : nil, eps: eps).value
        for r in 0..<4 {
            let row = (0..<11).map { Double(x.data[r * 11 + $0]) }
            let mean = row.reduce(0, +) / 11
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 11
            for c in 0..<11 {
                let e =
                    (row[c] - mean) / (variance + Double(eps)).squareRoot() * Double(w.data[c])
                    + (withBias ? Double(b.data[c]) : 0)
                #expect(abs(Double(y.data[r * 11 + c]) - e) <= 2e-6 * max(abs(e), 1e-2))
            }
        }
    }

    @Test(arguments: [true, false])
    func layerNormGradient(withBias: Bool) {
        let x = parameter([3, 7], seed: 58)
        let w = parameter([7], seed: 59)
        let b = parameter([7], seed: 60)
        checkGradients(withBias ? [x, w, b] : [x, w]) { layerNorm(x, weight: w, bias: withBias ? b : nil, eps: 1e-5) }
    }

    @Test func frozenNormCachesNothing() {
        let y = rmsNorm(
            Variable(randomTensor([2, 4], seed: 61)), weight: Variable(Tensor(shape: [4], repeating: 1)), eps: 1e-6)
        #expect(!y.requiresGrad)
    }
}
