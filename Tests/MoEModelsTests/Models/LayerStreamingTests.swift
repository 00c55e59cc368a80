import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// Layer streaming gives every batch the logits and routing decisions of the batch-by-batch forward.
struct LayerStreamingTests {
    /// Every routing decision, in the order the observer heard it.
    final class RoutingLog: RoutingObserver {
        var routing: [(layer: Int, probabilities: Tensor, experts: [Int], weights: Tensor)] = []
        var outputs: [(layer: Int, expert: Int, rows: [Int], norms: [Float])] = []

        func observeRouting(layer: Int, probabilities: Tensor, experts: [Int], weights: Tensor, batch: TokenBatch) {
            routing.append((layer, probabilities, experts, weights))
        }

        func observeExpertOutput(
            layer: Int, expert: Int, rows: [Int], slots: [Int], outputNorms: [Float], batch: TokenBatch
        ) {
            outputs.append((layer, expert, rows, outputNorms))
        }
    }

    /// Three batches, one of them right-padded, of ids below `vocab`.
    static func batches(vocab: Int) -> [TokenBatch] {
        var rng = SplitMix64(seed: 5)
        func sequence(_ n: Int) -> [Int] { (0..<n).map { _ in Int(rng.next() % UInt64(vocab)) } }
        return [
            TokenBatch(padding: [sequence(9), sequence(5)]), TokenBatch(sequence(12)),
            TokenBatch(padding: [sequence(7), sequence(7)]),
        ]
    }

    /// max |a - b| / max(1, max |b|).
    static func relativeDifference(_ a: Tensor, _ b: Tensor) -> Float {
        guard a.shape == b.shape else { return .infinity }
        let scale = max(1, b.data.map(abs).max() ?? 0)
        return zip(a.data, b.data).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }

    /// Streams `batches` through `streamed` and the ordinary forward through `reference`, and checks
    /// logits (1e-5 relative) and routing (same experts, same probabilities) per batch and layer.
    static func expectSameResults(
        streamed: MoEModel, reference: MoEModel, batches: [TokenBatch],
        parameters: LayerStreaming.Parameters = LayerStreaming.Parameters()
    ) throws {
        let direct = RoutingLog()
        let expected = try batches.map { try reference.forward($0, observer: direct).logits.value }
        let streamedLog = RoutingLog()
        var logits = [Tensor?](repeating: nil, count: batches.count)
        var stages: [String] = []
        try LayerStreaming.forward(
            model: streamed, batches: batches, observer: streamedLog, parameters: parameters,
            finalHidden: { i, hidden in
                logits[i] = linear(Variable(hidden), try streamed.lmHead.variable()).value  // [N, V]
            }, progress: { stages.append($0.name) })
        #expect(stages.count == streamed.layers.count + 2)
        for (i, e) in expected.enumerated() {
            let got = try #require(logits[i])
            #expect(relativeDifference(got, e) <= 1e-5, "batch \(i)")
        }
        // Batch-by-batch: batch b's sparse layer l is call b * L + l; layer by layer it is l * B + b.
        let b = batches.count
        let sparse = direct.routing.count / b
        #expect(streamedLog.routing.count == direct.routing.count)
        for batch in 0..<b {
            for l in 0..<sparse {
                let d = direct.routing[batch * sparse + l], s = streamedLog.routing[l * b + batch]
                #expect(d.layer == s.layer && d.experts == s.experts)
                #expect(relativeDifference(s.probabilities, d.probabilities) <= 1e-5)
                #expect(relativeDifference(s.weights, d.weights) <= 1e-5)
            }
        }
        #expect(streamedLog.outputs.count == direct.outputs.count)
    }

    @Test(arguments: ModelParityTests.cases)
    func fixtureModelsGiveTheSameLogitsAndRouting(_ name: String) throws {
        let reference = try ModelLoader.load(directory: ModelParityTests.fixture(name))
        let streamed = try ModelLoader.load(directory: ModelParityTests.fixture(name), residency: .read)
        try Self.expectSameResults(
            streamed: streamed, reference: reference, batches: Self.batches(vocab: reference.config.vocabSize))
        // Every weight was read for its layer and released after it.
        #expect(streamed.parameters.allSatisfy { !$0.isResident })
    }

    /// A randomly initialised model written as BF16, streamed from the file, against the same file
    /// mapped; and the in-memory model streamed (its weights stay resident).
    @Test func randomBF16CheckpointGivesTheSameResults() throws {
        let config = try #require(ModelConfig.preset("small", vocabSize: 97))
        let model = try MoEModel.randomlyInitialized(config: config, seed: 3, initializerRange: 0.2)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "expertlock-stream-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir, dtype: .bf16)
        let batches = Self.batches(vocab: 97)
        let mapped = try ModelLoader.load(directory: dir, residency: .mapped)
        let read = try ModelLoader.load(directory: dir, residency: .read)
        try Self.expectSameResults(streamed: read, reference: mapped, batches: batches)
        try Self.expectSameResults(streamed: model, reference: model, batches: batches)
        #expect(model.parameters.allSatisfy { $0.isResident })
    }

    /// Reading stages ahead (any depth, or none) gives the same logits and routing, bit for bit, and leaves
    /// nothing held or staged once the pass is over.
    @Test func readAheadChangesNothing() throws {
        let config = try #require(ModelConfig.preset("small", vocabSize: 97))
        let model = try MoEModel.randomlyInitialized(config: config, seed: 11, initializerRange: 0.2)
        try TestSupport.withTemporaryDirectory { dir in
            try model.save(to: dir, dtype: .bf16)
            let batches = Self.batches(vocab: 97)
            var results: [[[Double]?]] = []
            var routings: [[[Int]]] = []
            for depth in [0, 1, 3] {
                let read = try ModelLoader.load(directory: dir, residency: .read)
                let log = RoutingLog()
                var scores = [[Double]?](repeating: nil, count: batches.count)
                try LayerStreaming.forward(
                    model: read, batches: batches, observer: log,
                    parameters: LayerStreaming.Parameters(readAhead: depth),
                    finalHidden: { i, hidden in
                        let rows = Array(0..<hidden.rows)
                        let targets = rows.map { $0 % 97 }
                        scores[i] = try read.headScores(rows: rows, of: hidden, targets: targets).logProbabilities
                    })
                results.append(scores)
                routings.append(log.routing.map(\.experts))
                #expect(read.parameters.allSatisfy { !$0.isResident && !$0.isHeld })
                #expect(
                    !read.parameters.flatMap(\.sourceExtents).contains {
                        $0.file.positionedReader?.stagedRegion(covering: $0.range) != nil
                    })
            }
            #expect(results.allSatisfy { $0 == results[0] })
            #expect(routings.allSatisfy { $0 == routings[0] })
            #expect(results[0].allSatisfy { $0 != nil })
        }
    }

    /// Hidden states spilled to a temporary file between layers change nothing.
    @Test func spilledHiddenStatesGiveTheSameResults() throws {
        let name = "qwen2_moe_bf16_norm_tied"
        let reference = try ModelLoader.load(directory: ModelParityTests.fixture(name))
        let streamed = try ModelLoader.load(directory: ModelParityTests.fixture(name), residency: .read)
        try Self.expectSameResults(
            streamed: streamed, reference: reference, batches: Self.batches(vocab: reference.config.vocabSize),
            parameters: LayerStreaming.Parameters(activationBudgetBytes: 0))
    }

    @Test func tokenOutsideTheVocabularyIsAnInputError() throws {
        let model = try ModelLoader.load(directory: ModelParityTests.fixture("mixtral_f32_gqa2"), residency: .read)
        let bad = TokenBatch([1, 2, model.config.vocabSize])
        #expect(throws: ModelError.tokenOutOfRange(id: model.config.vocabSize, vocabSize: model.config.vocabSize)) {
            try LayerStreaming.forward(model: model, batches: [bad])
        }
    }

    /// A parameter given new values is never released back to its (stale) source.
    @Test func assignedParametersAreNotReleased() throws {
        let model = try ModelLoader.load(directory: ModelParityTests.fixture("mixtral_f32_gqa2"), residency: .read)
        let p = model.finalNorm
        try p.makeResident()
        p.releaseResident()
        #expect(!p.isResident)
        p.assign(Tensor(shape: p.shape, repeating: 2))
        p.releaseResident()
        #expect(p.isResident)
    }
}
