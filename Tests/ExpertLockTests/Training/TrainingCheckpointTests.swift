import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// Checkpoints: resuming after an interruption gives bit-identical weights; a non-finite loss keeps
/// the last good checkpoint; the output folder rules.
struct TrainingCheckpointTests {
    static let vocab = 23

    static func parameters(trainable: TrainableSubset = .all) -> Training.Parameters {
        var p = Training.Parameters()
        p.steps = 12
        p.batchSize = 3
        p.sequenceLength = 12
        p.learningRate = 5e-3
        p.warmupSteps = 3
        p.zLossCoefficient = 1e-3
        p.seed = 9
        p.saveEvery = 4
        p.keepCheckpoints = 3
        p.trainable = trainable
        p.lora.rank = 2
        return p
    }

    static let examples = TrainingFixtures.tokenExamples(vocab: vocab, count: 10, length: 12, seed: 2)

    /// Trains a fresh micro model to the end in `directory` and returns its weights.
    static func uninterrupted(_ parameters: Training.Parameters, _ directory: URL) throws -> [String: Tensor] {
        let model = try TrainingFixtures.microModel(vocab: vocab)
        try Training.train(
            model: model, examples: examples, parameters: parameters, output: .init(directory: directory))
        return try TrainingFixtures.snapshot(model)
    }

    @Test(arguments: [TrainableSubset.all, .lora])
    func resumeAfterInterruptionIsBitIdentical(_ subset: TrainableSubset) throws {
        let root = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let parameters = Self.parameters(trainable: subset)
        let expected = try Self.uninterrupted(parameters, root.appendingPathComponent("straight"))

        // Interrupted after step 6: the stop writes checkpoint-6; drop it (and leave a torn
        // partial checkpoint) to look like a kill between checkpoints, so the resume starts at 4.
        let dir = root.appendingPathComponent("interrupted")
        let first = try Training.train(
            model: try TrainingFixtures.microModel(vocab: Self.vocab), examples: Self.examples, parameters: parameters,
            output: .init(directory: dir)
        ) { $0.step == 6 ? .stop : .more }
        #expect(first.stoppedEarly && first.steps == 6)
        #expect(TrainingCheckpoint.checkpoints(in: dir).map(\.step) == [4, 6])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("checkpoint-6"))
        let torn = dir.appendingPathComponent("checkpoint-8.partial-1234")
        try FileManager.default.createDirectory(at: torn, withIntermediateDirectories: true)
        try Data("half".utf8).write(to: torn.appendingPathComponent("model.safetensors"))

        // Other init: all comes from the checkpoint.
        let model = try TrainingFixtures.microModel(vocab: Self.vocab, seed: 77)
        let resumed = try Training.train(
            model: model, examples: Self.examples, parameters: parameters, output: .init(directory: dir), resume: true)
        #expect(resumed.startStep == 4 && resumed.steps == 12)
        #expect(!FileManager.default.fileExists(atPath: torn.path))
        let actual = try TrainingFixtures.snapshot(model)
        #expect(actual.keys.sorted() == expected.keys.sorted())
        for (name, tensor) in expected { #expect(actual[name] == tensor, "\(name) differs after resume") }

        // The final folders of both runs hold the same model.
        let a = try Data(contentsOf: root.appendingPathComponent("straight/model.safetensors"))
        let b = try Data(contentsOf: dir.appendingPathComponent("model.safetensors"))
        #expect(a == b)
        let state = try TrainingCheckpoint.readState(dir)
        #expect(state.globalStep == 12 && state.logHistory.map(\.step) == Array(1...12))
    }

    @Test func nonFiniteLossStopsAndKeepsTheLastCheckpoint() throws {
        let dir = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try TrainingFixtures.microModel(vocab: Self.vocab)
        var parameters = Self.parameters()
        parameters.saveEvery = 2
        let error = #expect(throws: TrainingError.self) {
            try Training.train(
                model: model, examples: Self.examples, parameters: parameters, output: .init(directory: dir)
            ) {
                progress in
                if progress.step == 5 {  // poison a weight: the next loss is NaN
                    model.finalNorm.residentVariable!.value.data[0] = .nan
                }
                return .more
            }
        }
        let checkpoint = dir.appendingPathComponent("checkpoint-4").path
        #expect(error == .nonFinite(step: 6, what: "the loss", lastCheckpoint: checkpoint))
        #expect(error?.description.contains("checkpoint-4") == true)
        #expect(TrainingCheckpoint.checkpoints(in: dir).map(\.step) == [2, 4])
        #expect(try TrainingCheckpoint.readState(URL(fileURLWithPath: checkpoint)).globalStep == 4)
    }

    @Test func outputFolderRules() throws {
        let dir = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var parameters = Self.parameters()
        parameters.steps = 4
        let output = Training.Output(directory: dir)
        #expect(throws: TrainingError.nothingToResume(path: dir.path)) {
            try Training.train(
                model: try TrainingFixtures.microModel(vocab: Self.vocab), examples: Self.examples,
                parameters: parameters,
                output: output, resume: true)
        }
        try Training.train(
            model: try TrainingFixtures.microModel(vocab: Self.vocab), examples: Self.examples, parameters: parameters,
            output: output)
        #expect(throws: TrainingError.outputExists(path: dir.path)) {
            try Training.train(
                model: try TrainingFixtures.microModel(vocab: Self.vocab), examples: Self.examples,
                parameters: parameters,
                output: output)
        }
        // Resuming a finished run changes nothing; other settings or data are refused.
        let model = try TrainingFixtures.microModel(vocab: Self.vocab)
        let again = try Training.train(
            model: model, examples: Self.examples, parameters: parameters, output: output, resume: true)
        #expect(again.startStep == 4 && again.steps == 4 && again.finalLoss == nil)
        var other = parameters
        other.learningRate = 1e-2
        #expect(throws: TrainingError.self) {
            try Training.train(model: model, examples: Self.examples, parameters: other, output: output, resume: true)
        }
        #expect(throws: TrainingError.self) {
            try Training.train(
                model: model, examples: Array(Self.examples.dropFirst()), parameters: parameters, output: output,
                resume: true)
        }
        // The final folder loads back as the trained model.
        let loaded = try ModelLoader.load(directory: dir)
        let ids = TokenBatch([1, 2, 3, 4])
        #expect(try loaded.forward(ids).logits.value == model.forward(ids).logits.value)
    }
}
