import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// The classification pool with a Hugging Face tokenizer scores through `Classification.evaluate`
/// and trains on `TaskSequences`; with a text encoder it scores through `VerbalizerScorer` the same way.
struct ClassificationPoolTests {
    /// SST-2-shaped sentences in the words of the tasks fixture's WordLevel tokenizer.
    static func sentences() -> [ClassificationExample] {
        var out: [ClassificationExample] = []
        for subject in ["the movie", "the film", "it"] {
            for verb in ["was", "is"] {
                for (adjective, label) in [("good", 1), ("great", 1), ("bad", 0), ("boring", 0)] {
                    out.append(
                        ClassificationExample(
                            id: 100 + out.count, text: "\(subject) \(verb) \(adjective) .", label: label))
                }
            }
        }
        return out
    }

    @Test func tokenizerPathScoresLikeClassificationEvaluate() throws {
        let tokenizer = try TaskFixtures.tokenizer()
        let examples = Self.sentences()
        let pool = Array(examples.prefix(18))
        let task = try ClassificationPool(
            pool: pool, evaluation: Array(examples.suffix(6)), task: .sst2, tokenizer: tokenizer, maxLength: 32,
            batchSize: 4)
        let model = try TrainingFixtures.microModel(vocab: tokenizer.vocabSize, seed: 4)
        let scores = try task.score(model: model, indices: [0, 5, 7], predictions: true, embeddings: true)
        let direct = try Classification.evaluate(
            model: model, tokenizer: tokenizer, examples: [pool[0], pool[5], pool[7]], task: .sst2, maxLength: 32)
        #expect(scores.map(\.probabilities) == direct.probabilities)
        #expect(scores.allSatisfy { $0.embedding?.count == model.config.hiddenSize })
        #expect(
            try task.evaluate(model: model)
                == Classification.evaluate(
                    model: model, tokenizer: tokenizer, examples: Array(examples.suffix(6)), task: .sst2, maxLength: 32
                ).accuracy)
        // The oracle trains on exactly the sequence the evaluation scores for the gold label.
        let s = TaskSequences.classification(
            pool[2], label: pool[2].label!, template: .defaults(for: .sst2), tokenizer: tokenizer, maxLength: 32)
        #expect(task.labeledExamples(2) == [TrainingExample(ids: s.ids, firstTarget: s.targetStart)])
        #expect(task.poolID(2) == 102)

        var p = RealignmentFixtures.parameters(.badge)
        (p.budget, p.stepsPerRound) = (8, 2)
        let result = try ActiveLearningLoop.run(model: model, task: task, parameters: p)
        #expect(result.labeled.count == 8 && Set(result.labeled).count == 8)
    }

    @Test func encoderPathMatchesASumOfLogProbabilities() throws {
        let task = try RealignmentFixtures.classificationTask()
        let model = try RealignmentFixtures.model()
        let score = try #require(try task.score(model: model, indices: [3], predictions: true, embeddings: false).first)
        // By hand: log p(verbalizer | prompt) of each class from one forward pass each, softmaxed (Float32
        // batching moves the result in the ninth digit).
        let example = RealignmentFixtures.pool[3]
        let logLikelihoods = try (0..<2).map { label -> Double in
            let s = try #require(task.scorer.sequence(example, label: label))
            let logits = try model.forward(TokenBatch(s.ids)).logits.value
            let rows = Array((s.firstTarget - 1)..<(s.ids.count - 1))
            return TokenLogLikelihood.logProbabilities(logits, rows: rows, targets: rows.map { s.ids[$0 + 1] })
                .reduce(0, +)
        }
        let expected = QueryStrategy.softmax(logLikelihoods)
        let probabilities = try #require(score.probabilities)
        #expect(zip(probabilities, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(probabilities) \(expected)")
        // Scoring never sees labels: a pool with labels flipped scores identically.
        var flipped = RealignmentFixtures.pool
        for i in flipped.indices { flipped[i].label = 1 - flipped[i].label! }
        let other = try RealignmentFixtures.classificationTask(pool: flipped)
        #expect(try other.score(model: model, indices: [3], predictions: true, embeddings: false) == [score])
    }
}
