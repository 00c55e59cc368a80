import Foundation
import MoEModels
import TensorCore

/// Tasks put to an encoder-decoder in T5's text-to-text form: the input text goes to the encoder, the answer is
/// what the decoder should write.
///
/// - classification: T5's own GLUE prompts (`sst2 sentence: …`, `qnli question: … sentence: …`,
///   `mnli hypothesis: … premise: …`); each label word (`positive`/`negative`, `entailment`/`not_entailment`,
///   `entailment`/`neutral`/`contradiction`) is scored by the decoder's log-likelihood of its tokens and `</s>`,
///   the highest wins (lm-evaluation-harness style, as the decoder-only tasks);
/// - language modelling: the decoder's mean negative log-likelihood per target token ("target loss"), its
///   exponential reported as the perplexity of the target text given the input (not span corruption);
/// - summarization: `summarize: ` + document, greedy decoding with the cross-attention cache, ROUGE.
public enum TextToText {
    /// The encoder input of a classification example, as T5 was trained on GLUE.
    public static func prompt(_ task: ClassificationTask, _ example: ClassificationExample) -> String {
        switch task.name {
        case .sst2: return "sst2 sentence: \(example.text)"
        case .qnli: return "qnli question: \(example.text) sentence: \(example.textPair ?? "")"
        case .mnli: return "mnli hypothesis: \(example.textPair ?? "") premise: \(example.text)"
        case .custom:
            return example.textPair.map { "\(example.text) \($0)" } ?? example.text
        }
    }

    /// A source and the target the decoder is scored on (ids; the target ends with `</s>` when the tokenizer adds it).
    public struct Pair: Sendable, Equatable {
        public var source: [Int]
        public var target: [Int]
        public init(source: [Int], target: [Int]) {
            self.source = source
            self.target = target
        }
    }

    /// Teacher forcing: decoder inputs = start token + target without its last token.
    static func decoderInputs(_ model: SwitchTransformersModel, _ target: [Int]) -> [Int] {
        [model.config.decoderStartTokenId ?? model.config.padTokenId ?? 0] + target.dropLast()
    }

    /// Σ log p(target | source) over the target's tokens, encoder run once for all targets.
    public static func logLikelihoods(
        _ model: SwitchTransformersModel, source: [Int], targets: [[Int]], observer: RoutingObserver? = nil
    ) throws -> [Double] {
        let memory = try model.encode(source, observer: observer)
        return try logLikelihoods(model, memory: memory, targets: targets, observer: observer)
    }

    /// The same given the encoder's output `memory` [S, C].
    public static func logLikelihoods(
        _ model: SwitchTransformersModel, memory: Variable, targets: [[Int]], observer: RoutingObserver? = nil
    ) throws -> [Double] {
        try targets.map { target in
            let logits = try model.decoderLogits(decoderInputs(model, target), memory: memory, observer: observer)
            return TokenLogLikelihood.logProbabilities(logits, rows: Array(target.indices), targets: target)
                .reduce(0, +)
        }
    }

    /// Accuracy over labeled examples, and each example's outcome (1 correct, 0 not).
    public static func accuracy(
        _ model: SwitchTransformersModel, tokenizer: Tokenizer, task: ClassificationTask,
        examples: [ClassificationExample]
    ) throws -> (accuracy: Double, outcomes: [Double]) {
        let labels = task.labelNames.map { tokenizer.encode($0) }
        var outcomes: [Double] = []
        for example in examples {
            guard let label = example.label else { continue }
            let scores = try logLikelihoods(model, source: tokenizer.encode(prompt(task, example)), targets: labels)
            let best = scores.indices.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) } ?? 0
            outcomes.append(best == label ? 1 : 0)
        }
        guard !outcomes.isEmpty else { throw TaskError.noExamples }
        return (outcomes.reduce(0, +) / Double(outcomes.count), outcomes)
    }

    /// Mean negative log-likelihood per target token over the pairs (the "target loss").
    public static func targetLoss(_ model: SwitchTransformersModel, pairs: [Pair]) throws -> Double {
        var total = 0.0
        var tokens = 0
        for pair in pairs where !pair.target.isEmpty {
            total -= try logLikelihoods(model, source: pair.source, targets: [pair.target])[0]
            tokens += pair.target.count
        }
        guard tokens > 0 else { throw TaskError.noExamples }
        return total / Double(tokens)
    }

    /// Greedy summaries (`summarize: ` prompt) and their mean ROUGE F-measures ×100 against the references.
    public static func summarize(
        _ model: SwitchTransformersModel, tokenizer: Tokenizer, examples: [SummarizationExample], maxNewTokens: Int
    ) throws -> (rouge: [String: Double], predictions: [String]) {
        var predictions: [String] = []
        for example in examples {
            let ids = try Seq2SeqGenerator.greedy(
                model, encoderIds: tokenizer.encode("summarize: " + example.document), maxNewTokens: maxNewTokens)
            predictions.append(tokenizer.decode(Array(ids.dropFirst()), skipSpecialTokens: true))
        }
        let scores = RougeScorer(useStemmer: true).meanScores(
            targets: examples.map(\.summary), predictions: predictions)
        return (scores.mapValues { $0.fmeasure * 100 }, predictions)
    }

    /// Pairs for the target loss from plain documents: the first half of each document's tokens is the input,
    /// the second half (with `</s>`) the target.
    public static func halves(_ documents: [TextDocument], tokenizer: Tokenizer, maxTokens: Int) -> [Pair] {
        documents.compactMap { document in
            let ids = Array(tokenizer.encode(document.text, addSpecialTokens: false).prefix(maxTokens))
            guard ids.count >= 4 else { return nil }
            let eos = tokenizer.eosTokenId.map { [$0] } ?? []
            return Pair(source: Array(ids[..<(ids.count / 2)]) + eos, target: Array(ids[(ids.count / 2)...]) + eos)
        }
    }
}

/// Attribution over an encoder-decoder's sparse layers, both stacks.
extension ModelSignature {
    public init(switchModel model: SwitchTransformersModel) {
        modelType = SwitchTransformersConfig.modelType
        layers = model.config.numLayers + model.config.decoderLayerCount
        sparseLayers = model.sparseBlocks.map(\.layer)
        expertsPerLayer = model.sparseBlocks.map(\.expertCount)
        hiddenSize = model.config.dModel
        vocabSize = model.config.vocabSize
    }
}

extension Attribution {
    /// Routing statistics of every sparse layer (encoder and decoder) over source/target pairs; `tokens` counts
    /// encoder plus decoder tokens.
    public static func run(
        switchModel model: SwitchTransformersModel, modelPath: String, pairs: [TextToText.Pair],
        criterion: AttributionCriterion = .soft, progress: ((Int, Int, Int64) -> Bool)? = nil
    ) throws -> ExpertAttribution {
        let blocks = model.sparseBlocks
        let collector = AttributionCollector(layerIndices: blocks.map(\.layer), expertCounts: blocks.map(\.expertCount))
        var tokens: Int64 = 0
        for (i, pair) in pairs.enumerated() {
            _ = try TextToText.logLikelihoods(model, source: pair.source, targets: [pair.target], observer: collector)
            tokens += Int64(pair.source.count + pair.target.count)
            if let progress, !progress(i + 1, pairs.count, tokens) { break }
        }
        return ExpertAttribution(
            model: modelPath, signature: ModelSignature(switchModel: model), tokens: tokens,
            statistics: collector.statistics, criterion: criterion)
    }
}
