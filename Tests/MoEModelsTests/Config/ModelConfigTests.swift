import Foundation
import Testing
@testable import MoEModels

@Suite struct ModelConfigTests {
    static let configs = TestSupport.fixtures.appendingPathComponent("configs")
    static let fixtureNames = [
        "mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "legacy-mixtral", "legacy-qwen2_moe",
        "minimal-mixtral", "minimal-qwen2_moe", "minimal-qwen3_moe", "minimal-olmoe",
    ]

    /// Every fixture, against what transformers 5.23 made of the same file
    /// (scripts/fixtures/make_config_fixtures.py), including the shapes its modeling code built.
    @Test(arguments: fixtureNames)
    func decodesLikeTransformers(name: String) throws {
        let all = try TestSupport.readJSON(Self.configs.appendingPathComponent("expected.json"))
        let e = try #require(all[name] as? [String: Any])
        let c = try ModelConfig.load(from: Self.configs.appendingPathComponent(name))
        func int(_ key: String) -> Int? { (e[key] as? NSNumber)?.intValue }
        func float(_ key: String) -> Float? { (e[key] as? NSNumber).map { Float($0.doubleValue) } }
        func bool(_ key: String) -> Bool? { (e[key] as? NSNumber)?.boolValue }

        #expect(c.modelType == e["model_type"] as? String)
        #expect(c.vocabSize == int("vocab_size"))
        #expect(c.hiddenSize == int("hidden_size"))
        #expect(c.intermediateSize == int("intermediate_size"))
        #expect(c.moeIntermediateSize == int("expert_intermediate_size"))
        #expect(c.sharedExpertIntermediateSize == int("shared_expert_intermediate_size"))
        #expect(c.numHiddenLayers == int("num_hidden_layers"))
        #expect(c.numAttentionHeads == int("num_attention_heads"))
        #expect(c.numKeyValueHeads == int("num_key_value_heads"))
        #expect(c.headDim == int("head_dim"))
        #expect(c.numExperts == int("num_experts"))
        #expect((0..<c.numHiddenLayers).map { c.expertCount(layer: $0) } == TestSupport.ints(e["experts_per_layer"]))
        #expect(c.sparseLayers == TestSupport.ints(e["sparse_layers"]))
        #expect(c.numExpertsPerToken == int("num_experts_per_tok"))
        #expect(c.normTopKProb == bool("norm_topk_prob"))
        #expect(c.attentionBias == bool("qkv_bias"))
        #expect(c.attentionOutputBias == bool("o_proj_bias"))
        #expect(c.rmsNormEps == float("rms_norm_eps"))
        #expect(c.ropeTheta == (e["rope_theta"] as? NSNumber)?.doubleValue)
        #expect(c.ropeType == e["rope_type"] as? String)
        #expect(c.tieWordEmbeddings == bool("tie_word_embeddings"))
        #expect(c.routerAuxLossCoef == float("router_aux_loss_coef"))
        #expect(c.maxPositionEmbeddings == int("max_position_embeddings"))
        #expect(c.bosTokenId == int("bos_token_id"))
        #expect(c.eosTokenId == int("eos_token_id"))
        #expect(c.clipQKV == float("clip_qkv"))
        #expect(c.slidingWindow == int("sliding_window"))
        #expect(c.torchDtype == e["dtype"] as? String)
        #expect(c.expertsPerLayer == nil)
    }

    @Test(arguments: fixtureNames)
    func encodingRoundTrips(name: String) throws {
        let config = try ModelConfig.load(from: Self.configs.appendingPathComponent(name))
        let data = try JSONEncoder().encode(config)
        #expect(try ModelConfig.decode(data) == config)
    }

    @Test(.enabled(if: TestSupport.sharedDataExists("configs/mixtral-8x7b-v0.1/config.json"), "needs ../shared/data"))
    func decodesRealMixtral() throws {
        let c = try ModelConfig.load(
            from: TestSupport.sharedData.appendingPathComponent("configs/mixtral-8x7b-v0.1/config.json"))
        #expect(c.family == .mixtral)
        #expect(
            c.vocabSize == 32000 && c.hiddenSize == 4096 && c.intermediateSize == 14336
                && c.moeIntermediateSize == 14336)
        #expect(c.numHiddenLayers == 32 && c.numAttentionHeads == 32 && c.numKeyValueHeads == 8 && c.headDim == 128)
        #expect(c.numExperts == 8 && c.numExpertsPerToken == 2 && c.normTopKProb)
        #expect(c.rmsNormEps == 1e-5 && c.ropeTheta == 1_000_000 && c.routerAuxLossCoef == 0.02)
        #expect(c.maxPositionEmbeddings == 32768 && c.bosTokenId == 1 && c.eosTokenId == 2)
        #expect(!c.tieWordEmbeddings && !c.attentionBias && c.slidingWindow == nil && c.torchDtype == "bfloat16")
        #expect(c.sparseLayers == Array(0..<32) && c.sharedExpertIntermediateSize == 0)
    }

    @Test(.enabled(if: TestSupport.sharedDataExists("configs/qwen3-30b-a3b/config.json"), "needs ../shared/data"))
    func decodesRealQwen3() throws {
        let c = try ModelConfig.load(from: TestSupport.sharedData.appendingPathComponent("configs/qwen3-30b-a3b"))
        #expect(c.family == .qwen3Moe)
        #expect(
            c.vocabSize == 151936 && c.hiddenSize == 2048 && c.intermediateSize == 6144 && c.moeIntermediateSize == 768)
        #expect(c.numHiddenLayers == 48 && c.numAttentionHeads == 32 && c.numKeyValueHeads == 4 && c.headDim == 128)
        #expect(c.numExperts == 128 && c.numExpertsPerToken == 8 && c.normTopKProb)
        #expect(c.rmsNormEps == 1e-6 && c.ropeTheta == 1_000_000 && c.routerAuxLossCoef == 0.001)
        #expect(c.maxPositionEmbeddings == 40960 && c.bosTokenId == 151643 && c.eosTokenId == 151645)
        #expect(!c.tieWordEmbeddings && !c.attentionBias && c.slidingWindow == nil && c.torchDtype == "bfloat16")
        #expect(c.sparseLayers.count == 48 && c.decoderSparseStep == 1 && c.mlpOnlyLayers.isEmpty)
    }

    // MARK: - Failing inputs: each error names the file

    static let minimal =
        #""model_type": "mixtral", "vocab_size": 64, "hidden_size": 64, "intermediate_size": 16, "#
        + #""num_hidden_layers": 2, "num_attention_heads": 8"#

    static func load(_ json: String) throws -> ModelConfig {
        try TestSupport.withTemporaryDirectory { dir in
            try json.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
            return try ModelConfig.load(from: dir)
        }
    }

    static func error(_ json: String) throws -> ConfigError {
        try #require(throws: ConfigError.self) { try load(json) }
    }

    @Test func unknownModelType() throws {
        let error = try Self.error(#"{"model_type": "llama", "hidden_size": 8}"#)
        guard case let .unknownModelType(file, type) = error else { Issue.record("got \(error)"); return }
        #expect(file.hasSuffix("/config.json") && type == "llama")
        #expect(error.description.contains("config.json: unsupported model_type 'llama'"))
    }

    @Test func missingRequiredKeys() throws {
        for key in [
            "hidden_size", "vocab_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "model_type",
        ] {
            let json =
                "{" + Self.minimal.split(separator: ",").filter { !$0.contains("\"\(key)\"") }.joined(separator: ",")
                + "}"
            let error = try Self.error(json)
            guard case let .missingKey(file, missing) = error else { Issue.record("\(key): got \(error)"); continue }
            #expect(missing == key && file.hasSuffix("config.json"))
            #expect(error.description.hasSuffix("config.json: missing required key '\(key)'"))
        }
    }

    @Test func badJSONWrongTypesAndMissingFile() throws {
        guard case .invalidJSON = try Self.error("{ \"model_type\": ") else {
            Issue.record("bad JSON accepted"); return
        }
        guard case .invalidJSON = try Self.error("[1, 2]") else { Issue.record("array accepted"); return }
        let wrongType = try Self.error(
            "{" + Self.minimal.replacingOccurrences(of: "\"hidden_size\": 64", with: "\"hidden_size\": \"big\"") + "}")
        guard case .invalidValue(_, "hidden_size", _) = wrongType else { Issue.record("got \(wrongType)"); return }
        let absent = URL(fileURLWithPath: "/nonexistent/expertlock/config.json")
        #expect(throws: ConfigError.fileNotFound(file: absent.path)) { try ModelConfig.load(from: absent) }
    }

    @Test func conflictingExpertCounts() throws {
        let error = try Self.error("{" + Self.minimal + #", "num_local_experts": 8, "num_experts": 4}"#)
        guard case .conflictingKeys(_, "num_local_experts", "num_experts") = error else {
            Issue.record("got \(error)"); return
        }
        #expect(try Self.load("{" + Self.minimal + #", "num_local_experts": 4, "num_experts": 4}"#).numExperts == 4)
    }

    @Test func validationFailures() throws {
        let cases = [
            #", "num_key_value_heads": 3"#,  // 8 heads
            #", "num_local_experts": 2, "num_experts_per_tok": 3"#,
            #", "expertlock_experts_per_layer": [8]"#,  // 2 layers
            #", "expertlock_experts_per_layer": [8, 1]"#,  // top-2 in a 1-expert layer
            #", "rms_norm_eps": 0"#,
        ]
        for extra in cases {
            let error = try Self.error("{" + Self.minimal + extra + "}")
            guard case let .invalid(file, reason) = error else { Issue.record("\(extra): got \(error)"); continue }
            #expect(file.hasSuffix("config.json") && !reason.isEmpty)
        }
    }

    @Test func legacyAndV5SpellingsAgree() throws {
        let v5 = try Self.load(
            "{" + Self.minimal
                + #", "rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"}, "dtype": "float16", "#
                + #""eos_token_id": [7, 8], "head_dim": null, "num_key_value_heads": null}"#
        )
        let v4 = try Self.load(
            "{" + Self.minimal
                + #", "rope_theta": 500000, "torch_dtype": "float16", "eos_token_id": 7, "num_key_value_heads": 8}"#)
        #expect(v5 == v4)
        #expect(v5.ropeTheta == 500_000 && v5.torchDtype == "float16" && v5.eosTokenId == 7 && v5.numKeyValueHeads == 8)
    }

    @Test func sparseLayersFollowQwenRules() throws {
        var c = ModelConfig(
            modelType: "qwen2_moe", vocabSize: 8, hiddenSize: 8, intermediateSize: 8, numHiddenLayers: 6,
            numAttentionHeads: 2, numExperts: 4, decoderSparseStep: 2, mlpOnlyLayers: [3],
            expertsPerLayer: [9, 3, 9, 9, 9, 2])
        #expect(c.sparseLayers == [1, 5])
        #expect((0..<6).map { c.expertCount(layer: $0) } == [0, 3, 0, 0, 0, 2])
        try c.validate()
        c.numExperts = 0
        #expect(c.sparseLayers.isEmpty)
        c.modelType = "mixtral"
        #expect(c.isSparseLayer(3))
    }
}
