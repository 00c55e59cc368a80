import Testing

@testable import TensorCore

@Suite struct RowsTests {
    @Test func gatherRowsCopiesRowsAndScattersGradient() {
        let table = parameter([5, 3], seed: 41)
        let indices = [4, 0, 4, 2]
        let y = gatherRows(table, indices).value
        #expect(y.shape == [4, 3])
        for (r, i) in indices.enumerated() {
            #expect(Array(y.data[(r * 3)..<(r * 3 + 3)]) == Array(table.value.data[(i * 3)..<(i * 3 + 3)]))
        }
        checkGradients([table]) { gatherRows(table, indices) }
    }

    @Test func gatherNoRows() {
        let table = parameter([5, 3], seed: 42)
        let y = gatherRows(table, [])
        #expect(y.shape == [0, 3])
        y.backward(seed: Tensor.zeros([0, 3]))
        #expect(table.grad == Tensor.zeros([5, 3]))
    }

    @Test func scatterAddRowsSumsEqualIndices() {
        let x = parameter([4, 3], seed: 43)
        let indices = [1, 3, 1, 0]
        let y = scatterAddRows(x, indices, rowCount: 5).value
        #expect(y.shape == [5, 3])
        for c in 0..<3 {
            #expect(y.data[1 * 3 + c] == x.value.data[0 * 3 + c] + x.value.data[2 * 3 + c])
            #expect(y.data[3 * 3 + c] == x.value.data[1 * 3 + c])
            #expect(y.data[0 * 3 + c] == x.value.data[3 * 3 + c])
            #expect(y.data[2 * 3 + c] == 0 && y.data[4 * 3 + c] == 0)
        }
        checkGradients([x]) { scatterAddRows(x, indices, rowCount: 5) }
    }

    @Test(arguments: [[4], [4, 1]])
    func scaleRowsGradientToBoth(factorShape: [Int]) {
        let x = parameter([4, 3], seed: 44)
        let s = parameter(factorShape, seed: 45)
        let y = scaleRows(x, s).value
        for r in 0..<4 {
            for c in 0..<3 { #expect(y.data[r * 3 + c] == x.value.data[r * 3 + c] * s.value.data[r]) }
        }
        checkGradients([x, s]) { scaleRows(x, s) }
        #expect(s.grad == nil)  // the checker clears gradients after use
    }

    @Test func expertDispatchRoundTrip() {
        // gather tokens for an expert, weight them, scatter back: the MoE combine pattern.
        let hidden = parameter([6, 4], seed: 46)
        let gates = parameter([3], seed: 47)
        let tokens = [5, 1, 2]
        checkGradients([hidden, gates]) {
            scatterAddRows(scaleRows(gatherRows(hidden, tokens), gates), tokens, rowCount: 6)
        }
    }

    @Test func scatterAddOfPartsEqualsStackedScatter() {
        let a = parameter([3, 4], seed: 48)
        let b = parameter([2, 4], seed: 49)
        let c = parameter([0, 4], seed: 50)
        let indices = [[2, 0, 2], [], [5, 2]]
        let parts = scatterAddRows([a, c, b], indices, rowCount: 6).value
        let stacked = scatterAddRows(concatRows([a, c, b]), indices.flatMap { $0 }, rowCount: 6).value
        #expect(parts == stacked)
        checkGradients([a, b]) { scatterAddRows([a, c, b], indices, rowCount: 6) }
    }

    @Test func scatterAddIsThreadCountIndependent() {
        // Many sources per row: the sum order per row must not depend on the chunking.
        let x = Variable(randomTensor([4000, 40], seed: 51, scale: 3))
        let indices = (0..<4000).map { ($0 * 7919) % 300 }
        let serial = Parallel.withSerial { scatterAddRows(x, indices, rowCount: 310).value }
        #expect(scatterAddRows(x, indices, rowCount: 310).value == serial)
    }
}
