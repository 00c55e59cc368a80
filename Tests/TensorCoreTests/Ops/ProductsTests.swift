import Testing

@testable import TensorCore

@Suite struct ProductsTests {
    /// Naive C = A·op(B) in Double: a [M, K], b [K, N] or [N, K].
    static func reference(_ a: Tensor, _ b: Tensor, transposeB: Bool) -> [Double] {
        let k = a.lastDim
        let m = a.rows
        let n = transposeB ? b.shape[0] : b.shape[1]
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                for p in 0..<k {
                    let bv = transposeB ? b.data[j * k + p] : b.data[p * n + j]
                    c[i * n + j] += Double(a.data[i * k + p]) * Double(bv)
                }
            }
        }
        return c
    }

    @Test(arguments: [false, true])
    func matmulForwardMatchesLoop(transposeB: Bool) {
        let a = randomTensor([2, 3, 5], seed: 1)
        let b = randomTensor(transposeB ? [7, 5] : [5, 7], seed: 2)
        let c = matmul(Variable(a), Variable(b), transposeB: transposeB).value
        #expect(c.shape == [2, 3, 7])
        let expected = Self.reference(a, b, transposeB: transposeB)
        for i in 0..<c.count { #expect(abs(Double(c.data[i]) - expected[i]) < 1e-5) }
    }

    @Test(arguments: [false, true])
    func matmulGradient(transposeB: Bool) {
        let a = parameter([2, 3, 4], seed: 3)
        let b = parameter(transposeB ? [5, 4] : [4, 5], seed: 4)
        checkGradients([a, b]) { matmul(a, b, transposeB: transposeB) }
    }

    @Test func matmulGradientOnlyForTrainableSide() {
        let a = Variable(randomTensor([3, 4], seed: 5))
        let b = parameter([4, 2], seed: 6)
        checkGradients([a, b]) { matmul(a, b) }
        #expect(a.grad == nil)
    }

    @Test(arguments: [true, false])
    func linearForwardMatchesLoop(withBias: Bool) {
        let x = randomTensor([4, 6], seed: 7)
        let w = randomTensor([3, 6], seed: 8)
        let bias = randomTensor([3], seed: 9)
        let y = linear(Variable(x), Variable(w), bias: withBias ? Variable(bias) : nil).value
        #expect(y.shape == [4, 3])
        let expected = Self.reference(x, w, transposeB: true)
        for r in 0..<4 {
            for o in 0..<3 {
                let e = expected[r * 3 + o] + (withBias ? Double(bias.data[o]) : 0)
                #expect(abs(Double(y.data[r * 3 + o]) - e) < 1e-5)
            }
        }
    }

    @Test(arguments: [true, false])
    func linearGradient(withBias: Bool) {
        let x = parameter([2, 3, 4], seed: 10)
        let w = parameter([5, 4], seed: 11)
        let bias = parameter([5], seed: 12)
        checkGradients(withBias ? [x, w, bias] : [x, w]) { linear(x, w, bias: withBias ? bias : nil) }
    }

    @Test func linearOnEmptyBatch() {
        let x = Variable(Tensor.zeros([0, 4]))
        let w = parameter([3, 4], seed: 13)
        let y = linear(x, w, bias: parameter([3], seed: 14))
        #expect(y.shape == [0, 3])
        y.backward(seed: Tensor.zeros([0, 3]))
        #expect(w.grad == Tensor.zeros([3, 4]))
    }
}
