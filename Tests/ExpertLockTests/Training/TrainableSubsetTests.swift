import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// Frozen tensors stay bit-identical: `experts` changes only the kept experts, `experts+router` also
/// the routers, `lora` only the adapters (the base is untouched, merged on request).
struct TrainableSubsetTests {
    static let vocab = 19
    static let examples = TrainingFixtures.tokenExamples(vocab: vocab, count: 8, length: 10, seed: 4)

    static func parameters(_ subset: TrainableSubset) -> Training.Parameters {
        var p = Training.Parameters()
        p.steps = 6
        p.batchSize = 4
        p.sequenceLength = 10
        p.learningRate = 1e-2
        p.warmupSteps = 1
        p.trainable = subset
        p.lora.rank = 2
        return p
    }

    /// Masks expert 3 of layer 0 and expert 0 of layer 1, trains, and returns before/after weights.
    static func train(_ subset: TrainableSubset) throws -> (MoEModel, [String: Tensor], [String: Tensor]) {
        let model = try TrainingFixtures.microModel(vocab: vocab, seed: 3)
        model.maskExperts([[true, true, true, false], [false, true, true, true]])
        let before = try TrainingFixtures.snapshot(model)
        try Training.train(model: model, examples: examples, parameters: parameters(subset))
        return (model, before, try TrainingFixtures.snapshot(model))
    }

    static func isKeptExpert(_ name: String) -> Bool {
        guard name.contains(".experts.") else { return false }
        return !name.hasPrefix("model.layers.0.block_sparse_moe.experts.3.")
            && !name.hasPrefix("model.layers.1.block_sparse_moe.experts.0.")
    }

    @Test(arguments: [TrainableSubset.experts, .expertsAndRouter, .all])
    func onlyTheSubsetChanges(_ subset: TrainableSubset) throws {
        let (_, before, after) = try Self.train(subset)
        for (name, old) in before {
            let new = try #require(after[name])
            let isRouter = name.hasSuffix(".gate.weight")
            let masked = name.contains(".experts.") && !Self.isKeptExpert(name)
            let trains: Bool
            switch subset {
            case .experts: trains = Self.isKeptExpert(name)
            case .expertsAndRouter: trains = Self.isKeptExpert(name) || isRouter
            default: trains = !masked  // masked experts get no gradient, so no update, not even decay
            }
            if trains {
                #expect(new != old, "\(subset.rawValue): \(name) did not change")
            } else {
                #expect(new == old, "\(subset.rawValue): \(name) changed")
            }
        }
    }

    @Test func loraChangesOnlyAdaptersAndMergesOnSave() throws {
        let (model, before, after) = try Self.train(.lora)
        #expect(model.loraAdapters.count == 2 * 4 + 2 * 3 * 3)  // q,k,v,o per layer + 3 kept experts x 3 per layer
        for (name, old) in before where !name.contains("lora_") {
            #expect(after[name] == old, "\(name) changed")
        }
        for adapter in model.loraAdapters {
            #expect(after[adapter.b.name] != before[adapter.b.name], "\(adapter.b.name) did not train")
        }
        #expect(!model.loraAdapters.contains { $0.baseName.contains("experts.3") && $0.baseName.contains("layers.0") })

        // The final save merges when asked: the saved weights are W + (α/r)·B·A.
        let dir = try TrainingFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ids = TokenBatch([1, 4, 9, 16, 2, 3])
        let adapted = try model.forward(ids).logits.value
        let q = model.layers[0].attention.qProj
        let expectedQ = try q.tensor().adding(try #require(q.adapter).delta())
        var parameters = Self.parameters(.lora)
        parameters.lora.merge = true
        parameters.steps = 1
        parameters.learningRate = 1e-9
        try TrainingCheckpoint.writeFinal(
            trainer: try Trainer(model: model, parameters: parameters),
            state: TrainerState(
                globalStep: 0, parameters: parameters, dataFingerprint: "", examples: 0, logHistory: []),
            output: .init(directory: dir))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("adapter_model.safetensors").path))
        let merged = try ModelLoader.load(directory: dir)
        merged.maskExperts([[true, true, true, false], [false, true, true, true]])  // masks are not saved
        #expect(try merged.layers[0].attention.qProj.tensor() == expectedQ)
        #expect(try merged.forward(ids).logits.value.maxAbsDifference(adapted) < 1e-5)
    }

    @Test func nothingTrainableIsAnError() throws {
        let model = try TrainingFixtures.microModel(vocab: Self.vocab)
        model.maskExperts([[false, false, false, false], [false, false, false, false]])
        #expect(throws: TrainingError.nothingTrainable(subset: "experts")) {
            _ = try Trainer(model: model, parameters: Self.parameters(.experts))
        }
    }
}
