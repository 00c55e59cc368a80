import ExpertLock
import Foundation
import MoEModels

/// The demo's data, all drawn from the built-in corpus: language-model documents, two
/// classification tasks (sentiment-like, entailment-like) and a summarization task, each with a
/// training part and a held-out part, plus the tokenizer trained on the training text.
public struct DemoData {
    public var trainDocuments: [String]
    public var validDocuments: [String]
    public var sentimentTask: ClassificationTask
    public var entailmentTask: ClassificationTask
    public var sentimentTrain: [ClassificationExample]
    public var sentimentDev: [ClassificationExample]
    public var entailmentTrain: [ClassificationExample]
    public var entailmentDev: [ClassificationExample]
    public var summariesTrain: [SummarizationExample]
    public var summariesDev: [SummarizationExample]

    public init(sizes: DemoSizes, seed: UInt64) {
        let corpus = BuiltinCorpus(seed: seed)
        trainDocuments = corpus.documents(count: sizes.trainDocuments).map(\.text)
        validDocuments = corpus.documents(count: sizes.validDocuments, split: .valid).map(\.text)
        sentimentTask = ClassificationTask(name: .custom, labelNames: BuiltinCorpus.sentimentLabels)
        entailmentTask = ClassificationTask(name: .custom, labelNames: BuiltinCorpus.entailmentLabels)
        func classification(_ examples: [CorpusClassificationExample]) -> [ClassificationExample] {
            examples.enumerated().map {
                ClassificationExample(id: $0, text: $1.text, textPair: $1.textPair, label: $1.label)
            }
        }
        sentimentTrain = classification(corpus.sentiment(count: sizes.classificationTrain))
        sentimentDev = classification(corpus.sentiment(count: sizes.classificationDev, split: .valid))
        entailmentTrain = classification(corpus.entailment(count: sizes.classificationTrain))
        entailmentDev = classification(corpus.entailment(count: sizes.classificationDev, split: .valid))
        func summaries(_ examples: [CorpusSummaryExample]) -> [SummarizationExample] {
            examples.enumerated().map { SummarizationExample(id: $0, document: $1.document, summary: $1.summary) }
        }
        summariesTrain = summaries(corpus.summaries(count: sizes.summariesTrain))
        summariesDev = summaries(corpus.summaries(count: sizes.summariesDev, split: .valid))
    }

    /// Every training text, for the tokenizer.
    public var tokenizerTexts: [String] {
        trainDocuments + sentimentTrain.map { $0.text + " " + ($0.textPair ?? "") }
            + entailmentTrain.map { $0.text + " " + ($0.textPair ?? "") }
            + summariesTrain.map { $0.document + " " + $0.summary }
            + BuiltinCorpus.sentimentLabels + BuiltinCorpus.entailmentLabels + ["Answer:", "Summary:"]
    }

    /// The training mixture: LM chunks, both classification tasks and summaries, tokenized.
    public func trainingExamples(tokenizer: Tokenizer, sequenceLength: Int) -> [TrainingExample] {
        TrainingData.languageModeling(documents: trainDocuments, encoder: tokenizer, sequenceLength: sequenceLength)
            + TrainingData.classification(
                sentimentTrain, prompt: .standard(for: sentimentTask), encoder: tokenizer,
                sequenceLength: sequenceLength)
            + TrainingData.classification(
                entailmentTrain, prompt: .standard(for: entailmentTask), encoder: tokenizer,
                sequenceLength: sequenceLength)
            + TrainingData.summarization(summariesTrain, encoder: tokenizer, sequenceLength: sequenceLength)
    }
}

/// How big the demo is: `quick` is the CI smoke test (≤ 3 minutes), `full` the README's run (≤ 15).
public struct DemoSizes: Sendable, Codable, Equatable {
    public var trainDocuments: Int
    public var validDocuments: Int
    public var classificationTrain: Int
    public var classificationDev: Int
    public var summariesTrain: Int
    public var summariesDev: Int
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var intermediateSize: Int
    public var trainingSteps: Int
    public var batchSize: Int
    public var sequenceLength: Int
    /// Held-out LM tokens used by each perplexity evaluation.
    public var evalTokens: Int
    public var realignBudget: Int
    public var realignBatch: Int
    public var realignSteps: Int
    public var seeds: Int

    public static let full = DemoSizes(
        trainDocuments: 6000, validDocuments: 200, classificationTrain: 1500, classificationDev: 200,
        summariesTrain: 800,
        summariesDev: 40, vocabSize: 1500, hiddenSize: 64, layers: 2, intermediateSize: 128, trainingSteps: 700,
        batchSize: 16, sequenceLength: 96, evalTokens: 8000, realignBudget: 96, realignBatch: 16, realignSteps: 10,
        seeds: 3)

    public static let quick = DemoSizes(
        trainDocuments: 1200, validDocuments: 60, classificationTrain: 400, classificationDev: 60, summariesTrain: 200,
        summariesDev: 12, vocabSize: 1000, hiddenSize: 48, layers: 2, intermediateSize: 96, trainingSteps: 150,
        batchSize: 12, sequenceLength: 80, evalTokens: 2500, realignBudget: 32, realignBatch: 8, realignSteps: 4,
        seeds: 2)
}
