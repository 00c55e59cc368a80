import MoEModels

/// One training sequence: token ids and where its targets begin. Every task reduces to a masked
/// language-modelling loss over target tokens: LM chunks predict every token after the first,
/// classification the label word tokens after the prompt, summarization the summary tokens.
/// An encoder-decoder example also carries the encoder's input (`source`); `ids` are then the decoder's
/// start token followed by the target, so the decoder predicts the target (T5's shifted labels).
public struct TrainingExample: Sendable, Codable, Equatable {
    public var ids: [Int]
    /// Index of the first target token: tokens `firstTarget..<ids.count` are predicted, each from the
    /// tokens before it (1 for language modelling; the prompt length for prompt + answer).
    public var firstTarget: Int
    /// The encoder's input ids of an encoder-decoder example (nil: decoder-only).
    public var source: [Int]?

    public init(ids: [Int], firstTarget: Int = 1) {
        precondition(firstTarget >= 1, "TrainingExample: the first token has nothing to be predicted from")
        self.ids = ids
        self.firstTarget = firstTarget
    }

    /// An encoder-decoder example: `source` to the encoder, the decoder predicting `target` after `decoderStart`.
    public init(source: [Int], target: [Int], decoderStart: Int) {
        self.init(ids: [decoderStart] + target, firstTarget: 1)
        self.source = source
    }

    /// Number of tokens the loss scores.
    public var targetCount: Int { max(0, ids.count - firstTarget) }

    /// Prompt + answer truncated to `maxLength` tokens by dropping prompt tokens from the left (the
    /// answer is what is learned); nil when the answer alone does not fit or is empty.
    public static func promptAndAnswer(prompt: [Int], answer: [Int], maxLength: Int) -> TrainingExample? {
        guard !answer.isEmpty, answer.count < maxLength, !prompt.isEmpty else { return nil }
        let kept = prompt.suffix(maxLength - answer.count)
        return TrainingExample(ids: Array(kept) + answer, firstTarget: kept.count)
    }
}

/// Examples padded into one model batch with next-token targets.
public struct TrainingBatch {
    public var tokens: TokenBatch
    /// Per row b*T + t: the id of token t + 1 when it is a target, else `ignoreIndex`.
    public var targets: [Int]
    /// Targets scored (the cross-entropy denominator).
    public var targetCount: Int
    /// Real (non-padding) tokens.
    public var tokenCount: Int

    public static let ignoreIndex = -100

    /// Right-pads to the longest example with `pad`. Shapes: ids [B*T], targets [B*T].
    public init(_ examples: [TrainingExample], pad: Int) {
        tokens = TokenBatch(padding: examples.map(\.ids), pad: pad)
        let t = tokens.seq
        var targets = [Int](repeating: Self.ignoreIndex, count: examples.count * t)
        var count = 0
        for (b, example) in examples.enumerated() {
            for position in example.ids.indices where position >= example.firstTarget {
                targets[b * t + position - 1] = example.ids[position]
                count += 1
            }
        }
        self.targets = targets
        targetCount = count
        tokenCount = examples.reduce(0) { $0 + $1.ids.count }
    }
}
