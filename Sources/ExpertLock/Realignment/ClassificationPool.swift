import Foundation
import MoEModels

/// Classification re-alignment (the paper's SST-2 setting): the pool and the held-out set are
/// labeled classification examples; the model predicts through the prompt and verbalizers
/// (lm-evaluation-harness style); the oracle turns a pool example into prompt + gold verbalizer.
///
/// With a `Tokenizer` class probabilities and accuracy come from `Classification.evaluate` and the
/// oracle's sequences from `TaskSequences.classification`, so training sees the very token ids the
/// evaluation scores; with another `TextEncoder` (the byte encoder) both come from
/// `VerbalizerScorer`, which scores the same way. Pool labels are removed before anything is scored.
public struct ClassificationPool: ActiveLearningTask {
    public let pool: [ClassificationExample]
    public let evaluation: [ClassificationExample]
    public let task: ClassificationTask
    /// The prompt and verbalizers of training and scoring.
    public let template: PromptTemplate
    /// Longest sequence in tokens (prompts are truncated from the left).
    public let maxLength: Int
    /// Examples per forward pass when scoring and evaluating.
    public let batchSize: Int
    let encoder: TextEncoder
    let tokenizer: Tokenizer?
    private let oracle: [[TrainingExample]]
    public let fingerprint: String

    /// A pool scored with any text encoder (`VerbalizerScorer`).
    public init(
        pool: [ClassificationExample], evaluation: [ClassificationExample], task: ClassificationTask,
        encoder: TextEncoder, prompt: ClassificationPrompt? = nil, maxLength: Int = 256, batchSize: Int = 8,
        poolFile: String = "pool", evaluationFile: String = "eval-data"
    ) throws {
        try self.init(
            pool: pool, evaluation: evaluation, task: task, encoder: encoder, tokenizer: nil,
            prompt: prompt ?? ClassificationPrompt.standard(for: task), maxLength: maxLength, batchSize: batchSize,
            files: (poolFile, evaluationFile))
        guard let prompt else { return }
        try PromptTemplate(template: prompt.template, verbalizers: prompt.verbalizers).validate(for: task)
    }

    /// A pool scored with a Hugging Face tokenizer through `Classification.evaluate`.
    public init(
        pool: [ClassificationExample], evaluation: [ClassificationExample], task: ClassificationTask,
        tokenizer: Tokenizer, template: PromptTemplate? = nil, maxLength: Int = 256, batchSize: Int = 8,
        poolFile: String = "pool", evaluationFile: String = "eval-data"
    ) throws {
        let template = template ?? PromptTemplate.defaults(for: task)
        try template.validate(for: task)
        try self.init(
            pool: pool, evaluation: evaluation, task: task, encoder: tokenizer, tokenizer: tokenizer,
            prompt: ClassificationPrompt(template: template.template, verbalizers: template.verbalizers),
            maxLength: maxLength, batchSize: batchSize, files: (poolFile, evaluationFile))
    }

    private init(
        pool: [ClassificationExample], evaluation: [ClassificationExample], task: ClassificationTask,
        encoder: TextEncoder, tokenizer: Tokenizer?, prompt: ClassificationPrompt, maxLength: Int, batchSize: Int,
        files: (pool: String, evaluation: String)
    ) throws {
        guard maxLength >= 2 else { throw RealignmentError.invalidParameter("sequence length must be at least 2") }
        guard batchSize >= 1 else { throw RealignmentError.invalidParameter("scoring batch must be at least 1") }
        guard prompt.verbalizers.count >= 2 else {
            throw RealignmentError.invalidParameter("classification needs at least two verbalizers")
        }
        for (file, examples) in [(files.pool, pool), (files.evaluation, evaluation)] {
            guard !examples.isEmpty else { throw RealignmentError.unusableData(file: file, reason: "no examples") }
            if let bad = examples.first(where: { $0.label.map { !prompt.verbalizers.indices.contains($0) } ?? true }) {
                throw RealignmentError.unusableData(
                    file: file,
                    reason:
                        "example \(bad.id) has "
                        + "\(bad.label.map { "label \($0), which has no verbalizer" } ?? "no label")"
                        + " (the oracle and the metric need a label for every example)")
            }
        }
        self.pool = pool
        self.evaluation = evaluation
        self.task = task
        self.template = PromptTemplate(template: prompt.template, verbalizers: prompt.verbalizers)
        self.maxLength = maxLength
        self.batchSize = batchSize
        self.encoder = encoder
        self.tokenizer = tokenizer
        let scorer = VerbalizerScorer(encoder: encoder, prompt: prompt, maxLength: maxLength)
        var oracle: [[TrainingExample]] = []
        for example in pool {
            let label = example.label ?? 0
            if let tokenizer {
                let s = TaskSequences.classification(
                    example, label: label, template: template, tokenizer: tokenizer, maxLength: maxLength)
                guard s.targetStart >= 1, s.targetStart < s.ids.count else {
                    throw RealignmentError.verbalizerTooLong(
                        verbalizer: prompt.verbalizers[label], maxLength: maxLength)
                }
                oracle.append([TrainingExample(ids: s.ids, firstTarget: s.targetStart)])
            } else {
                guard let s = scorer.sequence(example, label: label) else {
                    throw RealignmentError.verbalizerTooLong(
                        verbalizer: prompt.verbalizers[label], maxLength: maxLength)
                }
                oracle.append([s])
            }
        }
        self.oracle = oracle
        var f = Fingerprint()
        f.mix("classification \(tokenizer == nil ? "encoder" : "tokenizer") \(encoder.vocabSize) \(maxLength)")
        f.mix(prompt.template)
        for v in prompt.verbalizers { f.mix(v) }
        for e in pool + [ClassificationExample(id: -1, text: "|")] + evaluation {
            f.mix(e.id)
            f.mix(e.text)
            f.mix(e.textPair ?? "")
            f.mix(e.label ?? -1)
        }
        fingerprint = f.value
    }

    public var poolSize: Int { pool.count }
    public var isClassification: Bool { true }
    public var metric: TaskMetric { .accuracy }
    public func poolID(_ index: Int) -> Int { pool[index].id }
    public func labeledExamples(_ index: Int) -> [TrainingExample] { oracle[index] }

    /// The template as the byte-encoder path and `TrainingData` spell it.
    public var prompt: ClassificationPrompt {
        ClassificationPrompt(template: template.template, verbalizers: template.verbalizers)
    }

    var scorer: VerbalizerScorer { VerbalizerScorer(encoder: encoder, prompt: prompt, maxLength: maxLength) }

    public func score(model: MoEModel, indices: [Int], predictions: Bool, embeddings: Bool) throws -> [PoolScore] {
        let unlabeled = indices.map { i -> ClassificationExample in
            var e = pool[i]
            e.label = nil  // the oracle has not spoken
            return e
        }
        var probabilities: [[Double]]?
        var vectors: [[Float]]?
        if predictions, let tokenizer {
            probabilities = try Classification.evaluate(
                model: model, tokenizer: tokenizer, examples: unlabeled, task: task,
                template: template, maxLength: maxLength, batchSize: batchSize
            ).probabilities
        } else if predictions {
            let scores = try scorer.evaluate(
                model: model, examples: unlabeled, batchSize: batchSize, embeddings: embeddings)
            probabilities = scores.probabilities
            vectors = scores.embeddings
        }
        if embeddings && vectors == nil {
            let sequences = unlabeled.map { example -> SequenceScorer.Sequence in
                let ids =
                    tokenizer.map { TaskSequences.EncodedPrompt(template.prompt(for: example), tokenizer: $0).ids }
                    ?? encoder.encode(prompt.render(example), addSpecialTokens: true)
                return SequenceScorer.Sequence(ids: Array(ids.suffix(maxLength)))
            }
            vectors = try SequenceScorer.score(
                model: model, sequences: sequences, batchSize: batchSize, entropy: false, embeddings: true
            ).map { $0.embedding ?? [] }
        }
        return indices.indices.map { k in
            PoolScore(probabilities: probabilities?[k], embedding: vectors?[k])
        }
    }

    public func evaluate(model: MoEModel) throws -> Double { try evaluateWithOutcomes(model: model).metric }

    /// Accuracy and each held-out example's correctness (1 or 0).
    public func evaluateWithOutcomes(model: MoEModel) throws -> (metric: Double, outcomes: [Double]?) {
        try accuracy(model: model, examples: evaluation)
    }

    /// Accuracy on pool examples `indices`, their labels revealed (the gated schedule's split).
    public func validationMetric(model: MoEModel, indices: [Int]) throws -> (metric: TaskMetric, value: Double) {
        (.accuracy, try accuracy(model: model, examples: indices.map { pool[$0] }).metric)
    }

    private func accuracy(model: MoEModel, examples: [ClassificationExample]) throws -> (
        metric: Double, outcomes: [Double]?
    ) {
        let predictions: [Int]
        let accuracy: Double
        if let tokenizer {
            let r = try Classification.evaluate(
                model: model, tokenizer: tokenizer, examples: examples, task: task, template: template,
                maxLength: maxLength, batchSize: batchSize)
            (predictions, accuracy) = (r.predictions, r.accuracy)
        } else {
            let r = try scorer.evaluate(model: model, examples: examples, batchSize: batchSize)
            (predictions, accuracy) = (r.predictions, r.accuracy)
        }
        return (accuracy, zip(examples, predictions).map { $0.label == $1 ? 1 : 0 })
    }
}
