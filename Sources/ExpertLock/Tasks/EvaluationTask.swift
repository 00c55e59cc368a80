import Foundation
import MoEModels

/// The task whose data a command, the audit or the demo reads.
public enum TaskKind: String, Sendable, Codable, CaseIterable {
    /// Language modeling, measured by perplexity.
    case perplexity
    /// Classification through the LM's verbalizer log-likelihoods, measured by accuracy.
    case classify
    /// Greedy summaries, measured by ROUGE-L F×100.
    case summarize
}

/// One task, built once from a kind, its data and a tokenizer, and asked for everything the
/// attack measures: the sequences attribution runs over (each prompt with its gold target, so the
/// statistics cover prompt and target), the metric with its direction, and the metric of a
/// (masked) model. `sweep`, `attribute`, `audit` and the demo all build their tasks here, so the
/// three of them cannot drift apart in how a prompt is cut or a metric is batched.
public struct EvaluationTask: Sendable {
    /// What the task reads, already parsed.
    public enum Examples: Sendable {
        /// Text scored as one stream (documents joined as the data file gives them).
        case text(String)
        /// Token ids scored as one stream (a `--ids` file, or text tokenized elsewhere).
        case ids([Int])
        case classification(ClassificationTask, [ClassificationExample])
        case summarization([SummarizationExample])
    }

    public let kind: TaskKind
    public let examples: Examples
    /// The tokenizer of text examples (nil only for token ids).
    public let tokenizer: Tokenizer?
    /// The data file, named in errors.
    public let file: String
    /// Tokens per attribution sequence and perplexity window; for classification and
    /// summarization, the longest prompt + target.
    public var context: Int
    /// Sequences per forward pass when evaluating.
    public var batchSize: Int
    /// Summaries: most tokens generated per example.
    public var maxNewTokens: Int
    /// Perplexity: use at most this many `context`-token sequences.
    public var limit: Int?
    /// Classification: the prompt and verbalizers (default: the task's own, `PromptTemplate.defaults`).
    public var template: PromptTemplate?

    public init(
        kind: TaskKind, examples: Examples, tokenizer: Tokenizer?, file: String, context: Int, batchSize: Int,
        maxNewTokens: Int = 48, limit: Int? = nil, template: PromptTemplate? = nil
    ) throws {
        switch (kind, examples) {
        case (.perplexity, .text), (.perplexity, .ids), (.classify, .classification), (.summarize, .summarization):
            break
        default:
            throw TaskError.dataMismatch(file: file, kind: kind)
        }
        if case .ids = examples {} else if tokenizer == nil { throw TaskError.dataMismatch(file: file, kind: kind) }
        self.kind = kind
        self.examples = examples
        self.tokenizer = tokenizer
        self.file = file
        self.context = context
        self.batchSize = batchSize
        self.maxNewTokens = maxNewTokens
        self.limit = limit
        self.template = template
    }

    /// A task from a loaded dataset: plain-text and `{"text"}` documents are one stream joined by
    /// blank lines (as `BuiltinCorpus` writes them), labelled examples classify, document/summary
    /// pairs summarize.
    public init(
        kind: TaskKind, dataset: Dataset, tokenizer: Tokenizer, file: String, context: Int, batchSize: Int,
        maxNewTokens: Int = 48, limit: Int? = nil
    ) throws {
        let examples: Examples
        switch dataset {
        case .text(let documents): examples = .text(documents.map(\.text).joined(separator: "\n\n"))
        case .classification(let task, let items): examples = .classification(task, items)
        case .summarization(let items): examples = .summarization(items)
        }
        try self.init(
            kind: kind, examples: examples, tokenizer: tokenizer, file: file, context: context, batchSize: batchSize,
            maxNewTokens: maxNewTokens, limit: limit)
    }

    /// What the metric is called and which way is better.
    public var metric: TaskMetric {
        switch kind {
        case .perplexity: .perplexity
        case .classify: .accuracy
        case .summarize: .rougeL
        }
    }

    /// Accuracy of guessing (1 / classes) for classification, nil otherwise.
    public var chanceLevel: Double? {
        guard case .classification(let task, _) = examples else { return nil }
        return 1 / Double(max(task.labelNames.count, 1))
    }

    /// The token stream of a perplexity task, cut to `limit` sequences of `context` tokens.
    public var perplexityIds: [Int] {
        switch examples {
        case .ids(let ids): Array(CorpusBatches.chunks(ids, length: context).prefix(limit ?? .max).joined())
        case .text(let text):
            Array(CorpusBatches.chunks(tokenizer!.encode(text), length: context).prefix(limit ?? .max).joined())
        default: []
        }
    }

    /// The sequences attribution runs over: `context`-token chunks of the stream; each labelled
    /// prompt followed by its gold label's verbalizer; each summary prompt followed by its summary.
    public func sequences() -> [[Int]] {
        switch examples {
        case .ids(let ids): Array(CorpusBatches.chunks(ids, length: context).prefix(limit ?? .max))
        case .text(let text):
            Array(CorpusBatches.chunks(tokenizer!.encode(text), length: context).prefix(limit ?? .max))
        case .classification(let task, let items):
            items.compactMap { example in
                example.label.map {
                    TaskSequences.classification(
                        example, label: $0, template: template ?? PromptTemplate.defaults(for: task),
                        tokenizer: tokenizer!, maxLength: context
                    ).ids
                }
            }
        case .summarization(let items):
            items.map { TaskSequences.summarization($0, tokenizer: tokenizer!, maxLength: context).ids }
        }
    }

    /// The metric of `model` (masked or not) on this task's data.
    public func evaluate(_ model: MoEModel) throws -> Double {
        switch examples {
        case .ids, .text:
            return try Perplexity.evaluate(
                model: model, ids: perplexityIds, parameters: .init(context: context, batchSize: batchSize)
            ).perplexity
        case .classification(let task, let items):
            return try Classification.evaluate(
                model: model, tokenizer: tokenizer!, examples: items, task: task, template: template,
                maxLength: context, batchSize: batchSize
            ).accuracy
        case .summarization(let items):
            return try Summarization.evaluate(
                model: model, tokenizer: tokenizer!, examples: items, maxNewTokens: maxNewTokens, maxLength: context
            ).rougeL
        }
    }

    /// The classification result (predictions, probabilities, per-example scores) of `model` on
    /// `examples` (default: the task's own), for callers that need more than the accuracy.
    public func classify(_ model: MoEModel, examples subset: [ClassificationExample]? = nil) throws
        -> ClassificationResult
    {
        guard case .classification(let task, let items) = examples else {
            throw TaskError.dataMismatch(file: file, kind: .classify)
        }
        return try Classification.evaluate(
            model: model, tokenizer: tokenizer!, examples: subset ?? items, task: task, template: template,
            maxLength: context, batchSize: batchSize)
    }

    /// The active-learning pool over `pool`'s examples with this task's data held out: the
    /// oracle's labels come from the pool file, the metric from `evaluate`'s data (classification
    /// and summarization; a perplexity pool needs its documents apart, `LanguageModelingPool`).
    public func activeLearningPool(pool: EvaluationTask) throws -> any ActiveLearningTask {
        switch (pool.examples, examples) {
        case (.classification, .classification):
            return try classificationPool(pool: pool)
        case (.summarization(let items), .summarization(let evaluation)):
            return try SummarizationPool(
                pool: items, evaluation: evaluation, encoder: tokenizer!, maxLength: context, batchSize: batchSize,
                poolFile: pool.file, evaluationFile: file)
        default:
            throw TaskError.dataMismatch(file: pool.file, kind: kind)
        }
    }

    /// The classification pool (`activeLearningPool` for a classification task, typed).
    public func classificationPool(pool: EvaluationTask) throws -> ClassificationPool {
        guard case .classification(let task, let items) = pool.examples,
            case .classification(_, let evaluation) = examples
        else { throw TaskError.dataMismatch(file: pool.file, kind: .classify) }
        return try ClassificationPool(
            pool: items, evaluation: evaluation, task: task, tokenizer: tokenizer!, template: template,
            maxLength: context, batchSize: batchSize, poolFile: pool.file, evaluationFile: file)
    }
}
