import Foundation
import Testing

@testable import TensorCore

@Suite struct AttentionTests {
    struct Config: CustomTestStringConvertible, Sendable {
        var batch = 2, seq = 5, heads = 4, kvHeads = 4, headDim = 3
        var validLengths: [Int]?
        var testDescription: String { "H=\(heads) Hkv=\(kvHeads) lengths=\(validLengths.map(\.description) ?? "full")" }
    }

    static let configs: [Config] = [
        Config(kvHeads: 4), Config(kvHeads: 2), Config(kvHeads: 1),
        Config(kvHeads: 2, validLengths: [3, 5]), Config(kvHeads: 1, validLengths: [0, 2]),
    ]

    /// Triple loop in Double: causal, padded keys masked, padded query rows zero.
    static func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ c: Config, scale: Double) -> [Double] {
        let (T, H, Hkv, D) = (c.seq, c.heads, c.kvHeads, c.headDim)
        var out = [Double](repeating: 0, count: c.batch * T * H * D)
        for b in 0..<c.batch {
            let length = c.validLengths?[b] ?? T
            for h in 0..<H {
                let g = h / (H / Hkv)
                for i in 0..<length {
                    var scores: [Double] = []
                    for j in 0...i {
                        var s: Double = 0
                        for d in 0..<D {
                            s +=
                                Double(q.data[(b * T + i) * H * D + h * D + d])
                                * Double(k.data[(b * T + j) * Hkv * D + g * D + d])
                        }
                        scores.append(s * scale)
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let total = e.reduce(0, +)
                    for j in 0...i {
                        for d in 0..<D {
                            out[(b * T + i) * H * D + h * D + d] +=
                                e[j] / total * Double(v.data[(b * T + j) * Hkv * D + g * D + d])
                        }
                    }
                }
            }
        }
        return out
    }

    static func inputs(_ c: Config, trainable: Bool) -> (Variable, Variable, Variable) {
        let n = c.batch * c.seq
        let q = Variable(randomTensor([n, c.heads * c.headDim], seed: 91, scale: 1.5), requiresGrad: trainable)
        let k = Variable(randomTensor([n, c.kvHeads * c.headDim], seed: 92, scale: 1.5), requiresGrad: trainable)
        let v = Variable(randomTensor([n, c.kvHeads * c.headDim], seed: 93), requiresGrad: trainable)
        return (q, k, v)
    }

    static func attend(_ q: Variable, _ k: Variable, _ v: Variable, _ c: Config, scale: Float? = nil) -> Variable {
        causalAttention(
            q: q, k: k, v: v, batch: c.batch, seq: c.seq, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim,
            scale: scale, validLengths: c.validLengths)
    }

    @Test(arguments: configs)
    func forwardMatchesTripleLoop(config: Config) {
        let (q, k, v) = Self.inputs(config, trainable: false)
        let out = Self.attend(q, k, v, config).value
        let expected = Self.reference(q.value, k.value, v.value, config, scale: 1 / Double(config.headDim).squareRoot())
        #expect(out.shape == [config.batch * config.seq, config.heads * config.headDim])
        for i in 0..<out.count { #expect(abs(Double(out.data[i]) - expected[i]) <= 1e-5) }
    }

    @Test func customScale() {
        let c = Config(kvHeads: 2)
        let (q, k, v) = Self.inputs(c, trainable: false)
        let out = Self.attend(q, k, v, c, scale: 0.7).value
        let expected = Self.reference(q.value, k.value, v.value, c, scale: Double(Float(0.7)))
        for i in 0..<out.count { #expect(abs(Double(out.data[i]) - expected[i]) <= 1e-5) }
    }

    @Test(arguments: configs)
    func gradient(config: Config) {
        let (q, k, v) = Self.inputs(config, trainable: true)
        checkGradients([q, k, v]) { Self.attend(q, k, v, config) }
    }

    @Test func gradientToValuesOnly() {
        let c = Config(kvHeads: 2, validLengths: [4, 2])
        let (q, k, _) = Self.inputs(c, trainable: false)
        let v = Variable(randomTensor([c.batch * c.seq, c.kvHeads * c.headDim], seed: 94), requiresGrad: true)
        checkGradients([v]) { Self.attend(q, k, v, c) }
    }

    @Test func largerHeadsUseGemmPathsConsistently() {
        // T and D past the blocking thresholds of the kernels, four heads in parallel.
        let c = Config(batch: 1, seq: 70, heads: 4, kvHeads: 2, headDim: 16, validLengths: [65])
        let (q, k, v) = Self.inputs(c, trainable: false)
        let out = Self.attend(q, k, v, c).value
        let expected = Self.reference(q.value, k.value, v.value, c, scale: 0.25)
        for i in 0..<out.count { #expect(abs(Double(out.data[i]) - expected[i]) <= 1e-5) }
    }

    @Test func severalQueryBlocks() {
        // T spans three blocks of the forward (64 rows each); one padded sequence ends mid-block.
        let c = Config(batch: 2, seq: 150, heads: 2, kvHeads: 1, headDim: 4, validLengths: [150, 97])
        let (q, k, v) = Self.inputs(c, trainable: false)
        let out = Self.attend(q, k, v, c).value
        let expected = Self.reference(q.value, k.value, v.value, c, scale: 0.5)
        for i in 0..<out.count { #expect(abs(Double(out.data[i]) - expected[i]) <= 1e-5) }
    }

    /// Geometries for the register-tiled small-head kernels: full and padded sequences, GQA groups,
    /// lengths that are not multiples of 4 or 8, an empty sequence.
    static func smallHeadConfigs(headDim: Int) -> [Config] {
        [
            Config(batch: 2, seq: 37, heads: 4, kvHeads: 2, headDim: headDim, validLengths: [37, 13]),
            Config(batch: 1, seq: 9, heads: 2, kvHeads: 1, headDim: headDim),
            Config(batch: 3, seq: 5, heads: 2, kvHeads: 2, headDim: headDim, validLengths: [0, 1, 5]),
        ]
    }

    /// `attend` on the kernels of `path` (the public function picks them by head size).
    static func attend(_ q: Variable, _ k: Variable, _ v: Variable, _ c: Config, path: AttentionLayout.Path) -> Variable
    {
        let layout = AttentionLayout(
            batch: c.batch, seq: c.seq, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim,
            scale: 1 / Float(c.headDim).squareRoot(),
            lengths: (0..<c.batch).map { b in c.validLengths?[b] ?? c.seq }, forcedPath: path)
        return causalAttention(q: q, k: k, v: v, layout: layout)
    }

    /// The register-tiled kernel (head sizes 8…64 in steps of 8) against the triple loop and the
    /// GEMM path, with and without a gradient to keep (which only adds the saved log Σ exp).
    @Test(arguments: [8, 16, 24, 64])
    func smallHeadKernelMatchesTripleLoopAndGemmPath(headDim: Int) {
        for c in Self.smallHeadConfigs(headDim: headDim) {
            let (q, k, v) = Self.inputs(c, trainable: false)
            let layout = AttentionLayout(
                batch: c.batch, seq: c.seq, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, scale: 1,
                lengths: [])
            #expect(layout.path == .smallHeads)
            let out = Self.attend(q, k, v, c).value
            let gemmPath = Self.attend(q, k, v, c, path: .gemm).value
            let expected = Self.reference(q.value, k.value, v.value, c, scale: 1 / Double(headDim).squareRoot())
            for i in 0..<out.count {
                #expect(abs(Double(out.data[i]) - expected[i]) <= 1e-5, "\(c.testDescription) element \(i)")
                #expect(abs(out.data[i] - gemmPath.data[i]) <= 1e-5)
            }
            let (qt, kt, vt) = Self.inputs(c, trainable: true)
            #expect(Self.attend(qt, kt, vt, c).value.data == out.data, "saving log Σ exp changes no bit")
        }
    }

    /// The small-head backward (tiled dP, dS, and the transposed products over the causal triangle)
    /// against the GEMM path's backward on the same output gradient.
    @Test(arguments: [8, 16, 24, 64])
    func smallHeadBackwardMatchesGemmPath(headDim: Int) {
        for c in Self.smallHeadConfigs(headDim: headDim) {
            let seed = randomTensor([c.batch * c.seq, c.heads * c.headDim], seed: 95)
            var gradients: [[Tensor]] = []
            for path in [AttentionLayout.Path.smallHeads, .gemm] {
                let (q, k, v) = Self.inputs(c, trainable: true)
                Self.attend(q, k, v, c, path: path).backward(seed: seed)
                gradients.append([q, k, v].map { $0.grad ?? Tensor.zeros($0.shape) })
            }
            for (name, (tiled, gemm)) in zip(["dq", "dk", "dv"], zip(gradients[0], gradients[1])) {
                let largest = gemm.data.map { abs($0) }.max() ?? 0
                for i in 0..<gemm.count {
                    #expect(
                        abs(tiled.data[i] - gemm.data[i]) <= 1e-5 * max(1, largest),
                        "\(c.testDescription) \(name)[\(i)]: \(tiled.data[i]) vs \(gemm.data[i])")
                }
            }
        }
    }

    @Test(arguments: [8, 16])
    func smallHeadGradient(headDim: Int) {
        let c = Config(batch: 2, seq: 7, heads: 2, kvHeads: 1, headDim: headDim, validLengths: [7, 5])
        let (q, k, v) = Self.inputs(c, trainable: true)
        checkGradients([q, k, v]) { Self.attend(q, k, v, c) }
    }

    @Test func gradientAcrossQueryBlocks() {
        let c = Config(batch: 1, seq: 70, heads: 2, kvHeads: 1, headDim: 2, validLengths: [67])
        let (q, k, v) = Self.inputs(c, trainable: true)
        checkGradients([q, k, v]) { Self.attend(q, k, v, c) }
    }
}
