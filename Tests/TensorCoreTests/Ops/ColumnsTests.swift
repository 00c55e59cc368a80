import Testing

@testable import TensorCore

struct ColumnsTests {
    @Test func concatAndPadPlaceColumns() {
        let a = Tensor(shape: [2, 2], data: [1, 2, 3, 4]), b = Tensor(shape: [2, 1], data: [5, 6])
        #expect(concatColumns([Variable(a), Variable(b)]).value.data == [1, 2, 5, 3, 4, 6])
        #expect(padColumns(Variable(b), count: 2).value.data == [5, 0, 0, 6, 0, 0])
    }

    @Test func backwardMatchesFiniteDifferences() {
        let a = parameter([3, 2], seed: 1), b = parameter([3, 4], seed: 2)
        checkGradients([a, b]) { padColumns(concatColumns([a, b]), count: 1) }
    }
}
