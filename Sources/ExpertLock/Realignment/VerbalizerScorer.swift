import Foundation
import MoEModels
import TensorCore

/// Classification through the language model with any `TextEncoder` (the byte encoder included):
/// the score of class c is Σ log p(verbalizer_c tokens | prompt), the prediction its argmax and the
/// class probabilities the softmax of the scores, as in the evaluation issue's `Classification`
/// (which needs a `Tokenizer`). Sequences are built as `TrainingData.classification` builds them
/// (prompt with special tokens, verbalizer without, prompt truncated from the left), so what the
/// loop fine-tunes is exactly what it scores.
struct VerbalizerScorer {
    let encoder: TextEncoder
    let prompt: ClassificationPrompt
    let maxLength: Int

    struct Scores: Sendable {
        /// Σ log p(verbalizer | prompt) per example and class.
        var scores: [[Double]]
        var probabilities: [[Double]]
        var predictions: [Int]
        /// Fraction of labeled examples predicted right (0 when none is labeled).
        var accuracy: Double
        var examples: Int
        /// Mean-pooled final hidden state over each prompt (when asked).
        var embeddings: [[Float]]?
    }

    /// The sequence of `example` followed by the verbalizer of `label` (nil when the verbalizer
    /// alone does not fit `maxLength`).
    func sequence(_ example: ClassificationExample, label: Int) -> TrainingExample? {
        TrainingExample.promptAndAnswer(
            prompt: encoder.encode(prompt.render(example), addSpecialTokens: true),
            answer: encoder.encode(prompt.verbalizers[label], addSpecialTokens: false), maxLength: maxLength)
    }

    /// Class scores of every example; `embeddings` adds the mean-pooled hidden state of each prompt
    /// (from the same forward pass: causal attention makes the prompt positions independent of the
    /// verbalizer that follows).
    func evaluate(model: MoEModel, examples: [ClassificationExample], batchSize: Int, embeddings: Bool = false)
        throws -> Scores
    {
        let classes = prompt.verbalizers.count
        if let fast = try nextTokenScores(
            model: model, examples: examples, batchSize: batchSize, embeddings: embeddings)
        {
            return fast
        }
        var sequences: [SequenceScorer.Sequence] = []
        for example in examples {
            for c in 0..<classes {
                guard let s = sequence(example, label: c) else {
                    throw RealignmentError.verbalizerTooLong(verbalizer: prompt.verbalizers[c], maxLength: maxLength)
                }
                sequences.append(
                    SequenceScorer.Sequence(ids: s.ids, firstTarget: s.firstTarget, pooledLength: s.firstTarget))
            }
        }
        let outputs = try SequenceScorer.score(
            model: model, sequences: sequences, batchSize: batchSize * classes, entropy: false, embeddings: embeddings)
        var scores: [[Double]] = []
        var vectors: [[Float]] = []
        for e in examples.indices {
            scores.append((0..<classes).map { outputs[e * classes + $0].logLikelihood })
            if embeddings { vectors.append(outputs[e * classes].embedding ?? []) }
        }
        return Self.scores(scores, examples: examples, embeddings: embeddings ? vectors : nil)
    }

    /// Single-token verbalizers: one forward per prompt, every class read off the prompt's last
    /// position (what the sequence per class would give: causal attention). nil otherwise.
    func nextTokenScores(model: MoEModel, examples: [ClassificationExample], batchSize: Int, embeddings: Bool)
        throws -> Scores?
    {
        let answers = prompt.verbalizers.map { encoder.encode($0, addSpecialTokens: false) }
        guard answers.allSatisfy({ $0.count == 1 }), maxLength >= 2 else { return nil }
        let tokens = answers.map { $0[0] }
        var prompts: [SequenceScorer.Sequence] = []
        for example in examples {
            let ids = Array(encoder.encode(prompt.render(example), addSpecialTokens: true).suffix(maxLength - 1))
            guard !ids.isEmpty else { return nil }
            prompts.append(SequenceScorer.Sequence(ids: ids, firstTarget: ids.count, pooledLength: ids.count))
        }
        let outputs = try SequenceScorer.scoreNextToken(
            model: model, prompts: prompts, candidates: tokens, batchSize: batchSize * tokens.count,
            embeddings: embeddings)
        return Self.scores(
            outputs.map(\.logLikelihoods), examples: examples,
            embeddings: embeddings ? outputs.map { $0.embedding ?? [] } : nil)
    }

    /// Predictions, probabilities and accuracy from the class scores.
    static func scores(_ scores: [[Double]], examples: [ClassificationExample], embeddings: [[Float]]?) -> Scores {
        let predictions = scores.map(QueryStrategy.argmax)
        let labeled = zip(examples, predictions).filter { $0.0.label != nil }
        let correct = labeled.filter { $0.0.label == $0.1 }.count
        return Scores(
            scores: scores, probabilities: scores.map(QueryStrategy.softmax), predictions: predictions,
            accuracy: labeled.isEmpty ? 0 : Double(correct) / Double(labeled.count), examples: examples.count,
            embeddings: embeddings)
    }
}
