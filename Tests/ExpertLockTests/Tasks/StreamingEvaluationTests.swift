import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// Perplexity and classification layer by layer give the batch-by-batch figures (1e-5 relative).
struct StreamingEvaluationTests {
    static func tokens(vocab: Int, count: Int) -> [Int] {
        var rng = SplitMix64(seed: 17)
        return (0..<count).map { _ in Int(rng.next() % UInt64(vocab)) }
    }

    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-5 * max(1, abs(b)) }

    @Test(arguments: Fixtures.modelCases)
    func perplexityEqualsTheBatchByBatchFigure(_ name: String) throws {
        let model = try ModelLoader.load(directory: Fixtures.model(name))
        let streamed = try ModelLoader.load(directory: Fixtures.model(name), residency: .read)
        let ids = Self.tokens(vocab: model.config.vocabSize, count: 45)
        // Overlapping windows, a short last window, two windows per batch.
        let parameters = Perplexity.Parameters(context: 12, stride: 7, batchSize: 2)
        let expected = try Perplexity.evaluate(model: model, ids: ids, parameters: parameters)
        let got = try Perplexity.evaluateStreaming(model: streamed, ids: ids, parameters: parameters)
        #expect(got.tokens == expected.tokens)
        #expect(Self.close(got.perplexity, expected.perplexity), "\(got.perplexity) vs \(expected.perplexity)")
        #expect(Self.close(got.nll, expected.nll))
    }

    @Test func perplexityOfARandomBF16Checkpoint() throws {
        let config = try #require(ModelConfig.preset("tiny", vocabSize: 53))
        let model = try MoEModel.randomlyInitialized(config: config, seed: 4, initializerRange: 0.3)
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir, dtype: .bf16)
        let ids = Self.tokens(vocab: 53, count: 70)
        let parameters = Perplexity.Parameters(context: 16, batchSize: 3)
        let expected = try Perplexity.evaluate(
            model: try ModelLoader.load(directory: dir), ids: ids, parameters: parameters)
        let got = try Perplexity.evaluateStreaming(
            model: try ModelLoader.load(directory: dir, residency: .read), ids: ids, parameters: parameters,
            streaming: LayerStreaming.Parameters(activationBudgetBytes: 0))
        #expect(got.tokens == expected.tokens && Self.close(got.perplexity, expected.perplexity))
    }

    @Test func tooFewTokensIsRefused() throws {
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"), residency: .read)
        #expect(throws: EvaluationError.tooFewTokens(1)) { try Perplexity.evaluateStreaming(model: model, ids: [3]) }
    }

    @Test(arguments: ClassificationTests.modelNames)
    func classificationEqualsTheBatchByBatchResult(_ name: String) throws {
        let fixtures = try TaskFixtures.load()
        let tokenizer = try TaskFixtures.tokenizer()
        let model = try ModelLoader.load(directory: Fixtures.model(name))
        let streamed = try ModelLoader.load(directory: Fixtures.model(name), residency: .read)
        for c in fixtures.cases where c.model == name {
            let examples = c.classificationExamples
            let expected = try Classification.evaluate(
                model: model, tokenizer: tokenizer, examples: examples, task: c.classificationTask,
                maxLength: c.max_length, batchSize: 3)
            let got = try Classification.evaluateStreaming(
                model: streamed, tokenizer: tokenizer, examples: examples, task: c.classificationTask,
                maxLength: c.max_length, batchSize: 3)
            #expect(got.predictions == expected.predictions && got.accuracy == expected.accuracy)
            #expect(got.tokens == expected.tokens && got.labeled == expected.labeled)
            for (a, b) in zip(got.scores.joined(), expected.scores.joined()) { #expect(Self.close(a, b)) }
        }
    }
}
