import Foundation
import Testing

@testable import TensorCore

/// The eight-lane exp behind softmax, attention and the sigmoid activations.
@Suite struct VectorExpTests {
    @Test func matchesLibmWithinTwoUlps() {
        var worst: Double = 0
        var x: Float = -87
        while x < 88.5 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.001 })
            let y = Kernels.exp(lanes)
            for i in 0..<8 {
                let expected = Foundation.exp(Double(lanes[i]))
                worst = max(worst, abs(Double(y[i]) - expected) / expected)
            }
            x += 0.173
        }
        #expect(worst <= 2.5e-7, "worst relative error \(worst)")
    }

    @Test func specialValues() {
        let x = SIMD8<Float>(0, -.infinity, .infinity, 100, -100, .nan, 88.7, -87.3)
        let y = Kernels.exp(x)
        #expect(y[0] == 1)
        #expect(y[1] == 0)
        #expect(y[2] == .infinity)
        #expect(y[3] == .infinity)
        #expect(y[4] == 0)
        #expect(y[5].isNaN)
        #expect(abs(Double(y[6]) / Foundation.exp(Double(Float(88.7))) - 1) < 3e-7)
        #expect(abs(Double(y[7]) / Foundation.exp(Double(Float(-87.3))) - 1) < 3e-7)
    }

    @Test func nonPositiveVariantAgrees() {
        var x: Float = -90
        while x <= 0 {
            let lanes = SIMD8<Float>((0..<8).map { min(0, x + Float($0) * 0.01) })
            #expect(Kernels.expNonPositive(lanes) == Kernels.exp(lanes))
            x += 0.37
        }
        let special = SIMD8<Float>(-.infinity, .nan, -100, 0, -1e-30, -87.3, -87.4, -0.0)
        let y = Kernels.expNonPositive(special)
        let z = Kernels.exp(special)
        for i in 0..<8 { #expect(y[i] == z[i] || (y[i].isNaN && z[i].isNaN)) }
    }

    @Test(arguments: [1, 7, 8, 13, 64])
    func expShiftedWritesAndSums(n: Int) {
        let src = (0..<n).map { Float($0) * 0.37 - 3 }
        var dst = [Float](repeating: -1, count: n)
        let total = src.withUnsafeBufferPointer { ps in
            dst.withUnsafeMutableBufferPointer { pd in
                Kernels.expShifted(ps.baseAddress!, pd.baseAddress!, n, shift: 1.5)
            }
        }
        var expected: Double = 0
        for i in 0..<n {
            let e = Foundation.exp(Double(src[i]) - 1.5)
            expected += e
            #expect(abs(Double(dst[i]) - e) <= 3e-7 * e)
        }
        #expect(abs(Double(total) - expected) <= 1e-6 * expected)
        let sumOnly = src.withUnsafeBufferPointer { Kernels.expShiftedSum($0.baseAddress!, n, shift: 1.5) }
        #expect(sumOnly == total)
    }
}
