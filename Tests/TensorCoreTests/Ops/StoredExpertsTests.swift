import Testing

@testable import TensorCore

/// `storedExperts` (bfloat16 weights as stored, one parallel job per layer) against `groupedExperts` on
/// the same weights widened to Float32, on every kernel; and its sums in expert order whatever the
/// threads and groups.
@Suite struct StoredExpertsTests {
    /// E = 7 experts of C = 40, I = 24 over N = 30 tokens, K = 3 (slots spread over experts 0..<6;
    /// expert 6 gets none).
    struct Layer {
        let n = 30, c = 40, i = 24, e = 7, k = 3
        let x = randomTensor([30, 40], seed: 1)
        let weights = randomTensor([30, 3], seed: 2)
        let gate: [BF16Matrix], up: [BF16Matrix], down: [BF16Matrix]
        let tokens: [[Int]], slots: [[Int]]

        init() {
            gate = (0..<7).map { BF16Matrix(rounding: randomTensor([24, 40], seed: 10 + UInt64($0), scale: 0.3)) }
            up = (0..<7).map { BF16Matrix(rounding: randomTensor([24, 40], seed: 20 + UInt64($0), scale: 0.3)) }
            down = (0..<7).map { BF16Matrix(rounding: randomTensor([40, 24], seed: 30 + UInt64($0), scale: 0.3)) }
            var slots = [[Int]](repeating: [], count: 7)
            for slot in 0..<90 { slots[(slot * 5 + slot / 3) % 6].append(slot) }  // three distinct experts per token
            self.slots = slots
            tokens = slots.map { $0.map { $0 / 3 } }
        }

        func stored(_ precision: Precision, kernel: StoredGemm.Kernel, rowsPerGroup: Int? = nil) -> Tensor {
            storedExperts(
                x, gate: gate, up: up, down: down, tokens: tokens, slots: slots, weights: weights, precision: precision,
                rowsPerGroup: rowsPerGroup, kernel: kernel)
        }

        /// `groupedExperts` on Float32 copies (x rounded to bfloat16 for `.bf16`).
        func reference(_ precision: Precision) -> Tensor {
            let input = precision == .f32 ? x : BF16Matrix(rounding: x).tensor()
            return groupedExperts(
                Variable(input), gate: gate.map { Variable($0.tensor()) }, up: up.map { Variable($0.tensor()) },
                down: down.map { Variable($0.tensor()) }, tokens: tokens, slots: slots, weights: Variable(weights)
            ).value
        }
    }

    @Test(arguments: [Precision.f32, .bf16])
    func matchesGroupedExpertsOnFloatCopies(_ precision: Precision) {
        let layer = Layer()
        let expected = layer.reference(precision)
        let scale = expected.data.map(abs).max()!
        for kernel in StoredGemm.Kernel.allCases where kernel <= StoredGemm.detected {
            let got = layer.stored(precision, kernel: kernel)
            // f32: exact products, another summation order. bf16: the hidden activations are rounded
            // to bfloat16 before the down projection too, which the reference does not do.
            let tolerance: Float = precision == .f32 ? 1e-5 : 2e-2
            #expect(got.maxAbsDifference(expected) <= tolerance * scale, "\(kernel) \(precision)")
        }
    }

    @Test func sameBitsWhateverTheThreadsAndTheKernelRuns() {
        let layer = Layer()
        for precision in Precision.allCases {
            let parallel = layer.stored(precision, kernel: StoredGemm.kernel)
            var serial = Tensor.zeros([0])
            serial = Parallel.withSerial { layer.stored(precision, kernel: StoredGemm.kernel) }
            #expect(parallel == serial)
        }
    }

    /// Groups bound the memory of the outputs; a group of one expert at a time gives the same sums up
    /// to rounding.
    @Test func smallGroupsGiveTheSameOutput() {
        let layer = Layer()
        let whole = layer.stored(.f32, kernel: StoredGemm.kernel, rowsPerGroup: 1000)
        let small = layer.stored(.f32, kernel: StoredGemm.kernel, rowsPerGroup: 1)
        #expect(whole.maxAbsDifference(small) <= 1e-5)
    }
}
