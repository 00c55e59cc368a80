import Foundation
import Testing

@testable import TensorCore

/// `headScores` against log-softmax and entropy of the full logits in Double, across the shapes
/// that exercise its blocking: more rows than `headRowBlock`, a vocabulary that is not a multiple
/// of `headVocabularyBlock` nor of the vector width, rows out of order and repeated, and logits
/// large enough that a slice's maximum overtakes the running one (the rescaling path).
@Suite struct HeadScoresTests {
    static func reference(_ logits: Tensor, row: Int) -> (logSoftmax: [Double], entropy: Double) {
        let v = logits.lastDim
        let lp = SoftmaxTests.referenceLogSoftmax(Array(logits.data[(row * v)..<((row + 1) * v)]))
        return (lp, -lp.reduce(0) { $0 + exp($1) * $1 })
    }

    @Test(arguments: [(Float(1), 1030), (Float(8), 37)])
    func matchesTheFullLogSoftmax(scale: Float, vocabulary: Int) {
        let (n, c) = (vocabulary == 1030 ? 1100 : 40, 12)
        let hidden = randomTensor([n, c], seed: 5, scale: scale)
        let head = randomTensor([vocabulary, c], seed: 6, scale: scale)
        let full = Gemm.matmul(hidden, head, transposeB: true)  // [N, V]
        // In order (no gather, two row blocks when n > headRowBlock), then shuffled with repeats.
        for rows in [Array(0..<n), (0..<(n / 2)).map { ($0 * 37 + 11) % n } + [3, 3, n - 1]] {
            let targets = rows.map { ($0 * 13 + 5) % vocabulary }
            let scores = headScores(hidden: hidden, head: head, rows: rows, targets: targets, entropy: true)
            let plain = headScores(hidden: hidden, head: head, rows: rows, targets: targets)
            #expect(plain.entropies.isEmpty)
            for (i, row) in rows.enumerated() {
                let (lp, h) = Self.reference(full, row: row)
                let expected = lp[targets[i]]
                #expect(abs(scores.logProbabilities[i] - expected) <= 1e-5 * max(1, abs(expected)), "row \(row)")
                #expect(plain.logProbabilities[i] == scores.logProbabilities[i])
                #expect(abs(scores.entropies[i] - h) <= 1e-5 * max(1, h), "row \(row)")
            }
        }
    }

    @Test func noRowsGiveNoScores() {
        let scores = headScores(
            hidden: randomTensor([3, 4], seed: 1), head: randomTensor([9, 4], seed: 2), rows: [], targets: [],
            entropy: true)
        #expect(scores == HeadScores(logProbabilities: [], entropies: []))
    }
}
