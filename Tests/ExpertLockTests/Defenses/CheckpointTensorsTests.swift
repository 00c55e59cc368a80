import Crypto
import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// What the manifest hashes: values (not stored bytes), per-expert rows of routers and fused experts.
struct CheckpointTensorsTests {
    /// Every family's fixture locks and verifies, and still verifies after a Float32 re-save (what a
    /// LoRA run writes): BF16 → F32 is exact, so the value hashes are unchanged.
    @Test(arguments: Fixtures.modelCases) func lockedFixtureSurvivesAFloat32Resave(_ name: String) throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = Curve25519.Signing.PrivateKey()
        let locked = dir.appendingPathComponent("locked")
        let manifest = try SelectiveRealignment.lock(model: Fixtures.model(name), key: key, output: locked)
        func verify(_ folder: URL) throws -> LogVerification {
            try LogVerifier.verify(model: folder, manifest: manifest, log: UpdateLog(), publicKey: key.publicKey)
        }
        #expect(try verify(locked).valid)
        let resaved = dir.appendingPathComponent("f32")
        try ModelLoader.load(directory: locked, residency: .resident).save(
            to: resaved, dtype: .f32, configSource: locked.appendingPathComponent("config.json"))
        let report = try verify(resaved)
        #expect(report.valid, "\(report.differences.map(\.detail))")
    }

    @Test func rolesAreReadFromHuggingFaceNames() {
        #expect(TensorRole(name: "model.layers.3.block_sparse_moe.experts.5.w2.weight") == .expert(layer: 3, expert: 5))
        #expect(TensorRole(name: "model.layers.1.mlp.experts.0.up_proj.weight") == .expert(layer: 1, expert: 0))
        #expect(TensorRole(name: "model.layers.2.mlp.experts.gate_up_proj") == .fusedExperts(layer: 2))
        #expect(TensorRole(name: "model.layers.2.mlp.gate.weight") == .router(layer: 2))
        #expect(TensorRole(name: "model.layers.2.mlp.shared_expert_gate.weight") == .other)
        #expect(TensorRole(name: "model.layers.2.mlp.gate_proj.weight") == .other)
        #expect(TensorRole(name: "model.layers.0.self_attn.k_proj.weight") == .attentionProjection(layer: 0))
        let adapter = TensorRole(name: "base_model.model.model.layers.4.block_sparse_moe.experts.1.w1.lora_B.weight")
        #expect(adapter == .adapter(of: .expert(layer: 4, expert: 1)) && adapter.layer == 4 && adapter.expert == 1)
        // A nested language model (Qwen3.5-MoE): the same roles; the other towers are not experts.
        #expect(TensorRole(name: "model.language_model.layers.2.mlp.experts.down_proj") == .fusedExperts(layer: 2))
        #expect(TensorRole(name: "model.language_model.layers.2.mlp.gate.weight") == .router(layer: 2))
        let query = "model.language_model.layers.0.self_attn.q_proj.weight"
        #expect(TensorRole(name: query) == .attentionProjection(layer: 0))
        #expect(TensorRole(name: "model.language_model.layers.0.linear_attn.in_proj_qkv.weight") == .other)
        #expect(TensorRole(name: "model.visual.blocks.0.mlp.linear_fc1.weight") == .other)
        let embedding = "model.language_model.embed_tokens.weight"
        #expect(TensorName(parsing: embedding) == .other(embedding))
        #expect(TensorName.layerIndex("model.language_model.layers.7.input_layernorm.weight") == 7)
    }

    /// Qwen3.5-MoE names its weights `model.language_model.layers.…`: its fused experts and routers are still
    /// hashed per expert row, so a pruned copy is reported expert by expert.
    @Test func aNestedLanguageModelsExpertsAreHashedPerRow() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = Fixtures.family("qwen3_5_moe_f32_gva_conv2")
        let key = Curve25519.Signing.PrivateKey()
        let manifest = try ModelManifest.create(directory: source, key: key)
        let model = try ModelLoader.load(directory: source, residency: .resident)
        let experts = model.moeBlocks.map(\.expertCount)
        for block in model.moeBlocks {
            for name in ["experts.gate_up_proj", "experts.down_proj", "gate.weight"] {
                let record = manifest.tensorsByName["model.language_model.layers.\(block.layer).mlp.\(name)"]
                #expect(record?.rowSHA256?.count == block.expertCount, "\(name) of layer \(block.layer)")
            }
        }
        let pruned = dir.appendingPathComponent("pruned")
        try model.keepingExperts(experts.map { n in (0..<n).filter { $0 != 1 } }).save(
            to: pruned, configSource: source.appendingPathComponent("config.json"), keepStoredDTypes: true)
        // The expert count is patched inside text_config (the nested object is decoded inside its root).
        let config = try JSONSerialization.jsonObject(
            with: Data(contentsOf: pruned.appendingPathComponent("config.json")))
        let text = (config as? [String: Any])?["text_config"] as? [String: Any]
        #expect(text?["num_experts"] as? Int == experts[0] - 1 && (config as? [String: Any])?["num_experts"] == nil)
        let report = try LogVerifier.verify(
            model: pruned, manifest: manifest, log: UpdateLog(), publicKey: key.publicKey)
        let removed = report.differences.filter { $0.kind == .expertRemoved }
        #expect(Set(removed.compactMap(\.expert)) == [1])
        #expect(Set(removed.compactMap(\.layer)) == Set(model.moeBlocks.map(\.layer)))
    }

    /// transformers-5 fused expert tensors [E, …]: a removed expert is named from the row hashes.
    @Test func aRemovedExpertOfAFusedTensorIsNamed() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ experts: [Int], to folder: URL) throws {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                at: Fixtures.model("qwen3_moe_f32_headdim").appendingPathComponent("config.json"),
                to: folder.appendingPathComponent("config.json"))
            func rows(_ width: Int) -> [Float] { experts.flatMap { e in (0..<width).map { Float(e * 100 + $0) } } }
            try SafeTensorsWriter.write(
                [
                    ("model.layers.0.mlp.experts.gate_up_proj", Tensor(shape: [experts.count, 4, 2], data: rows(8))),
                    ("model.layers.0.mlp.gate.weight", Tensor(shape: [experts.count, 2], data: rows(2))),
                ], dtype: .f32, to: folder.appendingPathComponent("model.safetensors"))
        }
        let key = Curve25519.Signing.PrivateKey()
        try write([0, 1, 2, 3], to: dir.appendingPathComponent("full"))
        let manifest = try ModelManifest.create(directory: dir.appendingPathComponent("full"), key: key)
        #expect(manifest.tensorsByName["model.layers.0.mlp.experts.gate_up_proj"]?.rowSHA256?.count == 4)
        try write([0, 2, 3], to: dir.appendingPathComponent("pruned"))
        let report = try LogVerifier.verify(
            model: dir.appendingPathComponent("pruned"), manifest: manifest, log: UpdateLog(), publicKey: key.publicKey)
        let removed = report.differences.filter { $0.kind == .expertRemoved }
        #expect(removed.map(\.expert) == [1] && removed.first?.layer == 0)
        let moved = report.differences.filter {
            $0.kind == .expertMoved && $0.tensor?.hasSuffix("gate_up_proj") == true
        }
        #expect(moved.map { [$0.expert!, $0.position!] } == [[2, 1], [3, 2]])
    }
}
