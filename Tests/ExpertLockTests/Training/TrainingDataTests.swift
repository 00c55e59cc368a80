import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// Examples, batches, the schedule and the sampler.
struct TrainingDataTests {
    @Test func languageModelingChunksScoreEveryTokenOnce() {
        let ids = Array(0..<23)
        let chunks = TrainingData.languageModeling(ids: ids, sequenceLength: 8)
        #expect(chunks.map(\.ids.first!) == [0, 7, 14, 21])
        #expect(chunks.allSatisfy { $0.firstTarget == 1 && $0.ids.count <= 8 })
        #expect(chunks.flatMap { $0.ids.dropFirst() } == Array(1..<23))
        #expect(TrainingData.languageModeling(ids: [5], sequenceLength: 8).isEmpty)
    }

    @Test func classificationTargetsAreTheLabelWords() throws {
        let encoder = CharacterEncoder(texts: ["abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ:?\n"])
        let task = ClassificationTask.sst2
        let examples = [
            ClassificationExample(id: 0, text: "good film", label: 1),
            ClassificationExample(id: 1, text: "no label"),
            ClassificationExample(id: 2, text: String(repeating: "x", count: 500), label: 0),
        ]
        let prompt = ClassificationPrompt.standard(for: task)
        let built = TrainingData.classification(examples, prompt: prompt, encoder: encoder, sequenceLength: 100)
        #expect(built.count == 2)
        let answer = encoder.encode(" positive", addSpecialTokens: false)
        #expect(Array(built[0].ids[built[0].firstTarget...]) == answer)
        #expect(built[0].ids.first == 0)  // BOS
        // Too long: the prompt loses its left end, the answer stays whole.
        #expect(built[1].ids.count == 100)
        #expect(Array(built[1].ids[built[1].firstTarget...]) == encoder.encode(" negative", addSpecialTokens: false))
        #expect(prompt.render(examples[0]) == "good film\nQuestion: Is this sentence positive or negative?\nAnswer:")
        let custom = ClassificationPrompt.standard(for: ClassificationTask(name: .custom, labelNames: ["a", "b"]))
        #expect(custom.render(ClassificationExample(id: 0, text: "t", label: 0)) == "t\nAnswer:")
        #expect(custom.render(ClassificationExample(id: 0, text: "t", textPair: "u", label: 0)) == "t\nu\nAnswer:")
    }

    @Test func summarizationTeachesTheSummaryAndEOS() throws {
        let encoder = ByteTextEncoder()
        let built = TrainingData.summarization(
            [SummarizationExample(id: 0, document: "Long text.", summary: "Short.")], encoder: encoder,
            sequenceLength: 64)
        let example = try #require(built.first)
        #expect(encoder.decode(Array(example.ids[..<example.firstTarget])) == "Long text.\nSummary:")
        #expect(Array(example.ids[example.firstTarget...]) == Array(" Short.".utf8).map(Int.init) + [257])
        #expect(throws: TrainingError.self) {
            try TrainingData.examples(
                from: .text([TextDocument(text: "abc")]), task: .summarization, encoder: encoder, sequenceLength: 8,
                file: "f")
        }
    }

    @Test func batchTargetsSkipPromptsAndPadding() {
        let batch = TrainingBatch(
            [TrainingExample(ids: [5, 6, 7, 8], firstTarget: 2), TrainingExample(ids: [9, 10])], pad: 0)
        #expect(batch.tokens.ids == [5, 6, 7, 8, 9, 10, 0, 0])
        #expect(batch.tokens.lengths == [4, 2])
        #expect(batch.targets == [-100, 7, 8, -100, 10, -100, -100, -100])
        #expect(batch.targetCount == 3 && batch.tokenCount == 6)
    }

    @Test func scheduleWarmsUpThenDecaysToTheFloor() {
        let s = LearningRateSchedule(peak: 1, warmupSteps: 4, totalSteps: 14, minimumRatio: 0.1)
        #expect(s.learningRate(at: 0) == 0.25 && s.learningRate(at: 3) == 1)
        #expect(abs(s.learningRate(at: 4) - 1) < 1e-6)
        #expect(abs(s.learningRate(at: 9) - 0.55) < 1e-6)
        #expect(abs(s.learningRate(at: 14) - 0.1) < 1e-6)
        let lrs = (4...14).map(s.learningRate(at:))
        #expect(zip(lrs, lrs.dropFirst()).allSatisfy { $0 >= $1 })
    }

    @Test func samplerIsAPureFunctionOfSeedAndStep() {
        let a = TrainingSampler(count: 10, batchSize: 4, seed: 3)
        let b = TrainingSampler(count: 10, batchSize: 4, seed: 3)
        let steps = (0..<10).map { a.indices(step: $0) }
        #expect(steps.reversed() == (0..<10).reversed().map { b.indices(step: $0) })  // any order of asking
        // Each epoch visits every example once.
        let flat = steps.flatMap { $0 }
        for epoch in 0..<4 { #expect(Set(flat[(epoch * 10)..<(epoch * 10 + 10)]) == Set(0..<10)) }
        #expect(TrainingSampler(count: 10, batchSize: 4, seed: 4).indices(step: 0) != steps[0])
    }

    @Test func parametersAreValidated() {
        var p = Training.Parameters()
        p.sequenceLength = 1
        #expect(throws: TrainingError.self) { try p.validate() }
        p = Training.Parameters()
        p.learningRate = .nan
        #expect(throws: TrainingError.self) { try p.validate() }
        #expect(throws: Never.self) { try Training.Parameters().validate() }
    }

    @Test func progressDescribesTheStep() {
        let p = Training.Progress(
            step: 10, steps: 200, loss: 3.21, languageModelLoss: 3.2, auxiliaryLoss: 2.01, zLoss: nil,
            learningRate: 1e-3,
            gradientNorm: 1.5, tokens: 5000, tokensPerSecond: 1234.4, elapsed: 4, remaining: 3725)
        #expect(
            p.description
                == "step 10/200  loss 3.2100 (lm 3.2000, aux 2.010)  lr 1.00e-03  |g| 1.500  1234 tok/s  ETA 1:02:05")
    }
}
