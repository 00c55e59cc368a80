import Foundation
import MoEModels
import TensorCore

@testable import ExpertLock
@testable import ExpertLockDemo

/// A task whose pool scores are a fixed table (the model is ignored when scoring), so what each
/// strategy picks is known in advance; training and evaluation use the real model.
struct TableTask: ActiveLearningTask {
    let table: [[Double]]
    let vocab: Int

    var poolSize: Int { table.count }
    var isClassification: Bool { true }
    var metric: RealignmentMetric { .perplexity }
    var fingerprint: String { "table-\(table.count)" }
    func poolID(_ index: Int) -> Int { 1000 + index }

    func labeledExamples(_ index: Int) -> [TrainingExample] {
        [TrainingExample(ids: (0..<6).map { (index * 3 + $0 * 5) % vocab })]
    }

    func score(model: MoEModel, indices: [Int], predictions: Bool, embeddings: Bool) throws -> [PoolScore] {
        indices.map { i in
            PoolScore(
                probabilities: predictions ? table[i] : nil, embedding: embeddings ? table[i].map { Float($0) } : nil)
        }
    }

    func evaluate(model: MoEModel) throws -> Double {
        try Perplexity.evaluate(model: model, ids: (0..<40).map { ($0 * 7) % vocab }, parameters: .init(context: 16))
            .perplexity
    }
}

enum RealignmentFixtures {
    /// Sentiment examples of the built-in corpus, shortened so sequences stay small in debug builds.
    static func sentiment(_ count: Int, split: CorpusSplit = .train, offset: Int = 0) -> [ClassificationExample] {
        BuiltinCorpus(seed: 5).sentiment(count: count + offset, split: split).dropFirst(offset).enumerated().map {
            ClassificationExample(
                id: $0.offset + offset, text: String($0.element.text.prefix(40)), label: $0.element.label)
        }
    }

    /// A short prompt, so sequences stay small.
    static let prompt = ClassificationPrompt(template: "{text} =", verbalizers: [" no", " ok"])

    static let pool = sentiment(24)
    static let evaluation = sentiment(8, split: .valid)
    static let encoder = CharacterEncoder(
        texts: (pool + evaluation).map(\.text) + [prompt.template] + prompt.verbalizers)

    static func classificationTask(pool: [ClassificationExample] = pool) throws -> ClassificationPool {
        try ClassificationPool(
            pool: pool, evaluation: evaluation, task: ClassificationTask(name: .custom, labelNames: ["no", "ok"]),
            encoder: encoder, prompt: prompt, maxLength: 48, batchSize: 8)
    }

    static func model() throws -> MoEModel { try TrainingFixtures.microModel(vocab: encoder.vocabSize, seed: 3) }

    static func parameters(_ strategy: QueryStrategy = .entropy) -> ActiveLearningLoop.Parameters {
        var p = ActiveLearningLoop.Parameters()
        p.strategy = strategy
        p.budget = 10
        p.batchSize = 3
        p.initialSize = 4
        p.stepsPerRound = 3
        p.trainingBatchSize = 4
        p.learningRate = 3e-3
        p.seed = 11
        p.lora.rank = 2
        // These tests are about selection, training and resumption (mid-round saves included); the
        // gate has its own tests (`GatedScheduleTests`).
        p.schedule = .continued
        return p
    }

    /// Every weight of a model by name (LoRA factors included).
    static func weights(_ model: MoEModel) throws -> [String: Tensor] { try TrainingFixtures.snapshot(model) }
}
