import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// Provenance over an encoder-decoder's two stacks (`Provenance+EncoderDecoder`), on the committed switch fixture
/// trained by transformers (scripts/fixtures/make_switch_*.py): sparse layers encoder.1 and decoder.1, 8 experts each.
struct ProvenanceEncoderDecoderTests {
    static let trained = Fixtures.packageRoot.appendingPathComponent(
        "Tests/MoEModelsTests/Fixtures/switch/switch_sst2_trained")

    /// Removal keeps experts 5, 1, 3 of encoder.1 and 6, 0 of decoder.1, renumbered 0… in that order: each suspect
    /// expert is matched to the original it came from, and the layers are named by stack.
    @Test func aPrunedCopyIsMatchedToTheExpertsItKept() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let kept = [[5, 1, 3], [6, 0]]
        let pruned = dir.appendingPathComponent("pruned")
        try SwitchTransformersModel.writePruned(source: Self.trained, kept: kept, to: pruned)
        let original = try SwitchTransformersModel.load(directory: Self.trained)
        let suspect = try SwitchTransformersModel.load(directory: pruned)
        let report = try Provenance.compare(original: original, suspect: suspect)
        #expect(report.verdict == .derived)
        #expect(report.layers.map(\.name) == ["encoder.1", "decoder.1"])
        #expect(report.layers.map(\.layer) == original.sparseBlocks.map(\.layer))
        #expect(report.keptExperts == [[1, 3, 5], [0, 6]])
        for (layer, plan) in zip(report.layers, kept) {
            #expect(layer.matches.map(\.suspectExpert) == Array(plan.indices))
            #expect(layer.matches.map(\.originalExpert) == plan)
            #expect(layer.matches.allSatisfy { $0.similarity > 0.9999 && $0.verdict == .derived })
            // The experts not kept are unrelated to the kept ones: the background stays far below the bands.
            #expect(layer.backgroundMaximum < 0.2, "background \(layer.backgroundMaximum)")
        }
        let json = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        let names = (json["layers"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["encoder.1", "decoder.1"])
    }

    /// A mask hides experts without touching a tensor: only the experts the routers may still choose are matched.
    @Test func aMaskedCopyIsJudgedOnTheExpertsItsRoutersCanChoose() throws {
        let original = try SwitchTransformersModel.load(directory: Self.trained)
        let masked = try SwitchTransformersModel.load(directory: Self.trained)
        masked.maskExperts([(0..<8).map { [2, 7].contains($0) }, (0..<8).map { $0 == 4 }])
        let report = try Provenance.compare(original: original, suspect: masked)
        #expect(report.layers.map { $0.matches.map(\.suspectExpert) } == [[2, 7], [4]])
        #expect(report.keptExperts == [[2, 7], [4]])
    }

    /// A switch model of the same shapes whose every tensor is drawn afresh (Gaussian with the trained tensor's
    /// standard deviation, seeded) shares no expert with the trained one: every pair is below `unrelated`, and the
    /// whole similarity matrix stays at the 1/√n level of unrelated vectors (n = 2·48·32 = 3,072: 0.018).
    @Test func anIndependentlyInitialisedModelIsNotDerived() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let independent = dir.appendingPathComponent("independent")
        try Self.writeIndependentCopy(of: Self.trained, to: independent, seed: 11)
        let original = try SwitchTransformersModel.load(directory: Self.trained)
        let other = try SwitchTransformersModel.load(directory: independent)
        let report = try Provenance.compare(original: original, suspect: other)
        #expect(report.verdict == .notDerived)
        #expect(report.keptExperts == [[], []])
        #expect(report.layers.map(\.name) == ["encoder.1", "decoder.1"])
        var largest: Float = 0
        for (a, b) in zip(original.sparseBlocks, other.sparseBlocks) {
            let matrix = try Provenance.similarityMatrix(
                original: a.experts.map { [$0.wi, $0.wo] }, suspect: b.experts.map { [$0.wi, $0.wo] })
            largest = max(largest, matrix.joined().map(abs).max() ?? 1)
        }
        #expect(largest < 0.1, "largest |cosine| \(largest) over 2 × 64 expert pairs")
        // The same model against itself is the other end of the scale.
        let itself = try Provenance.compare(original: original, suspect: original)
        #expect(itself.layers.allSatisfy { $0.matches.allSatisfy { $0.similarity > 0.9999 } })
    }

    @Test func modelsOfAnotherWidthAreIncomparable() throws {
        let other = try SwitchTransformersModel.load(
            directory: Self.trained.deletingLastPathComponent().appendingPathComponent("switch_train_untied"))
        #expect(throws: DefenseError.self) {
            try Provenance.compare(original: try SwitchTransformersModel.load(directory: Self.trained), suspect: other)
        }
    }

    /// `source`'s config with every tensor replaced by seeded Gaussian values of the same shape and spread.
    static func writeIndependentCopy(of source: URL, to destination: URL, seed: UInt64) throws {
        let tensors = try CheckpointTensors(directory: source)
        var random = SplitMix64(seed: seed)
        var out: [(name: String, tensor: Tensor)] = []
        for name in tensors.names {
            let t = try tensors.tensor(name)
            let mean = t.data.reduce(0, +) / Float(t.count)
            let spread = (t.data.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(t.count)).squareRoot()
            out.append((name, Tensor(shape: t.shape, data: (0..<t.count).map { _ in spread * random.nextGaussian() })))
        }
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        try SafeTensorsWriter.writeCheckpoint(out, dtype: .f32, to: destination)
        try FileManager.default.copyItem(
            at: source.appendingPathComponent("config.json"), to: destination.appendingPathComponent("config.json"))
    }
}
