import Foundation
import Testing

@testable import TensorCore

@Suite struct ElementwiseTests {
    enum Unary: String, CaseIterable { case silu, gelu, sigmoid }

    static func apply(_ op: Unary, _ x: Variable) -> Variable {
        switch op {
        case .silu: return silu(x)
        case .gelu: return gelu(x)
        case .sigmoid: return sigmoid(x)
        }
    }

    /// The textbook formulas in Double (GELU: PyTorch's tanh approximation).
    static func reference(_ op: Unary, _ x: Double) -> Double {
        switch op {
        case .silu: return x / (1 + exp(-x))
        case .gelu: return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        case .sigmoid: return 1 / (1 + exp(-x))
        }
    }

    @Test(arguments: Unary.allCases)
    func unaryForwardMatchesFormula(op: Unary) {
        let x = randomTensor([5, 7], seed: 21, scale: 6)
        let y = Self.apply(op, Variable(x)).value
        for i in 0..<x.count {
            let e = Self.reference(op, Double(x.data[i]))
            #expect(abs(Double(y.data[i]) - e) <= 1e-6 * max(1, abs(e)))
        }
    }

    @Test(arguments: Unary.allCases)
    func unaryGradient(op: Unary) {
        let x = parameter([4, 6], seed: 22, scale: 3)
        checkGradients([x]) { Self.apply(op, x) }
    }

    @Test func addSameShapeGradient() {
        let a = parameter([3, 4], seed: 23)
        let b = parameter([3, 4], seed: 24)
        checkGradients([a, b]) { add(a, b) }
    }

    @Test func addBroadcastsBiasOverRows() {
        let a = parameter([2, 3, 4], seed: 25)
        let b = parameter([4], seed: 26)
        let y = add(a, b).value
        #expect(y.shape == [2, 3, 4])
        for i in 0..<y.count { #expect(y.data[i] == a.value.data[i] + b.value.data[i % 4]) }
        checkGradients([a, b]) { add(a, b) }
    }

    @Test func mulGradient() {
        let a = parameter([3, 5], seed: 27)
        let b = parameter([3, 5], seed: 28)
        checkGradients([a, b]) { mul(a, b) }
    }

    @Test func scaleGradient() {
        let a = parameter([3, 5], seed: 29)
        #expect(scale(a, 2.5).value.data[3] == a.value.data[3] * 2.5)
        checkGradients([a]) { scale(a, -1.5) }
    }

    @Test func swigluMatchesSiluTimesUp() {
        let gate = parameter([4, 6], seed: 30, scale: 3)
        let up = parameter([4, 6], seed: 31)
        let fused = swiglu(gate: gate, up: up).value
        let unfused = mul(silu(gate), up).value
        #expect(fused.maxAbsDifference(unfused) <= 1e-6)
        checkGradients([gate, up]) { swiglu(gate: gate, up: up) }
    }

    @Test func reshapeGradient() {
        let x = parameter([2, 6], seed: 32)
        let y = reshape(x, [3, 4])
        #expect(y.shape == [3, 4] && y.value.data == x.value.data)
        checkGradients([x]) { matmul(reshape(x, [3, 4]), Variable(randomTensor([4, 2], seed: 33))) }
    }

    @Test(arguments: [0..<3, 2..<5, 0..<5])
    func sliceColumns(range: Range<Int>) {
        let x = parameter([4, 5], seed: 34)
        let y = TensorCore.sliceColumns(x, range).value
        #expect(y.shape == [4, range.count])
        for r in 0..<4 {
            for (j, c) in range.enumerated() { #expect(y.data[r * range.count + j] == x.value.data[r * 5 + c]) }
        }
        checkGradients([x]) { TensorCore.sliceColumns(x, range) }
    }

    @Test func noGraphWithoutTrainableInputs() {
        let x = Variable(randomTensor([3, 4], seed: 35))
        let y = silu(add(x, x))
        #expect(!y.requiresGrad)
    }
}
