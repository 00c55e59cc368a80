import MoEModels

/// The token sequences a task puts through the model: a prompt followed by a target (a label's
/// verbalizer, a reference summary). Scoring, attribution and fine-tuning all use the same ids; the
/// target tokens are `ids[targetStart...]`, each predicted from the position before it.
///
/// Split as lm-evaluation-harness does: prompt and target are encoded together (without special
/// tokens) and the target's ids are what follows the prompt's own ids, so a target starting with a
/// space tokenizes as it would in running text (SentencePiece's "▁negative", byte-level "Ġnegative").
/// When the joint ids do not start with the prompt's ids (a merge across the boundary) the target is
/// encoded alone. Special tokens the tokenizer puts before a text (BOS) lead the sequence.
public enum TaskSequences {
    /// Prompt ids (with BOS as the tokenizer adds it) + ids of the verbalizer of `label` (no special
    /// tokens); the prompt is truncated from the left to fit `maxLength`.
    public static func classification(
        _ example: ClassificationExample, label: Int, template: PromptTemplate, tokenizer: Tokenizer, maxLength: Int
    ) -> (ids: [Int], targetStart: Int) {
        precondition(template.verbalizers.indices.contains(label), "label \(label) has no verbalizer")
        return sequence(
            prompt: template.prompt(for: example), target: template.verbalizers[label], appendEOS: false,
            tokenizer: tokenizer, maxLength: maxLength)
    }

    /// Prompt ids + ids of " " + summary (+ EOS when the tokenizer has one); the prompt is truncated
    /// from the left to fit `maxLength` (and the summary from the right if it alone does not fit).
    public static func summarization(
        _ example: SummarizationExample, tokenizer: Tokenizer, maxLength: Int,
        template: String = SummarizationPrompt.defaultTemplate
    ) -> (ids: [Int], targetStart: Int) {
        sequence(
            prompt: SummarizationPrompt(template: template).prompt(for: example), target: " " + example.summary,
            appendEOS: true, tokenizer: tokenizer, maxLength: maxLength)
    }

    /// A prompt encoded once, for all the targets scored after it.
    public struct EncodedPrompt: Sendable {
        public let text: String
        /// Special tokens the tokenizer puts before a text (BOS), then the text's own ids.
        public let ids: [Int]
        /// The text's ids without special tokens.
        let plain: [Int]

        public init(_ text: String, tokenizer: Tokenizer) {
            self.text = text
            plain = tokenizer.encode(text, addSpecialTokens: false)
            ids =
                TaskSequences.specialPrefix(full: tokenizer.encode(text, addSpecialTokens: true), plain: plain) + plain
        }

        /// The ids of `target` as they follow this prompt (see `TaskSequences`).
        public func targetIds(_ target: String, tokenizer: Tokenizer) -> [Int] {
            let whole = tokenizer.encode(text + target, addSpecialTokens: false)
            if whole.count > plain.count, whole.starts(with: plain) { return Array(whole[plain.count...]) }
            return tokenizer.encode(target, addSpecialTokens: false)
        }

        /// Prompt + target, the prompt truncated from the left (keeping at least one token, from
        /// which the first target token is predicted) and the target from the right to fit.
        public func sequence(target: [Int], maxLength: Int) -> (ids: [Int], targetStart: Int) {
            precondition(maxLength >= 2, "maxLength \(maxLength): need room for a prompt token and a target token")
            let targetPart = Array(target.prefix(maxLength - 1))
            let promptPart = Array(ids.suffix(maxLength - targetPart.count))
            return (promptPart + targetPart, promptPart.count)
        }
    }

    static func sequence(
        prompt: String, target: String, appendEOS: Bool, tokenizer: Tokenizer, maxLength: Int
    ) -> (ids: [Int], targetStart: Int) {
        let encoded = EncodedPrompt(prompt, tokenizer: tokenizer)
        var targetPart = encoded.targetIds(target, tokenizer: tokenizer)
        if appendEOS, let eos = tokenizer.eosTokenId { targetPart.append(eos) }
        return encoded.sequence(target: targetPart, maxLength: maxLength)
    }

    /// The special tokens the post-processor puts before a text (BOS for Llama/Mistral-style
    /// tokenizers; nothing for Qwen's): the part of the encoding with special tokens (`full`) that
    /// comes before the plain encoding. Tokens appended after the text (EOS) are not part of a prompt.
    static func specialPrefix(full: [Int], plain: [Int]) -> [Int] {
        guard full.count > plain.count else { return [] }
        for offset in 0...(full.count - plain.count) where full[offset..<(offset + plain.count)].elementsEqual(plain) {
            return Array(full[..<offset])
        }
        return []
    }
}
