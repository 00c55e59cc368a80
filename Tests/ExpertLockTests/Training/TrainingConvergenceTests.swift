import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock
@testable import ExpertLockDemo

/// Acceptance: training the `tiny` preset on the built-in corpus lowers held-out perplexity.
struct TrainingConvergenceTests {
    @Test func tinyPresetLowersHeldOutPerplexity() throws {
        let corpus = BuiltinCorpus(seed: 3)
        let train = corpus.documents(count: 64).map(\.text)
        let heldOut = corpus.documents(count: 4, split: .valid).map(\.text)
        let encoder = CharacterEncoder(texts: train + heldOut)
        let config = try #require(ModelConfig.preset("tiny", vocabSize: encoder.vocabSize))
        let model = try MoEModel.randomlyInitialized(config: config, seed: 1)
        let examples = TrainingData.languageModeling(documents: train, encoder: encoder, sequenceLength: 64)
        let evalIds = Array(heldOut.flatMap { encoder.encode($0, addSpecialTokens: true) }.prefix(512))

        func perplexity() throws -> Double {
            try Perplexity.evaluate(model: model, ids: evalIds, parameters: .init(context: 64, batchSize: 8)).perplexity
        }
        var parameters = Training.Parameters()
        parameters.steps = 120
        parameters.batchSize = 4
        parameters.sequenceLength = 64
        parameters.learningRate = 3e-3
        parameters.warmupSteps = 10
        parameters.seed = 5
        var curve = [try perplexity()]
        var failure: Error?
        let result = try Training.train(model: model, examples: examples, parameters: parameters) { progress in
            if progress.step % 40 == 0 {
                do { curve.append(try perplexity()) } catch { failure = error }
            }
            return .more
        }
        if let failure { throw failure }
        #expect(result.steps == 120 && result.losses.count == 120)
        #expect(curve.count == 4)
        for (a, b) in zip(curve, curve.dropFirst()) { #expect(b < a, "perplexity \(curve)") }
        // From about the vocabulary size (uniform guess) to well under half of it.
        #expect(curve[0] > Double(encoder.vocabSize) * 0.6, "\(curve)")
        #expect(curve.last! < curve[0] * 0.4, "\(curve)")
        print(
            "tiny preset held-out perplexity every 40 "
                + "steps: \(curve.map { String(format: "%.2f", $0) }), \(Int(result.tokensPerSecond)) tokens/s (debug)"
        )
    }
}
