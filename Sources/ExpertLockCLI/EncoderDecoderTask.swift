import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

/// The tasks of the audit commands for an encoder-decoder (switch_transformers) model, in text-to-text form
/// (`TextToText`): what attribution runs over and what a metric measures.
struct EncoderDecoderTask {
    let model: SwitchTransformersModel
    let tokenizer: Tokenizer
    let task: TaskName
    let dataset: Dataset
    let maxNewTokens: Int
    let maxTokens: Int

    /// Loads `data` for `task` (classify: a GLUE/JSONL classification file; summarize: JSONL document/summary;
    /// perplexity: text, scored as the decoder's target loss on each document's second half).
    init(
        model: SwitchTransformersModel, folder: URL, task: TaskName, data: String, format: DataFormat, limit: Int?,
        maxNewTokens: Int = 48, maxTokens: Int = 256
    ) throws {
        self.model = model
        tokenizer = try ModelOptions.tokenizer(folder: folder, model: folder)
        self.task = task
        dataset = try DatasetLoader.load(URL(fileURLWithPath: data), format: format, limit: limit).0
        self.maxNewTokens = maxNewTokens
        self.maxTokens = maxTokens
        switch (task, dataset) {
        case (.classify, .classification), (.summarize, .summarization), (.perplexity, .text): break
        default:
            throw ArgumentInputError("\(data): holds \(Self.kind(dataset)), not what --task \(task.rawValue) reads")
        }
    }

    static func kind(_ dataset: Dataset) -> String {
        switch dataset {
        case .text: "plain text"
        case .classification: "classification examples"
        case .summarization: "document/summary pairs"
        }
    }

    /// Source/target pairs (attribution): the prompt and its gold label word, the document and its summary, or
    /// a document's two halves.
    var pairs: [TextToText.Pair] {
        switch dataset {
        case .classification(let t, let examples):
            return examples.compactMap { e in
                e.label.map {
                    TextToText.Pair(
                        source: tokenizer.encode(TextToText.prompt(t, e)), target: tokenizer.encode(t.labelNames[$0]))
                }
            }
        case .summarization(let examples):
            return examples.map {
                TextToText.Pair(
                    source: Array(tokenizer.encode("summarize: " + $0.document).suffix(maxTokens)),
                    target: tokenizer.encode($0.summary))
            }
        case .text(let documents):
            return TextToText.halves(documents, tokenizer: tokenizer, maxTokens: maxTokens)
        }
    }

    /// The metric's name and direction, as the decoder-only tasks name theirs.
    var metricName: String {
        switch task {
        case .classify: "accuracy"
        case .summarize: "rougeL"
        case .perplexity: "target_perplexity"
        }
    }
    var higherIsBetter: Bool { task != .perplexity }

    /// The metric of `model` (nil: the task's own model), as it is masked.
    func evaluate(_ candidate: SwitchTransformersModel? = nil) throws -> Double {
        let model = candidate ?? self.model
        switch dataset {
        case .classification(let t, let examples):
            return try TextToText.accuracy(model, tokenizer: tokenizer, task: t, examples: examples).accuracy
        case .summarization(let examples):
            return try TextToText.summarize(model, tokenizer: tokenizer, examples: examples, maxNewTokens: maxNewTokens)
                .rouge["rougeL"] ?? 0
        case .text:
            return exp(try TextToText.targetLoss(model, pairs: pairs))
        }
    }
}
