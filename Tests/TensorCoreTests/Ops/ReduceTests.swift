import Testing

@testable import TensorCore

@Suite struct ReduceTests {
    @Test func sumAndMeanValues() {
        let x = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        #expect(sum(Variable(x)).value == Tensor(scalar: 21))
        #expect(mean(Variable(x)).value == Tensor(scalar: 3.5))
    }

    @Test func largeSumIsBlockedAndAccurate() {
        let x = Tensor(shape: [300_000], repeating: 0.5)
        #expect(sum(Variable(x)).value.scalar == 150_000)
    }

    @Test func gradients() {
        let x = parameter([3, 4], seed: 121)
        checkGradients([x]) { sum(x) }
        checkGradients([x]) { mean(x) }
        let a = parameter([], seed: 123), b = Variable(Tensor(scalar: 1.7), requiresGrad: true)
        checkGradients([a, b]) { divide(a, b) }
        #expect(divide(Variable(Tensor(scalar: 3)), Variable(Tensor(scalar: 4))).value.scalar == 0.75)
    }

    @Test func checkerDetectsAWrongRule() {
        // A deliberately wrong backward (2x the true gradient) must fail the check by a wide margin.
        let x = parameter([3], seed: 122)
        let errors = checkGradients([x], tolerance: .infinity) {
            Variable(x.value.scaled(by: 3), parents: [x]) { g in [g.scaled(by: 6)] }
        }
        #expect(errors[0] > 0.3)
    }
}
