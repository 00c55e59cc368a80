import Testing

@testable import TensorCore

/// The gated delta rule (chunked and recurrent forms), the causal depthwise convolution, the decay and
/// column gather of Gated DeltaNet: forms agree, backward rules match finite differences.
struct GatedDeltaRuleTests {
    /// L2-normalised rows, as the layer hands q and k to the rule (unnormalised keys make the rule unstable).
    static func unitRows(_ t: Tensor, width: Int) -> Tensor {
        var d = t.data
        for r in 0..<(d.count / width) {
            var s: Float = 0
            for j in 0..<width { s += d[r * width + j] * d[r * width + j] }
            for j in 0..<width { d[r * width + j] /= s.squareRoot() }
        }
        return Tensor(shape: t.shape, data: d)
    }

    static func inputs(_ s: DeltaRuleShape, seed: UInt64) -> (q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor)
    {
        let n = s.batch * s.seq
        let q = unitRows(randomTensor([n, s.keyHeads * s.keyDim], seed: seed), width: s.keyDim)
        let k = unitRows(randomTensor([n, s.keyHeads * s.keyDim], seed: seed + 1), width: s.keyDim)
        let v = randomTensor([n, s.valueHeads * s.valueDim], seed: seed + 2)
        // Log decays in (−1, 0) and β in (0, 1), as −e^A·softplus and sigmoid give them.
        let g = Tensor(
            shape: [n, s.valueHeads],
            data: randomTensor([n, s.valueHeads], seed: seed + 3).data.map { -0.5 - 0.5 * $0 })
        let beta = Tensor(
            shape: [n, s.valueHeads],
            data: randomTensor([n, s.valueHeads], seed: seed + 4).data.map { 0.5 + 0.45 * $0 })
        return (q, k, v, g, beta)
    }

    static let shapes = [
        DeltaRuleShape(batch: 1, seq: 13, keyHeads: 1, valueHeads: 1, keyDim: 4, valueDim: 3),
        DeltaRuleShape(batch: 2, seq: 70, keyHeads: 2, valueHeads: 4, keyDim: 8, valueDim: 6),
        DeltaRuleShape(batch: 1, seq: 129, keyHeads: 2, valueHeads: 2, keyDim: 16, valueDim: 16),
    ]

    @Test(arguments: shapes)
    func chunkedAndRecurrentFormsAgree(_ s: DeltaRuleShape) {
        let x = Self.inputs(s, seed: 11)
        var state = [Float](repeating: 0, count: s.batch * s.stateSize)
        let recurrent = GatedDeltaRule.recurrent(q: x.q, k: x.k, v: x.v, g: x.g, beta: x.beta, shape: s, state: &state)
        for chunk in [64, 5, 1] {
            let chunked = GatedDeltaRule.chunked(
                q: x.q, k: x.k, v: x.v, g: x.g, beta: x.beta, shape: s, chunkSize: chunk)
            #expect(zip(chunked.output.data, recurrent.data).map { abs($0 - $1) }.max()! <= 1e-5, "chunk \(chunk)")
            #expect(zip(chunked.state, state).map { abs($0 - $1) }.max()! <= 1e-5, "state, chunk \(chunk)")
        }
    }

    /// Prefill with the chunked form, then one token at a time with the recurrent form (decoding with a
    /// state cache) gives the outputs of one pass over the whole sequence.
    @Test func prefillThenStepsMatchOnePass() {
        let s = DeltaRuleShape(batch: 1, seq: 20, keyHeads: 1, valueHeads: 2, keyDim: 4, valueDim: 5)
        let x = Self.inputs(s, seed: 5)
        let whole = GatedDeltaRule.chunked(q: x.q, k: x.k, v: x.v, g: x.g, beta: x.beta, shape: s, chunkSize: 8)
        func rows(_ t: Tensor, _ r: Range<Int>) -> Tensor {
            Tensor(
                shape: [r.count, t.lastDim],
                data: Array(t.data[(r.lowerBound * t.lastDim)..<(r.upperBound * t.lastDim)]))
        }
        var prefix = s
        prefix.seq = 12
        let first = GatedDeltaRule.chunked(
            q: rows(x.q, 0..<12), k: rows(x.k, 0..<12), v: rows(x.v, 0..<12), g: rows(x.g, 0..<12),
            beta: rows(x.beta, 0..<12), shape: prefix, chunkSize: 8)
        var state = first.state
        var outputs = first.output.data
        var step = s
        step.seq = 1
        for t in 12..<20 {
            outputs +=
                GatedDeltaRule.recurrent(
                    q: rows(x.q, t..<t + 1), k: rows(x.k, t..<t + 1), v: rows(x.v, t..<t + 1), g: rows(x.g, t..<t + 1),
                    beta: rows(x.beta, t..<t + 1), shape: step, state: &state
                ).data
        }
        #expect(zip(outputs, whole.output.data).map { abs($0 - $1) }.max()! <= 1e-5)
        #expect(zip(state, whole.state).map { abs($0 - $1) }.max()! <= 1e-5)
    }

    @Test(arguments: [1, 3, 64])
    func deltaRuleBackwardMatchesFiniteDifferences(_ chunk: Int) {
        let s = DeltaRuleShape(batch: 2, seq: 7, keyHeads: 1, valueHeads: 2, keyDim: 3, valueDim: 2)
        let x = Self.inputs(s, seed: 21)
        let q = Variable(x.q, requiresGrad: true)
        let k = Variable(x.k, requiresGrad: true)
        let v = Variable(x.v, requiresGrad: true)
        let g = Variable(x.g, requiresGrad: true)
        let beta = Variable(x.beta, requiresGrad: true)
        let errors = Parallel.withSerial {
            checkGradients([q, k, v, g, beta], step: 1e-2, tolerance: 2e-3) {
                gatedDeltaRule(q: q, k: k, v: v, g: g, beta: beta, shape: s, chunkSize: chunk)
            }
        }
        #expect(errors.count == 5)
    }

    @Test func convolutionBackwardMatchesFiniteDifferences() {
        let x = parameter([2 * 6, 5], seed: 3)
        let w = parameter([5, 4], seed: 4)
        checkGradients([x, w]) { causalDepthwiseConv(x, weight: w, batch: 2, seq: 6) }
    }

    /// y[t] = Σ_j w[j] x[t − 3 + j] by hand for one channel, and the decoding form over a history.
    @Test func convolutionIsCausalAndContinues() {
        let x = Tensor(shape: [5, 1], data: [1, 2, 3, 4, 5])
        let w = Tensor(shape: [1, 4], data: [1, 10, 100, 1000])
        #expect(CausalConv.forward(x, weight: w, batch: 1, seq: 5).data == [1000, 2100, 3210, 4321, 5432])
        var history = [Float](repeating: 0, count: 3)
        let first = CausalConv.continuing(Tensor(shape: [2, 1], data: [1, 2]), weight: w, history: &history)
        let rest = CausalConv.continuing(Tensor(shape: [3, 1], data: [3, 4, 5]), weight: w, history: &history)
        #expect(first.data + rest.data == [1000, 2100, 3210, 4321, 5432])
        #expect(history == [3, 4, 5])
    }

    @Test func decayAndColumnGatherBackwardMatchFiniteDifferences() {
        let a = parameter([4, 3], seed: 7, scale: 3)
        let dt = parameter([3], seed: 8)
        let aLog = parameter([3], seed: 9)
        checkGradients([a, dt, aLog]) { gatedDecay(a, dtBias: dt, aLog: aLog) }
        let x = parameter([3, 5], seed: 10)
        checkGradients([x]) { gatherColumns(x, [4, 0, 2, 2]) }
    }
}
