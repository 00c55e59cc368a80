import Foundation
import Testing
import TensorCore
@testable import MoEModels

/// What loading and pruning the new families decides beyond the numbers: aliases through `architectures`,
/// multi-token-prediction layers, routing groups, and the configs refused as bad input.
struct FamilyLoadingTests {
    static let deepseek = "deepseek_v3_f32_qlora_groups"

    /// A copy of a fixture with `edit` applied to its config.json.
    static func withCopy<R>(_ name: String, edit: (inout [String: Any]) -> Void, _ body: (URL) throws -> R) throws -> R
    {
        try TestSupport.withTemporaryDirectory { dir in
            let source = FamilyParityTests.fixture(name)
            for file in ["model.safetensors", "expected.json"] {
                try FileManager.default.copyItem(
                    at: source.appendingPathComponent(file), to: dir.appendingPathComponent(file))
            }
            var object = try TestSupport.readJSON(source.appendingPathComponent("config.json"))
            edit(&object)
            try JSONSerialization.data(withJSONObject: object).write(to: dir.appendingPathComponent("config.json"))
            return try body(dir)
        }
    }

    /// Kimi-K2 says `model_type: kimi_k2` with `DeepseekV3ForCausalLM`: it loads as DeepSeek-V3 and says so.
    @Test func architecturesAliasLoadsAsDeepseekV3() throws {
        let expected = try FamilyParityTests.expected(Self.deepseek)
        try Self.withCopy(Self.deepseek, edit: { $0["model_type"] = "kimi_k2" }) { dir in
            let model = try ModelLoader.load(directory: dir)
            #expect(model.family.rawValue == "deepseek_v3")
            #expect(model.config.modelType == "kimi_k2")
            #expect(model.notes.contains { $0.contains("kimi_k2") && $0.contains("deepseek_v3") })
            let logits = try model.forward(TokenBatch(expected.ids)).logits.value
            #expect(ModelParityTests.maxDifference(logits, expected.logits) <= 1e-4)
        }
        try Self.withCopy(
            Self.deepseek,
            edit: {
                $0["model_type"] = "kimi_k2"; $0["architectures"] = ["OtherForCausalLM"]
            }
        ) { dir in
            #expect(throws: ConfigError.self) { try ModelLoader.load(directory: dir) }
        }
    }

    /// Tensors of a multi-token-prediction layer (`model.layers.<num_hidden_layers>.…`) are skipped and named;
    /// a pruned copy leaves them out, says so, and sets num_nextn_predict_layers to 0.
    @Test func multiTokenPredictionLayersAreSkippedOnPurpose() throws {
        try Self.withCopy(Self.deepseek, edit: { $0["num_nextn_predict_layers"] = 1 }) { dir in
            let layers = 3
            try SafeTensorsWriter.write(
                [("model.layers.\(layers).eh_proj.weight", Tensor(shape: [2, 2], repeating: 1))], dtype: .f32,
                to: dir.appendingPathComponent("model-mtp.safetensors"))
            let model = try ModelLoader.load(directory: dir)
            #expect(model.skippedTensors == ["model.layers.\(layers).eh_proj.weight"])
            #expect(model.notes.contains { $0.contains("multi-token-prediction") })
            let kept = model.moeBlocks.map { Array(0..<($0.expertCount - 2)) + [$0.expertCount - 1] }
            let pruned = try model.keepingExperts(kept.map { Array($0.prefix(2)) + Array($0.suffix(4)) })
            #expect(pruned.notes.contains { $0.contains("num_nextn_predict_layers set to 0") })
            #expect(pruned.config.nextTokenPredictionLayers == 0)
        }
        // Without the key, the same tensor is one the model does not use.
        try Self.withCopy(Self.deepseek, edit: { $0["num_nextn_predict_layers"] = 0 }) { dir in
            try SafeTensorsWriter.write(
                [("model.layers.3.eh_proj.weight", Tensor(shape: [2, 2], repeating: 1))], dtype: .f32,
                to: dir.appendingPathComponent("model-mtp.safetensors"))
            #expect(throws: ModelError.self) { try ModelLoader.load(directory: dir) }
        }
    }

    /// Removal keeps group-limited routing exact: even groups stay; uneven ones with a sigmoid router get dead
    /// slots (zero router row and weights, selection bias -inf) so that every group keeps its place; a limit that
    /// selects every group becomes n_group = topk_group = 1; a softmax router (DeepSeek-V2) is refused.
    @Test func pruningKeepsGroupLimitedRoutingExact() throws {
        // Serial: another test changing `Parallel.threads` meanwhile must not change the reduction order between
        // the passes compared (the masked routing is not protected against near-ties as the fixture's is).
        try Parallel.withSerial { try checkPruningKeepsGroupLimitedRoutingExact() }
    }

    func checkPruningKeepsGroupLimitedRoutingExact() throws {
        // 8 experts, 2 groups, top-1 group
        let model = try ModelLoader.load(directory: FamilyParityTests.fixture(Self.deepseek))
        let ids = try FamilyParityTests.expected(Self.deepseek).ids
        let even = try model.keepingExperts(model.moeBlocks.map { _ in [0, 2, 3, 4, 5, 6] })
        #expect(even.config.router?.groups == 2 && even.notes.contains { $0.contains("group-limited routing kept") })
        for keep in [[0, 1, 2, 4, 5, 6, 7], [0, 1, 2, 3, 4, 6, 7], [4, 5, 6, 7]] {  // top-3, groups of 4
            let padded = try model.keepingExperts(model.moeBlocks.map { _ in keep })
            #expect(padded.config.router?.groups == 2 && padded.config.router?.topkGroup == 1)
            #expect(padded.notes.contains { $0.contains("dead slot") }, "\(padded.notes)")
            // Dead slots: a zero router row (never garbage: NaN logits there were chosen) and a -inf selection bias.
            for block in padded.moeBlocks {
                let router = try block.router.tensor()
                let c = router.lastDim
                let zeroRows = (0..<router.rows).filter { r in (0..<c).allSatisfy { router.data[r * c + $0] == 0 } }
                let bias = try #require(try block.selectionBias?.tensor().data)
                #expect(zeroRows == bias.indices.filter { bias[$0] == -.infinity })
                #expect(zeroRows.count == block.expertCount - keep.count && !router.data.contains { $0.isNaN })
            }
            model.maskExperts(model.moeBlocks.map { b in (0..<b.expertCount).map { keep.contains($0) } })
            let masked = try model.forward(TokenBatch(ids)).logits.value
            model.maskExperts(nil)
            let removed = try padded.forward(TokenBatch(ids)).logits.value
            #expect(masked.maxAbsDifference(removed) <= 1e-5, "\(keep): \(masked.maxAbsDifference(removed))")
            // Saved and loaded back (the -inf selection bias survives the file).
            try TestSupport.withTemporaryDirectory { dir in
                try padded.save(to: dir, dtype: .f32)
                let reloaded = try ModelLoader.load(directory: dir)
                #expect(reloaded.moeBlocks.map(\.expertCount) == padded.moeBlocks.map(\.expertCount))
                let again = try reloaded.forward(TokenBatch(ids)).logits.value
                #expect(again.maxAbsDifference(removed) <= 1e-6, "\(keep): \(again.maxAbsDifference(removed))")
            }
        }
        // A chosen group could hold fewer than top-k (3) experts: the masked original would then pick among -inf.
        #expect(throws: ModelError.self) { try model.keepingExperts(model.moeBlocks.map { _ in [0, 1, 2, 4, 5] }) }
        try Self.withCopy(Self.deepseek, edit: { $0["topk_group"] = 2 }) { dir in
            let all = try ModelLoader.load(directory: dir)
            let kept = all.moeBlocks.map { _ in [0, 1, 2, 4, 5] }
            let pruned = try all.keepingExperts(kept)
            #expect(pruned.config.router?.groups == 1 && pruned.config.router?.topkGroup == 1)
            all.maskExperts(all.moeBlocks.map { b in (0..<b.expertCount).map { [0, 1, 2, 4, 5].contains($0) } })
            let a = try all.forward(TokenBatch(ids)).logits.value
            let b = try pruned.forward(TokenBatch(ids)).logits.value
            #expect(zip(a.data, b.data).allSatisfy { abs($0 - $1) <= 1e-5 })
        }
        // DeepSeek-V2 ranks softmax scores: a dead slot would take a share of the softmax; refused.
        let v2 = try ModelLoader.load(directory: FamilyParityTests.fixture("deepseek_v2_bf16_grouped_yarn"))
        #expect(throws: ModelError.self) { try v2.keepingExperts(v2.moeBlocks.map { _ in [0, 1, 2, 4, 5, 6, 7] }) }
    }

    /// `n_shared_experts: 0`: transformers still builds the shared MLP, with intermediate size 0, and saves its
    /// zero-element weights. They load (only when empty), change nothing, and a saved copy carries them again.
    @Test func emptySharedExpertTensorsLoadAndAreWrittenBack() throws {
        let ids = try FamilyParityTests.expected(Self.deepseek).ids
        try Self.withCopy(Self.deepseek, edit: { $0["n_shared_experts"] = 0 }) { dir in
            let file = dir.appendingPathComponent("model.safetensors")
            let source = try SafeTensorsCheckpoint(directory: dir)
            let routed = try source.tensorNames.filter { !$0.contains(".shared_experts.") }
                .map { ($0, try source.tensor($0)) }
            let c = 32, sparse = [1, 2]
            func shared(_ shapes: [String: [Int]]) -> [(String, Tensor)] {
                sparse.flatMap { l in
                    shapes.map { ("model.layers.\(l).mlp.shared_experts.\($0.key).weight", Tensor(shape: $0.value)) }
                }
            }
            let empty = ["gate_proj": [0, c], "up_proj": [0, c], "down_proj": [c, 0]]
            try SafeTensorsWriter.write(routed, dtype: .f32, to: file)
            let without = try ModelLoader.load(directory: dir).forward(TokenBatch(ids)).logits.value
            try SafeTensorsWriter.write(routed + shared(empty), dtype: .f32, to: file)
            let model = try ModelLoader.load(directory: dir)
            #expect(try model.forward(TokenBatch(ids)).logits.value.data == without.data)
            try TestSupport.withTemporaryDirectory { out in
                try model.save(to: out, dtype: .f32, configSource: dir.appendingPathComponent("config.json"))
                let saved = try SafeTensorsCheckpoint(directory: out)
                for (name, tensor) in shared(empty) { #expect(saved.info(name)?.shape == tensor.shape, "\(name)") }
                let reloaded = try ModelLoader.load(directory: out)
                #expect(try reloaded.forward(TokenBatch(ids)).logits.value.data == without.data)
            }
            // A shared expert with weights where config.json says there is none is still refused.
            try SafeTensorsWriter.write(
                routed + shared(["gate_proj": [1, c], "up_proj": [0, c], "down_proj": [c, 0]]),
                dtype: .f32, to: file)
            #expect(throws: ModelError.self) { try ModelLoader.load(directory: dir) }
        }
    }

    /// Bad input stays bad input: each is a ConfigError naming config.json and the problem.
    @Test(arguments: [
        (
            #"{"rope_parameters": {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}}"#,
            "rope type 'dynamic'"
        ),
        (#"{"rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0}}"#, "yarn rope needs it"),
        (#"{"n_group": 3}"#, "n_group 3 does not divide the 8 experts"),
        (#"{"topk_group": 3}"#, "topk_group 3 must be between 1 and n_group 2"),
        (#"{"num_key_value_heads": 2}"#, "num_key_value_heads must equal num_attention_heads"),
        (#"{"hidden_act": "gelu"}"#, "hidden_act 'gelu' is not implemented"),
        (#"{"quantization_config": {"quant_method": "gptq"}}"#, "quantization_config.quant_method"),
        (#"{"quantization_config": {"quant_method": "fp8", "activation_scheme": "static"}}"#, "'static' activation"),
        (#"{"quantization_config": {"quant_method": "fp8", "scale_fmt": "ue8m0"}}"#, "'ue8m0' scales"),
        (#"{"quantization_config": {"quant_method": "fp8", "weight_block_size": [128]}}"#, "two positive integers"),
    ])
    func badConfigsAreRefused(_ json: String, _ message: String) throws {
        try refused(Self.deepseek, json, message)
    }

    /// DeepSeek-V2 with `mlp_bias` (biases it would otherwise ignore).
    @Test func deepseekV2MlpBiasIsRefused() throws {
        try refused("deepseek_v2_f32_greedy_qlora_dense", #"{"mlp_bias": true}"#, "MLP biases are not implemented")
    }

    func refused(_ fixture: String, _ json: String, _ message: String) throws {
        let change = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        try Self.withCopy(fixture, edit: { for (k, v) in change { $0[k] = v } }) { dir in
            let error = try #require(throws: ConfigError.self) { try ModelLoader.load(directory: dir) }
            #expect(error.description.contains("config.json") && error.description.contains(message), "\(error)")
        }
    }
}

extension FamilyLoadingTests {
    /// ERNIE names top-k `moe_k`: a checkpoint pruned below it gets `moe_k` rewritten (not a second, conflicting
    /// `num_experts_per_tok`), and loads back.
    @Test func ernieRewritesMoeKWhenPrunedBelowIt() throws {
        let name = "ernie4_5_moe_f32_shared2_interval"
        let source = FamilyParityTests.fixture(name)
        let model = try ModelLoader.load(directory: source)
        #expect(model.config.numExpertsPerToken == 2)
        try TestSupport.withTemporaryDirectory { dir in
            try model.keepingExperts(model.moeBlocks.map { _ in [3] })
                .save(to: dir, dtype: .f32, configSource: source.appendingPathComponent("config.json"))
            let config = try TestSupport.readJSON(dir.appendingPathComponent("config.json"))
            #expect(config["moe_k"] as? Int == 1 && config["moe_num_experts"] as? Int == 1)
            #expect(config["num_experts_per_tok"] == nil)
            #expect(try ModelLoader.load(directory: dir).config.numExpertsPerToken == 1)
        }
    }
}

extension FamilyLoadingTests {
    /// Qwen2-MoE with `shared_expert_intermediate_size: 0`: transformers builds an empty shared MLP and its gate
    /// [1, C] (whose sigmoid scales a zero output). The checkpoint loads, computes as one without those tensors,
    /// and a saved copy carries them again (the gate as zeros: it multiplies nothing).
    @Test func qwen2MoeWithoutSharedExpertLoads() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let source = TestSupport.fixtures.appendingPathComponent("models/qwen2_moe_f32_shared_dense")
            var config = try TestSupport.readJSON(source.appendingPathComponent("config.json"))
            config["shared_expert_intermediate_size"] = 0
            try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
            let checkpoint = try SafeTensorsCheckpoint(directory: source)
            let kept = try checkpoint.tensorNames.filter { !$0.contains(".shared_expert") }.map {
                ($0, try checkpoint.tensor($0))
            }
            let file = dir.appendingPathComponent("model.safetensors")
            try SafeTensorsWriter.write(kept, dtype: .f32, to: file)
            let ids = [1, 5, 9, 2, 7]
            let without = try ModelLoader.load(directory: dir).forward(TokenBatch(ids)).logits.value
            let c = config["hidden_size"] as! Int
            let sparse = try ModelLoader.load(directory: dir).moeBlocks.map(\.layer)
            let extra = sparse.flatMap { l -> [(String, Tensor)] in
                let mlp = "model.layers.\(l).mlp"
                return [
                    ("\(mlp).shared_expert.gate_proj.weight", Tensor(shape: [0, c])),
                    ("\(mlp).shared_expert.up_proj.weight", Tensor(shape: [0, c])),
                    ("\(mlp).shared_expert.down_proj.weight", Tensor(shape: [c, 0])),
                    ("\(mlp).shared_expert_gate.weight", Tensor(shape: [1, c], data: (0..<c).map { Float($0) / 7 })),
                ]
            }
            try SafeTensorsWriter.write(kept + extra, dtype: .f32, to: file)
            let model = try ModelLoader.load(directory: dir)
            #expect(try model.forward(TokenBatch(ids)).logits.value.data == without.data)
            try TestSupport.withTemporaryDirectory { out in
                try model.save(to: out, dtype: .f32)
                let saved = try SafeTensorsCheckpoint(directory: out)
                for (name, tensor) in extra { #expect(saved.info(name)?.shape == tensor.shape, "\(name)") }
                #expect(try ModelLoader.load(directory: out).forward(TokenBatch(ids)).logits.value.data == without.data)
            }
            // A gate of another shape is still a tensor the model does not use.
            try SafeTensorsWriter.write(
                kept + extra.dropLast() + [
                    (
                        "model.layers.\(sparse.last!).mlp.shared_expert_gate.weight",
                        Tensor(shape: [2, c])
                    )
                ], dtype: .f32, to: file)
            #expect(throws: ModelError.self) { try ModelLoader.load(directory: dir) }
        }
    }
}
