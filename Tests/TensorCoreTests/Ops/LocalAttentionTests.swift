import Foundation
import Testing

@testable import TensorCore

@Suite struct LocalAttentionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var span: AttentionSpan
        var sinks: Bool
        var batch = 2, seq = 9, heads = 4, kvHeads = 2, headDim = 3
        var validLengths: [Int]? = nil
        var testDescription: String { "\(span) sinks=\(sinks) lengths=\(validLengths.map(\.description) ?? "full")" }
    }

    static let cases: [Case] = [
        Case(span: .sliding(window: 3), sinks: false), Case(span: .sliding(window: 4), sinks: true),
        Case(span: .chunked(size: 4), sinks: false), Case(span: .chunked(size: 3), sinks: true, kvHeads: 1),
        Case(span: .full, sinks: true), Case(span: .sliding(window: 2), sinks: true, validLengths: [9, 5]),
        Case(span: .sliding(window: 1), sinks: false),
        // More than one query block (64 rows): the band of keys moves with the block.
        Case(span: .sliding(window: 7), sinks: true, batch: 1, seq: 150, heads: 2, kvHeads: 1, headDim: 4),
        Case(span: .chunked(size: 50), sinks: false, batch: 1, seq: 150, heads: 2, kvHeads: 2, headDim: 4),
    ]

    /// Softmax over the visible keys and the sink, in Double, one query at a time.
    static func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ sinks: [Float]?, _ c: Case) -> [Double] {
        let (T, H, Hkv, D) = (c.seq, c.heads, c.kvHeads, c.headDim)
        let scale = 1 / Double(D).squareRoot()
        var out = [Double](repeating: 0, count: c.batch * T * H * D)
        for b in 0..<c.batch {
            for h in 0..<H {
                let g = h / (H / Hkv)
                for i in 0..<(c.validLengths?[b] ?? T) {
                    let keys = Array(c.span.firstKey(i)...i)
                    let scores = keys.map { j in
                        (0..<D).reduce(0.0) { s, d in
                            s + Double(q.data[(b * T + i) * H * D + h * D + d])
                                * Double(k.data[(b * T + j) * Hkv * D + g * D + d])
                        } * scale
                    }
                    let sink = sinks.map { Double($0[h]) }
                    let m = max(scores.max()!, sink ?? -.infinity)
                    let e = scores.map { exp($0 - m) }
                    let total = e.reduce(0, +) + (sink.map { exp($0 - m) } ?? 0)
                    for (n, j) in keys.enumerated() {
                        for d in 0..<D {
                            out[(b * T + i) * H * D + h * D + d] +=
                                e[n] / total * Double(v.data[(b * T + j) * Hkv * D + g * D + d])
                        }
                    }
                }
            }
        }
        return out
    }

    static func inputs(_ c: Case) -> [Variable] {
        let n = c.batch * c.seq
        var all = [
            Variable(randomTensor([n, c.heads * c.headDim], seed: 11, scale: 1.5), requiresGrad: true),
            Variable(randomTensor([n, c.kvHeads * c.headDim], seed: 12, scale: 1.5), requiresGrad: true),
            Variable(randomTensor([n, c.kvHeads * c.headDim], seed: 13), requiresGrad: true),
        ]
        if c.sinks { all.append(Variable(randomTensor([c.heads], seed: 14, scale: 2), requiresGrad: true)) }
        return all
    }

    static func attend(_ x: [Variable], _ c: Case) -> Variable {
        causalAttention(
            q: x[0], k: x[1], v: x[2], batch: c.batch, seq: c.seq, heads: c.heads, kvHeads: c.kvHeads,
            headDim: c.headDim, validLengths: c.validLengths, span: c.span, sinks: c.sinks ? x[3] : nil)
    }

    @Test(arguments: cases)
    func forwardMatchesDoubleReference(c: Case) {
        let x = Self.inputs(c)
        let out = Self.attend(x, c).value
        let expected = Self.reference(x[0].value, x[1].value, x[2].value, c.sinks ? x[3].value.data : nil, c)
        var worst = 0.0
        for i in 0..<out.count { worst = max(worst, abs(Double(out.data[i]) - expected[i])) }
        #expect(worst <= 1e-5)
    }

    /// The sink softmax and the band's recomputed probabilities against central differences.
    @Test(arguments: cases.filter { $0.seq < 20 })
    func gradientsMatchFiniteDifferences(c: Case) {
        let x = Self.inputs(c)
        let errors = checkGradients(x, step: 1e-2, tolerance: 2e-3) { Self.attend(x, c) }
        #expect(errors.count == x.count)
    }

    @Test func spanFirstKeysFollowTransformersMasks() {
        // sliding_window_overlay: kv_idx > q_idx - window; chunked_overlay: same chunk.
        #expect((0..<7).map(AttentionSpan.sliding(window: 3).firstKey) == [0, 0, 0, 1, 2, 3, 4])
        #expect((0..<7).map(AttentionSpan.chunked(size: 3).firstKey) == [0, 0, 0, 3, 3, 3, 6])
        #expect(AttentionSpan.sliding(window: 9).coversEverything(length: 9))
        #expect(!AttentionSpan.chunked(size: 8).coversEverything(length: 9))
    }
}
