import Testing

@testable import TensorCore

@Suite struct TensorFacetTests {
    let a = Tensor(shape: [2, 3], data: [1, -2, 3, 4, 5, -6])
    let b = Tensor(shape: [2, 3], data: [0.5, 0.5, 0.5, 1, 1, 1])

    @Test func arithmetic() {
        #expect((a + b).data == [1.5, -1.5, 3.5, 5, 6, -5])
        #expect((a - b).data == [0.5, -2.5, 2.5, 3, 4, -7])
        #expect((a * b).data == [0.5, -1, 1.5, 4, 5, -6])
        #expect((a * 2).data == [2, -4, 6, 8, 10, -12])
        #expect(a.map { abs($0) }.data == [1, 2, 3, 4, 5, 6])
        var c = a
        c.add(b, scaledBy: 2)
        #expect(c.data == [2, -1, 4, 6, 7, -4])
        c.scale(by: 0.5)
        #expect(c.data == [1, -0.5, 2, 3, 3.5, -2])
    }

    @Test func reductions() {
        #expect(a.sum() == 5)
        #expect(abs(a.mean() - 5.0 / 6) < 1e-7)
        #expect(a.rowSums().data == [2, 3])
        #expect(a.columnSums().data == [5, 3, -3])
        #expect(a.rowMax().data == [3, 5])
        #expect(Tensor(shape: [1, 2], data: [3, 4]).rowL2Norms().data == [5])
        #expect(abs(a.l2Norm() - 91.0.squareRoot().floatValue) < 1e-5)
        #expect(Tensor(shape: [3, 3], data: [1, 3, 3, 0, 0, 0, -1, -5, -2]).argmaxRows() == [1, 0, 0])
        #expect(Tensor.zeros([0, 4]).argmaxRows() == [])
    }
}

extension Double {
    var floatValue: Float { Float(self) }
}
