import Foundation
import TensorCore
import Testing

@testable import ExpertLock
@testable import MoEModels

/// Text-to-text scoring of an encoder-decoder against transformers 5.25, on the trained tiny switch model of
/// scripts/fixtures/make_switch_audit_fixture.py (T5's `sst2 sentence: …` prompt, label words scored with `</s>`).
struct TextToTextTests {
    static let folder = Fixtures.packageRoot.appendingPathComponent(
        "Tests/MoEModelsTests/Fixtures/switch/switch_sst2_trained")

    struct Expected: Decodable {
        let label_log_likelihoods: [[Double]]
        let accuracy: Double
    }

    static func load() throws -> (SwitchTransformersModel, Tokenizer, [ClassificationExample], Expected) {
        let model = try SwitchTransformersModel.load(directory: folder)
        let tokenizer = try Tokenizer.load(directory: folder)
        let (dataset, _) = try DatasetLoader.load(folder.appendingPathComponent("dev.tsv"))
        guard case .classification(_, let examples) = dataset else { throw CocoaError(.fileReadCorruptFile) }
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        return (model, tokenizer, examples, expected)
    }

    @Test func labelLogLikelihoodsAndAccuracyMatchTransformers() throws {
        let (model, tokenizer, examples, expected) = try Self.load()
        #expect(examples.count == expected.label_log_likelihoods.count)
        let labels = ClassificationTask.sst2.labelNames.map { tokenizer.encode($0) }
        for (example, theirs) in zip(examples, expected.label_log_likelihoods) {
            let source = tokenizer.encode(TextToText.prompt(.sst2, example))
            let mine = try TextToText.logLikelihoods(model, source: source, targets: labels)
            for (a, b) in zip(mine, theirs) { #expect(abs(a - b) < 1e-4, "\(example.text): \(mine) vs \(theirs)") }
        }
        let accuracy = try TextToText.accuracy(model, tokenizer: tokenizer, task: .sst2, examples: examples).accuracy
        #expect(accuracy == expected.accuracy)
    }

    @Test func promptsAreT5s() {
        let pair = ClassificationExample(id: 0, text: "A", textPair: "B", label: 0)
        #expect(TextToText.prompt(.sst2, pair) == "sst2 sentence: A")
        #expect(TextToText.prompt(.qnli, pair) == "qnli question: A sentence: B")
        #expect(TextToText.prompt(.mnli, pair) == "mnli hypothesis: B premise: A")
    }

    /// Attribution sees every sparse layer of both stacks, named by their index over the two stacks.
    @Test func attributionCoversEncoderAndDecoderSparseLayers() throws {
        let (model, tokenizer, examples, _) = try Self.load()
        let pairs = examples.prefix(4).map {
            TextToText.Pair(
                source: tokenizer.encode(TextToText.prompt(.sst2, $0)), target: tokenizer.encode("positive"))
        }
        let attribution = try Attribution.run(switchModel: model, modelPath: "m", pairs: Array(pairs))
        #expect(attribution.signature.sparseLayers == [1, model.config.numLayers + 1])
        #expect(model.config.sparseLayers.map(\.description) == ["encoder.1", "decoder.1"])
        let encoderTokens = pairs.map(\.source.count).reduce(0, +)
        let decoderTokens = pairs.map(\.target.count).reduce(0, +)
        #expect(attribution.statistics[0].map(\.frequency).reduce(0, +) == encoderTokens)
        #expect(attribution.statistics[1].map(\.frequency).reduce(0, +) == decoderTokens)
    }
}
