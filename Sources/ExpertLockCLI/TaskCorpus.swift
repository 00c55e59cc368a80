import ExpertLock
import Foundation
import MoEModels

/// Turns a command's data arguments into what attribution and sweeps consume: token sequences
/// (language-model text cut into `context`-token sequences; for classification each prompt followed
/// by its gold label's verbalizer; for summarization each prompt followed by its summary, so the
/// statistics cover prompt and target), and a task metric to evaluate a (masked) model with.
enum TaskCorpus {
    /// The library task (`EvaluationTask`) of a command's data arguments: `--ids` (token ids,
    /// checked against the model's vocabulary) or `--data` tokenized with the model's tokenizer.
    static func task(
        model: ModelOptions, task: TaskName, data: String?, ids: String?, format: DataFormat, context: Int, batch: Int,
        limit: Int?, maxNewTokens: Int = 48, measured: Bool = false
    ) throws -> EvaluationTask {
        guard context >= 2 else { throw ArgumentInputError("--context must be at least 2") }
        // Token ids are a stream: attribution chunks them for any task, but only perplexity measures them.
        if measured && task != .perplexity && data == nil {
            throw ArgumentInputError("--task \(task.rawValue) needs --data FILE")
        }
        if let ids {
            let all = try TokenIdsFile.read(ids)
            let config = try? ModelConfig.load(from: model.url.appendingPathComponent("config.json"))
            if let vocabSize = config?.vocabSize {
                try requireInVocabulary(all, file: ids, vocabSize: vocabSize)
            }
            return try EvaluationTask(
                kind: .perplexity, examples: .ids(all), tokenizer: nil, file: ids, context: context, batchSize: batch,
                limit: limit)
        }
        guard let data else { throw ArgumentInputError("pass --data FILE or --ids FILE") }
        let url = URL(fileURLWithPath: data)
        let tokenizer = try model.tokenizer()
        let examples: EvaluationTask.Examples
        switch task {
        case .perplexity:
            examples = .text(try perplexityText(url, format: format))  // JSONL {"text"} records as `eval` reads them
        case .classify:
            let (classes, items) = try classification(url, format: format, limit: limit)
            examples = .classification(classes, items)
        case .summarize:
            examples = .summarization(try summarization(url, format: format, limit: limit))
        }
        return try EvaluationTask(
            kind: task, examples: examples, tokenizer: tokenizer, file: data, context: context, batchSize: batch,
            maxNewTokens: maxNewTokens, limit: task == .perplexity ? limit : nil)
    }

    /// The sequences attribution runs over, refused when they hold fewer than 2 tokens.
    static func sequences(_ task: EvaluationTask) throws -> [[Int]] {
        let all = task.sequences()
        // An empty corpus would give every expert the same share, and a ranking by index.
        guard all.reduce(0, { $0 + $1.count }) >= 2 else {
            throw ArgumentInputError("\(task.file): fewer than 2 tokens to score (an empty file, or no usable example)")
        }
        return all
    }

    static func sequences(
        model: ModelOptions, task: TaskName, data: String?, ids: String?, format: DataFormat, context: Int, limit: Int?
    ) throws -> [[Int]] {
        try sequences(
            self.task(
                model: model, task: task, data: data, ids: ids, format: format, context: context, batch: 1, limit: limit
            ))
    }

    /// The ids a perplexity scores, checked where they meet the model, naming their file: at least
    /// two tokens (an empty or whitespace-only file has none), and every id inside the model's
    /// vocabulary (ids written with another tokenizer).
    static func requireScorable(_ ids: [Int], file: String, vocabSize: Int, fromIds: Bool) throws {
        guard ids.count >= 2 else {
            throw ArgumentInputError(
                "\(file): \(ids.count) token\(ids.count == 1 ? "" : "s") "
                    + "\(fromIds ? "in the ids file" : "after tokenization"); "
                    + "perplexity needs at least 2 (an empty file, or --limit too small?)")
        }
        try requireInVocabulary(ids, file: file, vocabSize: vocabSize)
    }

    static func requireInVocabulary(_ ids: [Int], file: String, vocabSize: Int) throws {
        if let bad = ids.first(where: { $0 < 0 || $0 >= vocabSize }) {
            throw ArgumentInputError(
                "\(file): token id \(bad) is outside the model's vocabulary (0..<\(vocabSize)): the ids were made with "
                    + "another tokenizer (tokenize with this model's tokenizer.json: expertlock tokenize --model DIR)")
        }
    }

    /// The text a perplexity is measured on: a plain-text file whole, or the documents of a JSONL
    /// `{"text"}` file joined by blank lines (as `BuiltinCorpus` writes them). Shared by `eval` and
    /// `train --eval-data` so a training log and a later `eval` score the same tokens.
    static func perplexityText(_ url: URL, format: DataFormat, skipBad: Bool = false, limit: Int? = nil) throws
        -> String
    {
        let resolved = format == .auto ? DatasetLoader.detectFormat(of: url) : format
        if resolved == .text { return try PlainTextReader.wholeText(of: url) }
        let (dataset, skipped) = try DatasetLoader.load(url, format: resolved, skipBad: skipBad, limit: limit)
        if skipped > 0 { Console.progress("skipped \(skipped) malformed row(s) of \(url.path)") }
        guard case .text(let documents) = dataset else {
            throw ArgumentInputError("\(url.path): perplexity needs plain text or JSONL {\"text\"} records")
        }
        return documents.map(\.text).joined(separator: "\n\n")
    }

    static func classification(_ url: URL, format: DataFormat, limit: Int?) throws -> (
        ClassificationTask, [ClassificationExample]
    ) {
        let (dataset, _) = try DatasetLoader.load(url, format: format, limit: limit)
        guard case .classification(let task, let examples) = dataset else {
            throw ArgumentInputError(
                "\(url.path): --task classify needs labelled examples (GLUE TSV or JSONL with text and label)")
        }
        return (task, examples)
    }

    static func summarization(_ url: URL, format: DataFormat, limit: Int?) throws -> [SummarizationExample] {
        let (dataset, _) = try DatasetLoader.load(url, format: format, limit: limit)
        guard case .summarization(let examples) = dataset else {
            throw ArgumentInputError("\(url.path): --task summarize needs JSONL with document and summary")
        }
        return examples
    }
}
