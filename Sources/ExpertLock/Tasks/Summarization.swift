import Foundation
import MoEModels
import TensorCore

/// What summarization gives for a set of documents.
public struct SummarizationResult: Sendable, Codable {
    /// Mean ROUGE F-measures over the examples, ×100 (as papers report them).
    public var rouge1: Double
    public var rouge2: Double
    public var rougeL: Double
    public var examples: Int
    /// The generated summary of each example (cut at the first newline, trimmed).
    public var predictions: [String]
    /// Tokens generated in all (stop tokens included), for throughput.
    public var generatedTokens: Int

    public init(
        rouge1: Double, rouge2: Double, rougeL: Double, examples: Int, predictions: [String], generatedTokens: Int
    ) {
        self.rouge1 = rouge1
        self.rouge2 = rouge2
        self.rougeL = rougeL
        self.examples = examples
        self.predictions = predictions
        self.generatedTokens = generatedTokens
    }
}

/// Summarization through the language model: the prompt `SummarizationPrompt.defaultTemplate`,
/// greedy decoding with the KV cache until EOS, a newline or `maxNewTokens`, and ROUGE-1/2/L
/// F-measure against the reference as Google's rouge-score computes it.
public enum Summarization {
    /// `maxLength` bounds prompt + generated tokens: the prompt keeps its last
    /// `maxLength - maxNewTokens` tokens. `progress` receives (examples done, total) and may return
    /// false to stop early: the result then covers the examples done (a prefix).
    public static func evaluate(
        model: MoEModel, tokenizer: Tokenizer, examples: [SummarizationExample], maxNewTokens: Int = 64,
        maxLength: Int = 1024, useStemmer: Bool = true, progress: ((Int, Int) -> Bool)? = nil
    ) throws -> SummarizationResult {
        try TaskError.require(maxNewTokens >= 1, "--max-new-tokens", maxNewTokens, "must be at least 1")
        try TaskError.require(
            maxLength > maxNewTokens, "--context", maxLength, "must exceed --max-new-tokens (\(maxNewTokens))")
        let template = SummarizationPrompt()
        let stopTokens = Set([tokenizer.eosTokenId, model.config.eosTokenId].compactMap { $0 })
        var predictions: [String] = []
        var generated = 0
        for (i, example) in examples.enumerated() {
            let prompt = TaskSequences.EncodedPrompt(template.prompt(for: example), tokenizer: tokenizer)
            let output = try Generator.greedy(
                model: model, prompt: Array(prompt.ids.suffix(maxLength - maxNewTokens)), maxNewTokens: maxNewTokens,
                stopTokens: stopTokens, stopAtNewline: tokenizer, recordLogits: false)
            generated += output.tokens.count
            predictions.append(summaryText(output, tokenizer: tokenizer))
            if let progress, !progress(i + 1, examples.count) { break }
        }
        let scores = RougeScorer(useStemmer: useStemmer).meanScores(
            targets: examples.prefix(predictions.count).map(\.summary), predictions: predictions)
        func percent(_ key: String) -> Double { (scores[key]?.fmeasure ?? 0) * 100 }
        return SummarizationResult(
            rouge1: percent("rouge1"), rouge2: percent("rouge2"), rougeL: percent("rougeL"),
            examples: predictions.count, predictions: predictions, generatedTokens: generated)
    }

    /// The text of a generation: without its stop token, special tokens skipped, cut at the first
    /// newline (a newline token may carry text before it), surrounding whitespace trimmed.
    public static func summaryText(_ output: Generator.Output, tokenizer: Tokenizer) -> String {
        var ids = output.tokens
        if output.stopReason == .stopToken { ids.removeLast() }
        let text = tokenizer.decode(ids, skipSpecialTokens: true)
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\n" { break }
            scalars.append(scalar)
        }
        return String(scalars).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
