import Foundation
import MoEModels

/// Summarization re-alignment: the pool is documents whose reference summaries the oracle reveals
/// (prompt "{document}\nSummary:" + " summary" + EOS, teacher forcing). Uncertainty must not read
/// the summary, so it is measured on the prompt: mean next-token entropy (`entropy`) or mean NLL
/// per token (`nll`) over the document. The metric is the perplexity of the held-out reference
/// summaries given their documents (lower is better): deterministic and cheap, unlike ROUGE of
/// generated summaries, which `expertlock eval --task summarize` reports for the final model.
public struct SummarizationPool: ActiveLearningTask {
    public let pool: [SummarizationExample]
    public let evaluation: [SummarizationExample]
    public let maxLength: Int
    public let batchSize: Int
    private let prompts: [[Int]]
    private let oracle: [[TrainingExample]]
    private let evaluationSequences: [TrainingExample]
    public let fingerprint: String

    public init(
        pool: [SummarizationExample], evaluation: [SummarizationExample], encoder: TextEncoder, maxLength: Int = 512,
        batchSize: Int = 4, poolFile: String = "pool", evaluationFile: String = "eval-data"
    ) throws {
        guard maxLength >= 2 else { throw RealignmentError.invalidParameter("sequence length must be at least 2") }
        guard batchSize >= 1 else { throw RealignmentError.invalidParameter("scoring batch must be at least 1") }
        guard !pool.isEmpty else { throw RealignmentError.unusableData(file: poolFile, reason: "no examples") }
        self.pool = pool
        self.evaluation = evaluation
        self.maxLength = maxLength
        self.batchSize = batchSize
        prompts = pool.map {
            let text = TrainingData.summaryTemplate.replacingOccurrences(of: "{document}", with: $0.document)
            return Array(encoder.encode(text, addSpecialTokens: true).suffix(maxLength))
        }
        oracle = pool.map { TrainingData.summarization([$0], encoder: encoder, sequenceLength: maxLength) }
        evaluationSequences = TrainingData.summarization(evaluation, encoder: encoder, sequenceLength: maxLength)
        guard !evaluationSequences.isEmpty else {
            throw RealignmentError.unusableData(
                file: evaluationFile, reason: "no example whose summary fits \(maxLength) tokens")
        }
        var f = Fingerprint()
        f.mix("summarization \(encoder.vocabSize) \(maxLength)")
        for e in pool + [SummarizationExample(id: -1, document: "|", summary: "|")] + evaluation {
            f.mix(e.id)
            f.mix(e.document)
            f.mix(e.summary)
        }
        fingerprint = f.value
    }

    public var poolSize: Int { pool.count }
    public var isClassification: Bool { false }
    public var metric: TaskMetric { .summaryPerplexity }
    public func poolID(_ index: Int) -> Int { pool[index].id }
    public func labeledExamples(_ index: Int) -> [TrainingExample] { oracle[index] }

    public func score(model: MoEModel, indices: [Int], predictions: Bool, embeddings: Bool) throws -> [PoolScore] {
        let sequences = indices.map { SequenceScorer.Sequence(ids: prompts[$0]) }
        return try SequenceScorer.score(
            model: model, sequences: sequences, batchSize: batchSize, entropy: predictions, embeddings: embeddings
        ).map { out in
            PoolScore(
                meanTokenEntropy: predictions ? out.meanEntropy : nil, meanNLL: predictions ? out.meanNLL : nil,
                embedding: out.embedding)
        }
    }

    /// exp(Σ NLL of the summary tokens / their count) over the held-out examples.
    public func evaluate(model: MoEModel) throws -> Double {
        try SequenceScorer.perplexity(model: model, examples: evaluationSequences, batchSize: batchSize)
    }
}
