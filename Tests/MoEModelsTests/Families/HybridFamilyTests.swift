import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// The hybrid linear-attention families (Qwen3-Next, Qwen3.5-MoE) beyond the logits FamilyParityTests compares:
/// greedy decoding with the state cache against transformers' `generate`, the cache's recurrent states, the
/// loss gradient through Gated DeltaNet and gated attention, and the configs refused as bad input.
struct HybridFamilyTests {
    static let cases = FamilyParityTests.cases.filter { $0.hasPrefix("qwen3_next_") || $0.hasPrefix("qwen3_5_moe_") }

    struct Generation: Decodable {
        let prompt: [Int]
        let generated: [Int]
    }

    static func generation(_ name: String) throws -> Generation {
        let url = FamilyParityTests.fixture(name).appendingPathComponent("expected.json")
        return try JSONDecoder().decode(Generation.self, from: Data(contentsOf: url))
    }

    @Test func bothFamiliesHaveFixtures() {
        #expect(Self.cases.filter { $0.hasPrefix("qwen3_next_") }.count >= 2)
    }

    /// Prefill (chunked rule, convolution from zeros) then one token at a time (recurrent rule, convolution over
    /// its kept inputs) picks transformers' tokens; so does recomputing the whole sequence at every step.
    @Test(arguments: cases)
    func greedyDecodingWithStateCacheMatchesGenerate(_ name: String) throws {
        let reference = try Self.generation(name)
        let model = try ModelLoader.load(directory: FamilyParityTests.fixture(name))
        let cached = try Generator.greedy(
            model: model, prompt: reference.prompt, maxNewTokens: reference.generated.count)
        #expect(cached.tokens == reference.generated, "\(name): cached")
        let full = try Generator.greedy(
            model: model, prompt: reference.prompt, maxNewTokens: reference.generated.count, useCache: false)
        #expect(full.tokens == reference.generated, "\(name): uncached")
        for (a, b) in zip(cached.logits, full.logits) {
            #expect(zip(a, b).map { abs($0 - $1) }.max()! <= 1e-4, "\(name): step logits")
        }
    }

    /// Linear-attention layers keep a recurrent state and no keys; attention layers keep keys.
    @Test func linearLayersKeepStatesNotKeys() throws {
        let name = try #require(Self.cases.first)
        let model = try ModelLoader.load(directory: FamilyParityTests.fixture(name))
        let cache = KVCache(model: model)
        _ = try model.forward(TokenBatch([1, 2, 3, 4, 5]), cache: cache)
        let linear = try #require(model.config.linearAttention)
        for layer in model.layers.indices {
            if linear.isLinear(layer) {
                #expect(cache.layers[layer].rows == 0 && cache.recurrentStates[layer] != nil)
            } else {
                #expect(cache.layers[layer].rows == 5 && cache.recurrentStates[layer] == nil)
            }
        }
        #expect(cache.length == 5)
    }

    @Test(arguments: cases.filter { $0.hasPrefix("qwen3_next_") })
    func lossGradientMatchesFiniteDifferences(_ name: String) throws {
        let model = try ModelLoader.load(directory: FamilyParityTests.fixture(name), residency: .resident)
        for p in model.parameters { try p.setTrainable(true) }
        let ids = Array(try FamilyParityTests.expected(name).ids.prefix(9))
        let batch = TokenBatch(ids)
        let targets = Array(ids.dropFirst()) + [-100]
        func loss() throws -> (Float, [[Int]]) {
            let choices = FamilyGradientTests.Choices()
            var options = ForwardOptions(recordRouterLogits: false)
            options.observer = choices
            let out = try model.forward(batch, options: options)
            return (out.languageModelLoss(targets: targets).value.scalar, choices.experts)
        }
        let choices = FamilyGradientTests.Choices()
        var options = ForwardOptions(recordRouterLogits: false)
        options.observer = choices
        try model.forward(batch, options: options).languageModelLoss(targets: targets).backward()
        let routing = choices.experts
        var checked = Set<String>()
        var pick = SplitMix64(seed: 9)
        for p in model.parameters {
            let leaf = try #require(p.residentVariable)
            guard let grad = leaf.grad else { continue }
            for _ in 0..<2 {
                let i = Int(pick.next() % UInt64(leaf.value.count))
                let original = leaf.value.data[i]
                // Central differences at h and h/2, combined (Richardson) to cancel the h² term: the loss of
                // these checkpoints curves enough that one step of 1e-2 misses by a few percent.
                var slopes: [Float] = []
                var sameRouting = true
                for h: Float in [1e-2, 5e-3] {
                    leaf.value.data[i] = original + h
                    let (up, routingUp) = try loss()
                    leaf.value.data[i] = original - h
                    let (down, routingDown) = try loss()
                    leaf.value.data[i] = original
                    sameRouting = sameRouting && routingUp == routing && routingDown == routing
                    slopes.append((up - down) / (2 * h))
                }
                guard sameRouting else { continue }
                let numeric = (4 * slopes[1] - slopes[0]) / 3
                #expect(abs(numeric - grad.data[i]) <= 2e-3 + 2e-2 * abs(grad.data[i]), "\(name) \(p.name)[\(i)]")
                checked.insert(p.name)
            }
        }
        // Every part of Gated DeltaNet and of the gated attention was probed.
        for part in [
            "in_proj_qkvz", "in_proj_ba", "conv1d", "dt_bias", "A_log", "linear_attn.norm", "out_proj",
            "self_attn.q_proj", "self_attn.q_norm", "input_layernorm", "model.norm",
        ] {
            #expect(checked.contains { $0.contains(part) }, "\(name): \(part) not checked")
        }
    }

    /// `layer_types` defaults to three linear layers then a full one; a wrong list or head split is refused.
    @Test func layerTypesAndBadConfigs() throws {
        let name = "qwen3_next_bf16_noshared_conv3"
        try FamilyLoadingTests.withCopy(
            name,
            edit: {
                $0["layer_types"] = nil
                $0["num_hidden_layers"] = 3
            }
        ) { dir in
            let config = try ModelConfig.load(from: dir)
            #expect(config.linearAttention?.layerTypes == ["linear_attention", "linear_attention", "linear_attention"])
        }
        let bad: [(String, Any)] = [
            ("layer_types", ["full_attention", "linear_attention"]), ("layer_types", ["full_attention", "mamba", "x"]),
            ("linear_num_value_heads", 3), ("linear_conv_kernel_dim", 0),
        ]
        for (key, value) in bad {
            try FamilyLoadingTests.withCopy(name, edit: { $0[key] = value }) { dir in
                #expect(throws: ConfigError.self, "\(key)") { try ModelConfig.load(from: dir) }
            }
        }
    }
}
