import Foundation
import Testing
import TensorCore
@testable import MoEModels

/// The scoring entry points (final hidden states, then the output head's log-softmax on chosen rows)
/// must give the numbers of the ordinary forward pass: perplexity, classification and attribution
/// switched to them. They are not the same computation bit for bit: fewer rows per product round
/// differently in OpenBLAS's edge tiles (a few ulp, measured), so they are held to 1e-5 relative,
/// as the layer-streamed pass.
struct MoEModelScoringTests {
    static func batch(vocab: Int) -> TokenBatch {
        var rng = SplitMix64(seed: 11)
        func sequence(_ n: Int) -> [Int] { (0..<n).map { _ in Int(rng.next() % UInt64(vocab)) } }
        return TokenBatch(padding: [sequence(9), sequence(6), sequence(9)])
    }

    @Test(arguments: ModelParityTests.cases)
    func finalHiddenStatesEqualTheForwardPass(_ name: String) throws {
        let model = try ModelLoader.load(directory: ModelParityTests.fixture(name))
        let batch = Self.batch(vocab: model.config.vocabSize)
        let out = try model.forward(batch)
        let single = try model.finalHiddenStates(batch)
        #expect(LayerStreamingTests.relativeDifference(single, out.hidden.value) <= 1e-5)
        // In groups of sequences (1 or 2 of the 3 per pass): every row the same.
        for passTokens in [1, 18] {
            let grouped = try model.finalHiddenStates(batch, passTokens: passTokens)
            #expect(
                LayerStreamingTests.relativeDifference(grouped, out.hidden.value) <= 1e-5,
                "\(passTokens) tokens per pass")
        }
    }

    @Test(arguments: ModelParityTests.cases)
    func headScoresEqualTheLogSoftmaxOfTheForwardLogits(_ name: String) throws {
        let model = try ModelLoader.load(directory: ModelParityTests.fixture(name))
        let batch = Self.batch(vocab: model.config.vocabSize)
        let full = try model.forward(batch).logits.value
        let hidden = try model.finalHiddenStates(batch)
        let v = model.config.vocabSize
        for rows in [[26, 3, 3, 0, 17], Array(0..<batch.tokenCount), [5], []] {
            let targets = rows.map { ($0 * 7 + 3) % v }
            let scores = try model.headScores(rows: rows, of: hidden, targets: targets, entropy: true)
            #expect(scores.logProbabilities.count == rows.count && scores.entropies.count == rows.count)
            for (i, row) in rows.enumerated() {
                let logits = (0..<v).map { Double(full.data[row * v + $0]) }
                let m = logits.max()!
                let lse = m + log(logits.reduce(0) { $0 + exp($1 - m) })
                let entropy = -logits.reduce(0) { $0 + exp($1 - lse) * ($1 - lse) }
                #expect(abs(scores.logProbabilities[i] - (logits[targets[i]] - lse)) <= 1e-4, "row \(row)")
                #expect(abs(scores.entropies[i] - entropy) <= 1e-4, "row \(row)")
            }
        }
    }

    /// Scoring a batch pass by pass (`headScores(_:rows:targets:)`) gives the scores of its whole
    /// final hidden states, with rows in any order and spread over the passes; `forEachHiddenPass`
    /// covers the batch's rows once, in order.
    @Test(arguments: ModelParityTests.cases)
    func passByPassScoresEqualTheWholeBatchScores(_ name: String) throws {
        let model = try ModelLoader.load(directory: ModelParityTests.fixture(name))
        let batch = Self.batch(vocab: model.config.vocabSize)
        let hidden = try model.finalHiddenStates(batch)
        let rows = [26, 3, 3, 0, 17, 9, 8]
        let targets = rows.map { ($0 * 5 + 1) % model.config.vocabSize }
        let whole = try model.headScores(rows: rows, of: hidden, targets: targets, entropy: true)
        for passTokens in [1, 18, 1000] {
            let passes = try model.headScores(
                batch, rows: rows, targets: targets, entropy: true, passTokens: passTokens)
            for i in rows.indices {
                #expect(
                    abs(passes.logProbabilities[i] - whole.logProbabilities[i]) <= 1e-4, "\(passTokens) tokens per pass"
                )
                #expect(abs(passes.entropies[i] - whole.entropies[i]) <= 1e-4, "\(passTokens) tokens per pass")
            }
            var covered: [Int] = []
            try model.forEachHiddenPass(batch, passTokens: passTokens) { tokens, part in
                #expect(part.rows == tokens.count)
                covered += Array(tokens)
            }
            #expect(covered == Array(0..<batch.tokenCount))
        }
    }

    @Test func finalHiddenStatesRejectTokensOutsideTheVocabulary() throws {
        let model = try ModelLoader.load(directory: ModelParityTests.fixture(ModelParityTests.cases[0]))
        #expect(throws: ModelError.tokenOutOfRange(id: model.config.vocabSize, vocabSize: model.config.vocabSize)) {
            _ = try model.finalHiddenStates(TokenBatch([0, model.config.vocabSize]))
        }
    }
}
