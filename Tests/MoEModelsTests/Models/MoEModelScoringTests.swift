import Foundation
import Testing
import TensorCore
@testable import MoEModels

/// The scoring entry points (final hidden states, then the output head on chosen rows in blocks)
/// must give the numbers of the ordinary forward pass: perplexity, classification and attribution
/// switched to them. They are not the same computation bit for bit: inference mode takes the
/// small-head attention kernel, and fewer rows per product round differently in OpenBLAS's edge
/// tiles (a few ulp, measured), so they are held to 1e-5 relative, as the layer-streamed pass.
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
            #expect(LayerStreamingTests.relativeDifference(grouped, out.hidden.value) <= 1e-5, "\(passTokens) tokens per pass")
        }
    }

    @Test(arguments: ModelParityTests.cases)
    func logitsOfChosenRowsEqualTheForwardPassRowForRow(_ name: String) throws {
        let model = try ModelLoader.load(directory: ModelParityTests.fixture(name))
        let batch = Self.batch(vocab: model.config.vocabSize)
        let full = try model.forward(batch).logits.value
        let hidden = try model.finalHiddenStates(batch)
        let v = model.config.vocabSize
        for (rows, blockRows) in [([26, 3, 3, 0, 17], 2), (Array(0..<batch.tokenCount), 256), ([5], 1), ([], 4)] {
            var seen: [Int] = []
            try model.logits(rows: rows, of: hidden, blockRows: blockRows) { positions, logits in
                #expect(logits.shape == [positions.count, v])
                #expect(positions.count <= blockRows)
                for (i, position) in positions.enumerated() {
                    let row = rows[position]
                    let got = Tensor(shape: [v], data: Array(logits.data[(i * v)..<((i + 1) * v)]))
                    let expected = Tensor(shape: [v], data: Array(full.data[(row * v)..<((row + 1) * v)]))
                    #expect(LayerStreamingTests.relativeDifference(got, expected) <= 1e-5, "row \(row)")
                }
                seen += Array(positions)
            }
            #expect(seen == Array(rows.indices))
        }
    }

    @Test func finalHiddenStatesRejectTokensOutsideTheVocabulary() throws {
        let model = try ModelLoader.load(directory: ModelParityTests.fixture(ModelParityTests.cases[0]))
        #expect(throws: ModelError.tokenOutOfRange(id: model.config.vocabSize, vocabSize: model.config.vocabSize)) {
            _ = try model.finalHiddenStates(TokenBatch([0, model.config.vocabSize]))
        }
    }
}
