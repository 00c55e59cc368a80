import Foundation
import MoEModels
import TensorCore

/// What classification through the language model gives for a set of examples.
public struct ClassificationResult: Sendable, Codable {
    /// Fraction of labelled examples whose prediction equals the label (0 when none is labelled).
    public var accuracy: Double
    /// Examples evaluated.
    public var examples: Int
    /// Predicted label index per example.
    public var predictions: [Int]
    /// Softmax over each example's class scores (uncertainty for active learning).
    public var probabilities: [[Double]]
    /// Σ log p(verbalizer tokens | prompt) per example and class, in nats.
    public var scores: [[Double]]
    /// Labelled examples among the evaluated ones (the accuracy's denominator).
    public var labeled: Int
    /// Real (non-padding) tokens run through the model, for throughput.
    public var tokens: Int

    public init(
        accuracy: Double, examples: Int, predictions: [Int], probabilities: [[Double]], scores: [[Double]],
        labeled: Int, tokens: Int
    ) {
        self.accuracy = accuracy
        self.examples = examples
        self.predictions = predictions
        self.probabilities = probabilities
        self.scores = scores
        self.labeled = labeled
        self.tokens = tokens
    }
}

/// Classification through the language model, lm-evaluation-harness style (multiple choice by
/// log-likelihood): each label's score is the log-likelihood of its verbalizer after the prompt;
/// the prediction is the best-scoring label. Scores are not length-normalised (the harness's `acc`).
public enum Classification {
    /// Class score = Σ log p(verbalizer tokens | prompt); prediction = argmax; probabilities =
    /// softmax over the scores. Examples without labels still get predictions and probabilities
    /// (accuracy is over the labelled ones). All classes of `batchSize` examples go through the
    /// model together as one right-padded batch. `progress` receives (examples done, total) and may
    /// return false to stop early: the result then covers the examples done (a prefix).
    public static func evaluate(
        model: MoEModel, tokenizer: Tokenizer, examples: [ClassificationExample], task: ClassificationTask,
        template: PromptTemplate? = nil, maxLength: Int = 512, batchSize: Int = 8, observer: RoutingObserver? = nil,
        progress: ((Int, Int) -> Bool)? = nil
    ) throws -> ClassificationResult {
        let template = try validatedTemplate(template, task: task, maxLength: maxLength, batchSize: batchSize)
        let classes = template.verbalizers.count
        var scores: [[Double]] = []
        var tokens = 0
        var start = 0
        while start < examples.count {
            let chunk = examples[start..<min(start + batchSize, examples.count)]
            let sequences = classSequences(chunk, template: template, tokenizer: tokenizer, maxLength: maxLength)
            // Single-token verbalizers: one forward per prompt (an observer must see every class sequence).
            let fast =
                observer == nil
                ? try nextTokenLogLikelihoods(model: model, sequences: sequences, classes: classes) : nil
            let sums = try fast ?? logLikelihoods(model: model, sequences: sequences, observer: observer)
            tokens += sequences.reduce(0) { $0 + $1.ids.count }
            for e in 0..<chunk.count { scores.append(Array(sums[(e * classes)..<((e + 1) * classes)])) }
            start += chunk.count
            if let progress, !progress(start, examples.count) { break }
        }
        return try result(scores: scores, examples: examples, tokens: tokens)
    }

    /// Accuracy, predictions and probabilities from the class scores of the first `scores.count` examples.
    static func result(scores: [[Double]], examples: [ClassificationExample], tokens: Int) throws
        -> ClassificationResult
    {
        // A NaN score would lose every comparison and make argmax pick class 0: a plausible accuracy.
        guard scores.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
            throw TaskError.nonFinite(what: "class log-likelihoods")
        }
        let predictions = scores.map(argmax)
        var labeled = 0
        var correct = 0
        for (example, prediction) in zip(examples, predictions) {
            guard let label = example.label else { continue }
            labeled += 1
            if label == prediction { correct += 1 }
        }
        return ClassificationResult(
            accuracy: labeled > 0 ? Double(correct) / Double(labeled) : 0, examples: scores.count,
            predictions: predictions, probabilities: scores.map(softmax), scores: scores, labeled: labeled,
            tokens: tokens)
    }

    /// One sequence per (example, class): the prompt followed by the class's verbalizer.
    static func classSequences(
        _ examples: ArraySlice<ClassificationExample>, template: PromptTemplate, tokenizer: Tokenizer, maxLength: Int
    ) -> [(ids: [Int], targetStart: Int)] {
        examples.flatMap { example in
            let prompt = TaskSequences.EncodedPrompt(template.prompt(for: example), tokenizer: tokenizer)
            return template.verbalizers.map { verbalizer in
                prompt.sequence(target: prompt.targetIds(verbalizer, tokenizer: tokenizer), maxLength: maxLength)
            }
        }
    }

    /// The template to use (the task's default when nil), after checking it and the batch geometry
    /// the way `evaluate` and `evaluateStreaming` both need.
    static func validatedTemplate(
        _ template: PromptTemplate?, task: ClassificationTask, maxLength: Int, batchSize: Int
    ) throws -> PromptTemplate {
        if template == nil && task.name == .custom && task.labelNames.count == 1 {
            throw TaskError.singleLabel(name: task.labelNames[0])  // the default template's message would not say why
        }
        let template = template ?? PromptTemplate.defaults(for: task)
        try template.validate(for: task)
        try TaskError.require(maxLength >= 2, "--context", maxLength, "classification needs at least 2 tokens")
        try TaskError.require(batchSize >= 1, "--batch", batchSize, "must be at least 1")
        return template
    }

    /// Σ log p(ids[t] | ids[..<t]) over t ≥ targetStart for each sequence, from one padded forward.
    public static func logLikelihoods(
        model: MoEModel, sequences: [(ids: [Int], targetStart: Int)], observer: RoutingObserver? = nil
    ) throws -> [Double] {
        guard !sequences.isEmpty else { return [] }
        let batch = TokenBatch(padding: sequences.map(\.ids), pad: 0)
        let hidden = try model.finalHiddenStates(batch, observer: observer)  // [B*T, C]
        return try sums(model: model, hidden: hidden, batch: batch, sequences: sequences)
    }

    /// `logLikelihoods` of class sequences (`classes` consecutive ones per example) from one forward
    /// per prompt, when every class of every example continues the same prompt with one token: causal
    /// attention makes the prompt's last position the same in each class sequence, so its next-token
    /// distribution scores every class. nil when the sequences are not of that shape. Halves (for two
    /// classes) the cost of scoring, which dominates active learning over a whole pool.
    static func nextTokenLogLikelihoods(
        model: MoEModel, sequences: [(ids: [Int], targetStart: Int)], classes: Int
    ) throws -> [Double]? {
        guard classes >= 1, !sequences.isEmpty, sequences.count % classes == 0 else { return nil }
        var prompts: [[Int]] = []
        var targets: [Int] = []
        for start in stride(from: 0, to: sequences.count, by: classes) {
            let group = sequences[start..<(start + classes)]
            let first = group[start]
            guard first.targetStart >= 1,
                group.allSatisfy({
                    $0.ids.count == $0.targetStart + 1 && $0.targetStart == first.targetStart
                        && $0.ids[..<$0.targetStart] == first.ids[..<first.targetStart]
                })
            else { return nil }
            prompts.append(Array(first.ids[..<first.targetStart]))
            targets += group.map { $0.ids[$0.targetStart] }
        }
        let batch = TokenBatch(padding: prompts, pad: 0)
        let hidden = try model.finalHiddenStates(batch)  // [B*T, C]
        var rows: [Int] = []
        for (b, prompt) in prompts.enumerated() {
            rows += [Int](repeating: b * batch.seq + prompt.count - 1, count: classes)
        }
        return try model.headScores(rows: rows, of: hidden, targets: targets).logProbabilities
    }

    /// The per-sequence sums of `logLikelihoods` from the final hidden states of its padded batch
    /// (the output head runs on the target rows only).
    static func sums(
        model: MoEModel, hidden: Tensor, batch: TokenBatch, sequences: [(ids: [Int], targetStart: Int)]
    ) throws -> [Double] {
        var rows: [Int] = []
        var targets: [Int] = []
        var owner: [Int] = []
        for (b, sequence) in sequences.enumerated() {
            for p in max(sequence.targetStart, 1)..<sequence.ids.count {
                rows.append(b * batch.seq + p - 1)  // position p - 1 predicts token p
                targets.append(sequence.ids[p])
                owner.append(b)
            }
        }
        let logProbabilities = try model.headScores(rows: rows, of: hidden, targets: targets).logProbabilities
        var sums = [Double](repeating: 0, count: sequences.count)
        for (b, lp) in zip(owner, logProbabilities) { sums[b] += lp }
        return sums
    }

    /// Index of the largest score; the first among equals.
    static func argmax(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }

    /// softmax in Double, shifted by the maximum.
    public static func softmax(_ scores: [Double]) -> [Double] {
        guard let m = scores.max() else { return [] }
        let e = scores.map { exp($0 - m) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }
}
