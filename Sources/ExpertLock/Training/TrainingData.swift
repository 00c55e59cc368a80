import Foundation

/// What a training run learns; each kind reduces to `TrainingExample`s.
public enum TrainingTask: String, Sendable, Codable, CaseIterable {
    /// Next-token prediction over chunks of the token stream.
    case languageModeling = "lm"
    /// Cross-entropy over the label word tokens after the prompt.
    case classification = "classify"
    /// Teacher forcing on the summary tokens after the document prompt.
    case summarization = "summarize"
}

/// How a classification example becomes a prompt and each label a continuation (lm-evaluation-harness
/// style). Placeholders: `{text}`, `{text_pair}`.
/// Training uses exactly the prompts evaluation scores (lm-evaluation-harness style), so a model
/// fine-tuned on a task is evaluated on the format it learned.
public typealias ClassificationPrompt = PromptTemplate

extension PromptTemplate {
    public static func standard(for task: ClassificationTask) -> PromptTemplate { defaults(for: task) }
    public func render(_ example: ClassificationExample) -> String { prompt(for: example) }
}

/// Builds training examples from data, tokenized by a `TextEncoder`.
public enum TrainingData {
    /// Summarization prompt: the document, then "Summary:"; the target is " " + summary + EOS.
    public static let summaryTemplate = "{document}\nSummary:"

    /// Chunks of `length` tokens overlapping by one, so every token after the first is a target
    /// exactly once (chunk k = ids[k(T−1) ..< k(T−1) + T]); a last chunk shorter than 2 is dropped.
    public static func languageModeling(ids: [Int], sequenceLength length: Int) -> [TrainingExample] {
        precondition(length >= 2, "sequence length must be at least 2")
        var out: [TrainingExample] = []
        var start = 0
        while start + 1 < ids.count {
            let end = min(start + length, ids.count)
            out.append(TrainingExample(ids: Array(ids[start..<end])))
            if end == ids.count { break }
            start += length - 1
        }
        return out
    }

    /// The documents as one token stream (each encoded with special tokens and followed by EOS
    /// when the encoder has one), cut into chunks.
    public static func languageModeling(documents: [String], encoder: TextEncoder, sequenceLength: Int)
        -> [TrainingExample]
    {
        var stream: [Int] = []
        for document in documents {
            stream += encoder.encode(document, addSpecialTokens: true)
            if let eos = encoder.eosTokenId { stream.append(eos) }
        }
        return languageModeling(ids: stream, sequenceLength: sequenceLength)
    }

    /// Prompt + verbalizer of the gold label for each labeled example (unlabeled ones are skipped).
    public static func classification(
        _ examples: [ClassificationExample], prompt: ClassificationPrompt, encoder: TextEncoder, sequenceLength: Int
    ) -> [TrainingExample] {
        examples.compactMap { example in
            guard let label = example.label, prompt.verbalizers.indices.contains(label) else { return nil }
            return TrainingExample.promptAndAnswer(
                prompt: encoder.encode(prompt.render(example), addSpecialTokens: true),
                answer: encoder.encode(prompt.verbalizers[label], addSpecialTokens: false), maxLength: sequenceLength)
        }
    }

    /// Document prompt + " summary" + EOS for each example.
    public static func summarization(
        _ examples: [SummarizationExample], encoder: TextEncoder, sequenceLength: Int,
        template: String = summaryTemplate
    ) -> [TrainingExample] {
        examples.compactMap { example in
            let prompt = template.replacingOccurrences(of: "{document}", with: example.document)
            let answer =
                encoder.encode(" " + example.summary, addSpecialTokens: false) + (encoder.eosTokenId.map { [$0] } ?? [])
            return TrainingExample.promptAndAnswer(
                prompt: encoder.encode(prompt, addSpecialTokens: true), answer: answer, maxLength: sequenceLength)
        }
    }

    /// Examples for `task` from a loaded data file; the dataset's shape must fit the task.
    public static func examples(
        from dataset: Dataset, task: TrainingTask, encoder: TextEncoder, sequenceLength: Int, file: String,
        prompt: ClassificationPrompt? = nil
    ) throws -> [TrainingExample] {
        let examples: [TrainingExample]
        switch (task, dataset) {
        case (.languageModeling, .text(let documents)):
            examples = languageModeling(
                documents: documents.map(\.text), encoder: encoder, sequenceLength: sequenceLength)
        case (.languageModeling, .summarization(let items)):
            examples = languageModeling(
                documents: items.map { $0.document + "\n" + $0.summary }, encoder: encoder,
                sequenceLength: sequenceLength)
        case (.languageModeling, .classification(_, let items)):
            examples = languageModeling(documents: items.map(\.text), encoder: encoder, sequenceLength: sequenceLength)
        case (.classification, .classification(let classificationTask, let items)):
            let prompt = prompt ?? ClassificationPrompt.standard(for: classificationTask)
            examples = classification(items, prompt: prompt, encoder: encoder, sequenceLength: sequenceLength)
        case (.summarization, .summarization(let items)):
            examples = summarization(items, encoder: encoder, sequenceLength: sequenceLength)
        default:
            throw TrainingError.noExamples(reason: "\(file) does not hold \(task.rawValue) data")
        }
        guard !examples.isEmpty else {
            throw TrainingError.noExamples(
                reason: "\(file) gives no labeled example that fits \(sequenceLength) tokens")
        }
        return examples
    }
}
