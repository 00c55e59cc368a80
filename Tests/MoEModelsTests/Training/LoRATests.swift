import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// LoRA adapters: forward equals the merged weights, PEFT file round trip, errors.
struct LoRATests {
    static func model() throws -> MoEModel {
        let config = try #require(ModelConfig.preset("tiny", vocabSize: 30))
        return try MoEModel.randomlyInitialized(config: config, seed: 11)
    }

    static func targets(_ model: MoEModel) throws -> [Parameter] {
        let block = try #require(model.layers[1].moe)
        return [model.layers[0].attention.qProj, model.layers[0].attention.oProj] + block.experts[2].parameters
    }

    /// Gives every B random values so the adapters change the output.
    static func randomizeB(_ model: MoEModel, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for adapter in model.loraAdapters {
            let shape = adapter.b.shape
            adapter.b.assign(
                Tensor(shape: shape, data: (0..<Tensor.count(of: shape)).map { _ in 0.05 * rng.nextGaussian() }))
        }
    }

    @Test func freshAdapterChangesNothingAndMergeMatchesForward() throws {
        let model = try Self.model()
        let ids = TokenBatch(ids: [3, 1, 4, 1, 5, 9, 2, 6], batch: 2, seq: 4)
        let before = try model.forward(ids).logits.value
        model.attachLoRA(to: try Self.targets(model), rank: 4, alpha: 8, seed: 1)
        #expect(model.loraAdapters.count == 5)
        #expect(try model.forward(ids).logits.value == before)
        Self.randomizeB(model, seed: 2)
        let adapted = try model.forward(ids).logits.value
        #expect(adapted.maxAbsDifference(before) > 1e-4)
        try model.mergeLoRA()
        #expect(model.loraAdapters.isEmpty)
        #expect(try model.forward(ids).logits.value.maxAbsDifference(adapted) < 1e-5)
    }

    @Test func adaptersRoundTripInPEFTLayout() throws {
        let model = try Self.model()
        model.attachLoRA(to: try Self.targets(model), rank: 3, alpha: 6, seed: 5)
        Self.randomizeB(model, seed: 6)
        let ids = TokenBatch([1, 2, 3, 4, 5])
        let expected = try model.forward(ids).logits.value
        try TestSupport.withTemporaryDirectory { dir in
            try model.saveLoRA(to: dir, baseModel: "base")
            let file = try SafeTensorsFile(url: dir.appendingPathComponent("adapter_model.safetensors"))
            #expect(file.tensorNames.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"))
            #expect(
                file.info("base_model.model.model.layers.1.block_sparse_moe.experts.2.w2.lora_B.weight")?.shape == [
                    64, 3,
                ])
            let config = try TestSupport.readJSON(dir.appendingPathComponent("adapter_config.json"))
            #expect(
                config["r"] as? Int == 3 && (config["lora_alpha"] as? Double) == 6
                    && config["peft_type"] as? String == "LORA")
            let target = try #require(config["target_modules"] as? String)
            let regex = try NSRegularExpression(pattern: "^" + target + "$")
            let match = { (s: String) in regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil }
            #expect(match("model.layers.1.block_sparse_moe.experts.2.w1"))
            #expect(!match("model.layers.1.block_sparse_moe.experts.3.w1"))

            let fresh = try Self.model()
            try fresh.loadLoRA(from: dir)
            #expect(fresh.loraAdapters.count == 5)
            #expect(try fresh.forward(ids).logits.value == expected)

            let other = try MoEModel.randomlyInitialized(
                config: try #require(ModelConfig.preset("small", vocabSize: 30)), seed: 1)
            #expect(throws: LoRAError.self) { try other.loadLoRA(from: dir) }
            #expect(other.loraAdapters.isEmpty)
        }
    }
}
