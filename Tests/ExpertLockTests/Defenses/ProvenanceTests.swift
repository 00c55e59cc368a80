import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock
@testable import ExpertLockDemo

/// Provenance names every kept expert of a pruned, fine-tuned derivative and says "not derived"
/// for a model trained from another seed on the same data (the calibration in `Provenance`).
struct ProvenanceTests {
    @Test func assignmentMaximisesTotalSimilarity() {
        // Greedy would take 0.9 for row 0 and leave row 1 with 0.1; the optimum is 0.8 + 0.85.
        let similarity: [[Float]] = [[0.9, 0.8, 0.0], [0.85, 0.1, 0.0]]
        #expect(ExpertAssignment.maximize(similarity) == [1, 0])
        #expect(ExpertAssignment.maximize([[0.1, 0.2, 0.9, 0.3]]) == [2])
        #expect(ExpertAssignment.maximize([[0.2], [0.7]]) == [0, 0])
        // A permutation is recovered exactly.
        let permutation = [3, 0, 4, 1, 2]
        let matrix = (0..<5).map { i in
            (0..<5).map { j in j == permutation[i] ? Float(0.6) : Float(0.1 * Double((i + j) % 3)) }
        }
        #expect(ExpertAssignment.maximize(matrix) == permutation)
    }

    /// The run of the calibration: original and independent model trained the same way from two
    /// seeds, the derivative pruned from the original and fine-tuned at the default learning rate.
    @Test func derivedVersusIndependent() throws {
        let documents = BuiltinCorpus(seed: 3).documents(count: 48).map(\.text)
        let encoder = ByteTextEncoder()
        let examples = TrainingData.languageModeling(documents: documents, encoder: encoder, sequenceLength: 64)
        let config = try #require(ModelConfig.preset("tiny", vocabSize: encoder.vocabSize))
        var pretraining = Training.Parameters()
        pretraining.steps = ProvenanceTests.pretrainingSteps
        pretraining.batchSize = 4
        pretraining.sequenceLength = 64
        pretraining.learningRate = 3e-3

        func pretrained(seed: UInt64) throws -> MoEModel {
            let model = try MoEModel.randomlyInitialized(config: config, seed: seed)
            try Training.train(model: model, examples: examples, parameters: pretraining)
            return model
        }
        let original = try pretrained(seed: 1)
        let independent = try pretrained(seed: 2)

        // The derivative: keep 3 of 8 experts per layer (renumbered), then fine-tune every weight
        // at the default learning rate. A saved copy is pruned so the original stays untouched.
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try original.save(to: dir)
        let kept = [[1, 4, 6], [0, 3, 7]]
        let derivative = try ModelLoader.load(directory: dir, residency: .resident).keepingExperts(kept)
        var realignment = Training.Parameters()
        realignment.steps = 40
        realignment.batchSize = 4
        realignment.sequenceLength = 64
        realignment.seed = 9
        try Training.train(model: derivative, examples: Array(examples.reversed()), parameters: realignment)

        let derived = try Provenance.compare(original: original, suspect: derivative)
        #expect(derived.verdict == .derived)
        #expect(derived.keptExperts == kept, "\(derived.layers)")
        for (l, layer) in derived.layers.enumerated() {
            #expect(layer.verdict == .derived)
            #expect(layer.matches.map(\.originalExpert) == kept[l])
        }
        let unrelated = try Provenance.compare(original: original, suspect: independent)
        #expect(unrelated.verdict == .notDerived, "\(unrelated.layers)")
        #expect(unrelated.keptExperts.allSatisfy { $0.isEmpty })

        let derivedSimilarities = derived.layers.flatMap { $0.matches.map(\.similarity) }
        var independentAll: [Float] = []
        for (a, b) in zip(original.moeBlocks, independent.moeBlocks) {
            independentAll += try Provenance.similarityMatrix(original: a, suspect: b).flatMap { $0 }
        }
        let unrelatedMax = independentAll.map(abs).max() ?? 0
        #expect(derivedSimilarities.min()! >= 0.5 && unrelatedMax < 0.2)
        print(
            "provenance: derived (pruned 3/8, 40 steps at lr 1e-3) matched similarities "
                + derivedSimilarities.map { String(format: "%.3f", $0) }.joined(separator: " ")
                + String(format: "; derived-model background max %.3f", derived.layers.map(\.backgroundMaximum).max()!)
                + String(
                    format: "; independent seed: max |cos| over all 128 pairs %.3f, matched mean %.3f",
                    unrelatedMax, unrelated.layers.map(\.meanSimilarity).reduce(0, +) / Float(unrelated.layers.count)))
    }

    static let pretrainingSteps = 300
}
