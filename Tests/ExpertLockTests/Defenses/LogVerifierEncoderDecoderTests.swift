import Crypto
import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// `lock` and `log verify` on an encoder-decoder (switch_transformers): roles of its expert and router tensors
/// (`SwitchTensorName`, `TensorRole`), per-row router hashes, and differences named by stack, block and expert.
struct LogVerifierEncoderDecoderTests {
    static let trained = Fixtures.packageRoot.appendingPathComponent(
        "Tests/MoEModelsTests/Fixtures/switch/switch_sst2_trained")

    @Test func switchExpertAndRouterNamesHaveRoles() {
        let expert = TensorRole(name: "encoder.block.1.layer.1.mlp.experts.expert_5.wi.weight")
        #expect(expert == .expert(layer: 1, expert: 5, stack: .encoder))
        #expect(expert.layerName == "encoder.1" && expert.expert == 5 && !expert.hasExpertRows)
        let router = TensorRole(name: "decoder.block.3.layer.2.mlp.router.classifier.weight")
        #expect(router == .router(layer: 3, stack: .decoder) && router.hasExpertRows && router.layerName == "decoder.3")
        #expect(TensorRole(name: "decoder.block.1.layer.2.mlp.experts.expert_0.wo.weight").stack == .decoder)
        // The decoder's feed-forward is layer.2 (layer.1 is cross-attention), the encoder's layer.1.
        for name in [
            "decoder.block.1.layer.1.mlp.experts.expert_0.wi.weight",
            "encoder.block.1.layer.2.mlp.router.classifier.weight",
            "encoder.block.01.layer.1.mlp.experts.expert_0.wi.weight",
            "encoder.block.1.layer.1.mlp.experts.expert_0.wx.weight",
            "encoder.block.0.layer.1.DenseReluDense.wi.weight",
            "encoder.block.1.layer.1.mlp.experts.expert_+1.wi.weight",
            "encoder.block.0.layer.0.SelfAttention.q.weight", "shared.weight",
        ] {
            #expect(TensorRole(name: name) == .other, "\(name)")
        }
        #expect(TensorRole(name: "model.layers.3.block_sparse_moe.experts.5.w2.weight").stack == nil)
        #expect(TensorRole(name: "model.layers.3.block_sparse_moe.experts.5.w2.weight").layerName == "3")
        // Parsing is formatting's inverse.
        for name in [
            "encoder.block.3.layer.1.mlp.experts.expert_12.wo.weight",
            "decoder.block.0.layer.2.mlp.router.classifier.weight",
        ] {
            #expect(SwitchTensorName(parsing: name)?.text == name)
        }
    }

    @Test func aLockedSwitchModelIsValidAndHashesRouterRows() throws {
        let fixture = try SwitchLock()
        defer { fixture.remove() }
        let report = try fixture.verify(fixture.locked)
        #expect(report.valid && report.differences.isEmpty, "\(report.differences)")
        let manifest = try ModelManifest.read(fixture.locked.appendingPathComponent(ModelManifest.fileName))
        #expect(manifest.modelType == "switch_transformers")
        let routers = manifest.tensors.filter { if case .router = $0.role { true } else { false } }
        #expect(
            routers.map(\.name).sorted() == [
                "decoder.block.1.layer.2.mlp.router.classifier.weight",
                "encoder.block.1.layer.1.mlp.router.classifier.weight",
            ])
        #expect(routers.allSatisfy { $0.rowSHA256?.count == 8 })
        // 2 layers × 8 experts × (wi, wo)
        #expect(manifest.tensors.filter { $0.role.expert != nil }.count == 2 * 8 * 2)
    }

    /// One value in one row of decoder.1's expert 4 (wo) changes: the only difference names that tensor, the stack,
    /// the block and the expert.
    @Test func oneTamperedExpertRowIsNamedByStackLayerAndExpert() throws {
        let fixture = try SwitchLock()
        defer { fixture.remove() }
        let name = "decoder.block.1.layer.2.mlp.experts.expert_4.wo.weight"
        let tampered = try fixture.tamperedCopy { tensors in
            var t = try #require(tensors[name])
            t.data[3 * t.lastDim + 7] += 1e-3  // row 3
            tensors[name] = t
        }
        let report = try fixture.verify(tampered)
        #expect(!report.valid && report.problems.isEmpty)
        #expect(report.differences.count == 1, "\(report.differences)")
        let difference = try #require(report.differences.first)
        #expect(difference.kind == .valuesChanged && difference.tensor == name)
        #expect(difference.stack == .decoder && difference.layer == 1 && difference.expert == 4)
        let json = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(difference)) as? [String: Any])
        #expect(json["stack"] as? String == "decoder" && json["layer"] as? Int == 1 && json["expert"] as? Int == 4)
    }

    @Test func aTamperedRouterRowIsNamed() throws {
        let fixture = try SwitchLock()
        defer { fixture.remove() }
        let name = "encoder.block.1.layer.1.mlp.router.classifier.weight"
        let tampered = try fixture.tamperedCopy { tensors in
            var t = try #require(tensors[name])
            t.data[6 * t.lastDim] *= 2  // row 6 scores expert 6
            tensors[name] = t
        }
        let report = try fixture.verify(tampered)
        #expect(report.differences.count == 1, "\(report.differences)")
        let difference = try #require(report.differences.first)
        #expect(difference.stack == .encoder && difference.layer == 1 && difference.rows == [6])
        #expect(difference.detail.contains("rows 6 changed"))
    }

    /// Removal of half the experts of both stacks from the locked model: the verifier names every removed expert and
    /// every moved one by its stack's layer, and the changed config.
    @Test func expertsRemovedFromALockedSwitchModelAreNamedPerStack() throws {
        let fixture = try SwitchLock()
        defer { fixture.remove() }
        let pruned = fixture.root.appendingPathComponent("pruned")
        try SwitchTransformersModel.writePruned(
            source: fixture.locked, kept: [[0, 2, 4, 6], [7, 5, 3, 1]], to: pruned)
        let report = try fixture.verify(pruned, manifest: fixture.locked)
        #expect(!report.valid)
        let removed = report.differences.filter { $0.kind == .expertRemoved }
        #expect(removed.filter { $0.stack == .encoder && $0.layer == 1 }.compactMap(\.expert) == [1, 3, 5, 7])
        #expect(removed.filter { $0.stack == .decoder && $0.layer == 1 }.compactMap(\.expert) == [0, 2, 4, 6])
        let gone = "expert 3 of layer encoder.1 is gone: its weights are nowhere in the layer"
        #expect(removed.contains { $0.detail == gone })
        let moved = report.differences.filter { $0.kind == .expertMoved && $0.stack == .decoder }
        let pairs = moved.map { [$0.expert ?? -1, $0.position ?? -1] }.sorted { $0[0] < $1[0] }
        #expect(pairs == [[1, 3], [3, 2], [5, 1], [7, 0]])
        #expect(report.differences.contains { $0.kind == .configChanged })
    }

    /// `prune --mode mask` changes no tensor: the mask file names each hidden expert by stack and block.
    @Test func aMaskOnALockedSwitchModelNamesTheHiddenExperts() throws {
        let fixture = try SwitchLock()
        defer { fixture.remove() }
        let masked = try fixture.tamperedCopy { _ in }
        try ExpertMaskFile.write(kept: [Array(0..<8), [0, 1, 2, 3, 4, 5, 7]], to: masked)
        let report = try fixture.verify(masked)
        let hidden = report.differences.filter { $0.kind == .expertMasked }
        #expect(hidden.count == 1, "\(report.differences)")
        #expect(hidden.first?.stack == .decoder && hidden.first?.layer == 1 && hidden.first?.expert == 6)
        #expect(hidden.first?.detail == "expert 6 of layer decoder.1 is masked out of routing")
    }
}

/// The switch fixture locked under a fresh key, in a temporary folder.
struct SwitchLock {
    let root: URL
    let key: Curve25519.Signing.PrivateKey
    let locked: URL

    init() throws {
        root = try Fixtures.temporaryDirectory()
        let keyURL = root.appendingPathComponent("owner.key")
        try SigningKey.generate(to: keyURL)
        key = try SigningKey.readPrivateKey(keyURL)
        locked = root.appendingPathComponent("locked")
        try SelectiveRealignment.lock(model: LogVerifierEncoderDecoderTests.trained, key: key, output: locked)
    }

    func remove() { try? FileManager.default.removeItem(at: root) }

    /// A copy of the locked folder (manifest included) whose tensors are `edit`ed and re-saved as F32.
    func tamperedCopy(_ edit: (inout [String: Tensor]) throws -> Void) throws -> URL {
        let out = root.appendingPathComponent("copy-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: locked, to: out)
        let checkpoint = try CheckpointTensors(directory: out)
        var tensors: [String: Tensor] = [:]
        for name in checkpoint.names { tensors[name] = try checkpoint.tensor(name) }
        try edit(&tensors)
        try SafeTensorsWriter.writeCheckpoint(
            tensors.sorted { $0.key < $1.key }.map { (name: $0.key, tensor: $0.value) }, dtype: .f32, to: out)
        return out
    }

    /// Verifies `directory` against the manifest in `manifest` (default: its own) and its log.
    func verify(_ directory: URL, manifest: URL? = nil) throws -> LogVerification {
        let signed = try ModelManifest.read((manifest ?? directory).appendingPathComponent(ModelManifest.fileName))
        return try LogVerifier.verify(
            model: directory, manifest: signed, log: try UpdateLog.read(directory: directory), publicKey: key.publicKey)
    }
}
