import TensorCore

/// Text generation from a prompt's token ids (inference only).
///
/// Greedy decoding as transformers' `generate(do_sample=False)`: at each step the next token is
/// the argmax of the last position's logits (the first index among equal maxima, as `torch.argmax`).
/// With the KV cache the prompt is run once (prefill) and each step runs one token; without it
/// every step recomputes the whole sequence, which is the reference the cache is tested against.
public enum Generator {
    /// Why generation ended.
    public enum StopReason: String, Sendable, Codable {
        /// The last token is one of the stop tokens (EOS).
        case stopToken
        /// The last token's text contains a newline.
        case newline
        /// `maxNewTokens` tokens were generated.
        case maxTokens
    }

    public struct Output: Sendable {
        /// Generated ids, including the stop token or newline token that ended generation.
        public var tokens: [Int]
        /// The next-token logits [V] that chose each generated token (empty when not recorded).
        public var logits: [[Float]]
        public var stopReason: StopReason

        public init(tokens: [Int], logits: [[Float]], stopReason: StopReason) {
            self.tokens = tokens
            self.logits = logits
            self.stopReason = stopReason
        }
    }

    /// Greedy decoding of at most `maxNewTokens` tokens after `prompt`.
    ///
    /// - `stopTokens`: ids that end generation (typically EOS); the stop token is kept in `tokens`.
    /// - `stopAtNewline`: when a tokenizer is given, generation also ends at the first token whose
    ///   decoded text contains "\n" (the token is kept; callers cut the text at the newline).
    /// - `useCache`: false recomputes the full sequence at every step (slow; for tests).
    /// - `recordLogits`: keep each step's logits row in the output.
    public static func greedy(
        model: MoEModel, prompt: [Int], maxNewTokens: Int, stopTokens: Set<Int> = [],
        stopAtNewline tokenizer: Tokenizer? = nil, useCache: Bool = true, recordLogits: Bool = true
    ) throws -> Output {
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        var output = Output(tokens: [], logits: [], stopReason: .maxTokens)
        guard maxNewTokens > 0 else { return output }
        let cache = useCache ? KVCache(model: model) : nil
        cache?.reserveCapacity(prompt.count + maxNewTokens)
        var logits = try model.forward(TokenBatch(prompt), cache: cache).logits.value  // [T, V]
        while true {
            let row = lastRow(logits)
            let next = argmax(row)
            output.tokens.append(next)
            if recordLogits { output.logits.append(row) }
            if stopTokens.contains(next) {
                output.stopReason = .stopToken
                break
            }
            if let tokenizer, tokenizer.decode([next]).unicodeScalars.contains("\n") {
                output.stopReason = .newline
                break
            }
            if output.tokens.count >= maxNewTokens { break }
            if let cache {
                logits = try model.forward(TokenBatch([next]), cache: cache).logits.value  // [1, V]
            } else {
                logits = try model.forward(TokenBatch(prompt + output.tokens)).logits.value  // [T + s, V]
            }
        }
        return output
    }

    /// The last row of logits [N, V].
    static func lastRow(_ logits: Tensor) -> [Float] {
        let v = logits.lastDim
        return Array(logits.data[(logits.rows - 1) * v..<logits.rows * v])
    }

    /// Index of the largest value; the first one among equals.
    public static func argmax(_ row: [Float]) -> Int {
        var best = 0
        for i in row.indices where row[i] > row[best] { best = i }
        return best
    }
}

/// Problems with a generation request.
public enum GenerationError: InputError, Equatable {
    case emptyPrompt
    case badGenerationFile(file: String, reason: String)

    public var description: String {
        switch self {
        case .emptyPrompt: "generation needs a prompt of at least one token"
        case let .badGenerationFile(file, reason): "\(file): \(reason)"
        }
    }
}
