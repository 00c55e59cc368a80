import Foundation
import MoEModels

/// Language-modelling re-alignment: the pool is documents, "labeling" one makes it training text
/// (the oracle returns its chunks), and the metric is perplexity on held-out text. Uncertainty is
/// measured on each document's first `maxLength` tokens, which needs no label: the mean entropy of
/// the next-token distribution (`entropy`) or the mean NLL per token (`nll`).
public struct LanguageModelingPool: ActiveLearningTask {
    /// Token ids of each pool document (special tokens, then EOS when the encoder has one).
    public let documents: [[Int]]
    /// Held-out token ids, scored by `Perplexity` in windows of `maxLength`.
    public let evaluationIds: [Int]
    public let maxLength: Int
    public let batchSize: Int
    public let fingerprint: String

    public init(
        documents texts: [String], evaluationText: String, encoder: TextEncoder, maxLength: Int = 256,
        batchSize: Int = 8, poolFile: String = "pool", evaluationFile: String = "eval-data"
    ) throws {
        guard maxLength >= 2 else { throw RealignmentError.invalidParameter("sequence length must be at least 2") }
        guard batchSize >= 1 else { throw RealignmentError.invalidParameter("scoring batch must be at least 1") }
        documents = texts.map { encoder.encode($0, addSpecialTokens: true) + (encoder.eosTokenId.map { [$0] } ?? []) }
        evaluationIds = encoder.encode(evaluationText, addSpecialTokens: true)
        guard !documents.isEmpty else { throw RealignmentError.unusableData(file: poolFile, reason: "no documents") }
        guard evaluationIds.count >= 2 else {
            throw RealignmentError.unusableData(file: evaluationFile, reason: "perplexity needs at least 2 tokens")
        }
        self.maxLength = maxLength
        self.batchSize = batchSize
        var f = Fingerprint()
        f.mix("lm \(encoder.vocabSize) \(maxLength)")
        for d in documents { f.mix(d.map(String.init).joined(separator: ",")) }
        f.mix(evaluationIds.map(String.init).joined(separator: ","))
        fingerprint = f.value
    }

    public var poolSize: Int { documents.count }
    public var isClassification: Bool { false }
    public var metric: TaskMetric { .perplexity }
    public func poolID(_ index: Int) -> Int { index }

    public func labeledExamples(_ index: Int) -> [TrainingExample] {
        TrainingData.languageModeling(ids: documents[index], sequenceLength: maxLength)
    }

    public func score(model: MoEModel, indices: [Int], predictions: Bool, embeddings: Bool) throws -> [PoolScore] {
        let sequences = indices.map { SequenceScorer.Sequence(ids: Array(documents[$0].prefix(maxLength))) }
        return try SequenceScorer.score(
            model: model, sequences: sequences, batchSize: batchSize, entropy: predictions, embeddings: embeddings
        ).map { out in
            PoolScore(
                meanTokenEntropy: predictions ? out.meanEntropy : nil, meanNLL: predictions ? out.meanNLL : nil,
                embedding: out.embedding)
        }
    }

    public func evaluate(model: MoEModel) throws -> Double {
        try Perplexity.evaluate(
            model: model, ids: evaluationIds,
            parameters: Perplexity.Parameters(context: maxLength, batchSize: batchSize)
        ).perplexity
    }
}
