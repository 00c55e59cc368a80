import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// Attribution layer by layer equals attribution batch by batch: the same routing decisions go into
/// exact fixed-point sums.
struct AttributionStreamingTests {
    @Test(arguments: Fixtures.modelCases)
    func streamingEqualsTheBatchByBatchRun(_ name: String) throws {
        let model = try ModelLoader.load(directory: Fixtures.model(name))
        let streamed = try ModelLoader.load(directory: Fixtures.model(name), residency: .read)
        let batches = AttributionTests.batches(vocab: model.config.vocabSize, count: 3, seed: 11)
        let whole = try Attribution.run(model: model, modelPath: name, batches: batches, criterion: .reap)
        var layers = 0
        let streaming = try Attribution.runStreaming(
            model: streamed, modelPath: name, batches: batches, criterion: .reap, progress: { _ in layers += 1 })
        #expect(streaming == whole)
        #expect(layers == model.layers.count + 1)  // embeddings and each layer; no output head
    }

    /// A randomly initialised model, in memory and as a BF16 checkpoint read layer by layer, with the
    /// hidden states spilled to a file.
    @Test func randomModelWithSpilledHiddenStates() throws {
        let config = try #require(ModelConfig.preset("tiny", vocabSize: 61))
        let model = try MoEModel.randomlyInitialized(config: config, seed: 9, initializerRange: 0.3)
        let batches = AttributionTests.batches(vocab: 61, count: 4, seed: 2)
        let spill = LayerStreaming.Parameters(activationBudgetBytes: 0)
        let inMemory = try Attribution.run(model: model, modelPath: "m", batches: batches)
        #expect(
            try Attribution.runStreaming(model: model, modelPath: "m", batches: batches, parameters: spill) == inMemory)
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir, dtype: .bf16)
        let mapped = try ModelLoader.load(directory: dir)
        let read = try ModelLoader.load(directory: dir, residency: .read)
        let reference = try Attribution.run(model: mapped, modelPath: "m", batches: batches)
        #expect(
            try Attribution.runStreaming(model: read, modelPath: "m", batches: batches, parameters: spill) == reference)
    }
}
