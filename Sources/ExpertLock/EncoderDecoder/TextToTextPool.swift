import Foundation
import MoEModels
import TensorCore

/// Classification re-alignment of an encoder-decoder (switch_transformers) in T5's text-to-text form: the
/// pool and the held-out set are labeled classification examples, the encoder reads T5's GLUE prompt
/// (`TextToText.prompt`), and each label word (with `</s>`) is scored by the decoder's log-likelihood, as
/// `TextToText.accuracy` evaluates. Through `ActiveLearningLoop.run` every strategy applies:
///
/// - entropy, margin, least-confidence: the softmax over the label words' log-likelihoods;
/// - core-set and BADGE: the embedding is the encoder's final hidden state mean-pooled over the prompt (the
///   model's view of the input, as the decoder-only pools pool the prompt's hidden states); BADGE weighs it
///   by p − onehot(ŷ) over the label words.
///
/// The oracle turns a pool example into (prompt → label word), and fine-tuning minimises the decoder's loss
/// on those label words (`Seq2SeqTrainer`). Prompts are not truncated (as `TextToText.accuracy`).
public struct TextToTextPool: RealignmentTask {
    public typealias Model = SwitchTransformersModel

    public let pool: [ClassificationExample]
    public let evaluation: [ClassificationExample]
    public let task: ClassificationTask
    let tokenizer: Tokenizer
    /// Each label word's ids (with `</s>`), in `labelNames` order.
    let labels: [[Int]]
    /// The pool prompts' ids.
    let sources: [[Int]]
    let decoderStart: Int
    public let fingerprint: String

    /// `decoderStart`: the model's `decoder_start_token_id` (T5: the pad token, 0).
    public init(
        pool: [ClassificationExample], evaluation: [ClassificationExample], task: ClassificationTask,
        tokenizer: Tokenizer, decoderStart: Int, poolFile: String = "pool", evaluationFile: String = "eval-data"
    ) throws {
        let names = task.labelNames
        guard names.count >= 2 else { throw RealignmentError.invalidParameter("classification needs two labels") }
        for (file, examples) in [(poolFile, pool), (evaluationFile, evaluation)] {
            guard !examples.isEmpty else { throw RealignmentError.unusableData(file: file, reason: "no examples") }
            if let bad = examples.first(where: { $0.label.map { !names.indices.contains($0) } ?? true }) {
                throw RealignmentError.unusableData(
                    file: file,
                    reason: "example \(bad.id) has "
                        + (bad.label.map { "label \($0), which has no label word" } ?? "no label")
                        + " (the oracle and the metric need a label for every example)")
            }
        }
        self.pool = pool
        self.evaluation = evaluation
        self.task = task
        self.tokenizer = tokenizer
        self.decoderStart = decoderStart
        labels = names.map { tokenizer.encode($0) }
        sources = pool.map { tokenizer.encode(TextToText.prompt(task, $0)) }
        var f = Fingerprint()
        f.mix("text-to-text classification \(tokenizer.vocabSize) start \(decoderStart)")
        for label in labels { f.mix(label.map(String.init).joined(separator: " ")) }
        for e in pool + [ClassificationExample(id: -1, text: "|")] + evaluation {
            f.mix(e.id)
            f.mix(TextToText.prompt(task, e))
            f.mix(e.label ?? -1)
        }
        fingerprint = f.value
    }

    public var poolSize: Int { pool.count }
    public var isClassification: Bool { true }
    public var metric: RealignmentMetric { .accuracy }
    public func poolID(_ index: Int) -> Int { pool[index].id }

    public func labeledExamples(_ index: Int) -> [TrainingExample] {
        [TrainingExample(source: sources[index], target: labels[pool[index].label ?? 0], decoderStart: decoderStart)]
    }

    public func score(model: SwitchTransformersModel, indices: [Int], predictions: Bool, embeddings: Bool) throws
        -> [PoolScore]
    {
        try indices.map { i in
            let memory = try model.encode(sources[i])  // [S, C]
            var score = PoolScore()
            if predictions {
                let scores = try TextToText.logLikelihoods(model, memory: memory, targets: labels)
                let top = scores.max() ?? 0
                let weights = scores.map { exp($0 - top) }
                let total = weights.reduce(0, +)
                score.probabilities = weights.map { $0 / total }
            }
            if embeddings {
                let m = memory.value
                let (rows, width) = (m.rows, m.lastDim)
                score.embedding = (0..<width).map { c in
                    (0..<rows).reduce(Float(0)) { $0 + m.data[$1 * width + c] } / Float(rows)
                }
            }
            return score
        }
    }

    public func evaluateWithOutcomes(model: SwitchTransformersModel) throws -> (metric: Double, outcomes: [Double]?) {
        let r = try TextToText.accuracy(model, tokenizer: tokenizer, task: task, examples: evaluation)
        return (r.accuracy, r.outcomes)
    }

    /// Accuracy on pool examples `indices`, their labels revealed (the gated schedule's split).
    public func validationMetric(
        model: SwitchTransformersModel, indices: [Int]
    ) throws -> (metric: TaskMetric, value: Double) {
        (
            .accuracy,
            try TextToText.accuracy(model, tokenizer: tokenizer, task: task, examples: indices.map { pool[$0] })
                .accuracy
        )
    }
}
