import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// Issue 25's families and components against transformers 5.25 (scripts/fixtures/make_local_attention_fixtures.py):
/// gpt-oss (sinks, sliding/full layers, YaRN, biased router, clamped SwiGLU, fused BF16 and MXFP4 experts),
/// Llama-4 text (chunks, NoPE, L2 q/k norm, temperature, routing on the expert input, shared expert), and
/// sliding windows shorter than the sequence for Mixtral, Qwen2-MoE (`max_window_layers`) and Qwen3-MoE.
/// Logits, routing, perplexity and pruning of the gpt-oss and Llama-4 fixtures run in FamilyParityTests and
/// FamilyPerplexityTests with every other family's; this suite adds decoding, the windows and MXFP4 bytes.
struct LocalAttentionFamilyTests {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static let windowCases: [String] = {
        let folder = root.appendingPathComponent("windows").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.hasPrefix("_") }.sorted()
    }()

    static let familyCases = FamilyParityTests.cases.filter { $0.hasPrefix("gpt_oss_") || $0.hasPrefix("llama4_text_") }

    static func url(_ name: String) -> URL {
        root.appendingPathComponent(windowCases.contains(name) ? "windows/\(name)" : "families/\(name)")
    }

    struct Expected: Decodable {
        struct Generate: Decodable {
            let prompt: [Int]
            let tokens: [Int]
            let logits: [[Double]]
        }
        let ids: [Int]
        let logits: [[Double]]
        let generate: Generate
        let pruned_dropped: [Int]
        let pruned_logits: [[Double]]
    }

    static func expected(_ name: String) throws -> Expected {
        let data = try Data(contentsOf: url(name).appendingPathComponent("expected.json"))
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    @Test func fixturesCoverEveryVariant() {
        #expect(Self.windowCases.count == 3)
        #expect(Self.familyCases.filter { $0.hasPrefix("gpt_oss_") }.count >= 3)
        #expect(Self.familyCases.contains { $0.hasPrefix("gpt_oss_mxfp4") })
        #expect(Self.familyCases.filter { $0.hasPrefix("llama4_text_") }.count >= 2)
    }

    /// The windows are shorter than the 13 tokens, so the logits differ from full attention's: parity means
    /// the window is applied, on the layers transformers applies it to.
    @Test(arguments: windowCases)
    func slidingWindowLogitsMatchTransformers(_ name: String) throws {
        let expected = try Self.expected(name)
        let model = try ModelLoader.load(directory: Self.url(name))
        #expect(model.layers.contains { $0.attention.span != .full }, "\(name): no layer slides")
        let logits = try model.forward(TokenBatch(expected.ids)).logits.value
        #expect(ModelParityTests.maxDifference(logits, expected.logits) <= 1e-4, "\(name)")
        // Pruned by `expertlock prune --drop 1,N-1` and reloaded in transformers, as the masked original.
        let dropped = Set(expected.pruned_dropped)
        model.maskExperts(model.moeBlocks.map { block in (0..<block.expertCount).map { !dropped.contains($0) } })
        let masked = try model.forward(TokenBatch(expected.ids)).logits.value
        #expect(ModelParityTests.maxDifference(masked, expected.pruned_logits) <= 1e-4, "\(name): pruned")
    }

    @Test func qwen2MoeSlidesOnlyBelowMaxWindowLayers() throws {
        let model = try ModelLoader.load(directory: Self.url("qwen2_moe_f32_window3_max_window_layers"))
        // max_window_layers 3: layers 0 and 2 slide ((i + 1) odd), layer 1 and layer 3 do not.
        #expect(model.layers.map(\.attention.span) == [.sliding(window: 3), .full, .sliding(window: 3), .full])
    }

    /// Greedy decoding with the KV cache (sliding and chunked spans, sinks, NoPE temperature by position)
    /// gives transformers' `generate` tokens, and its logits to 1e-4.
    @Test(arguments: familyCases + windowCases)
    func greedyDecodingMatchesTransformersGenerate(_ name: String) throws {
        let expected = try Self.expected(name).generate
        let model = try ModelLoader.load(directory: Self.url(name))
        let output = try Generator.greedy(model: model, prompt: expected.prompt, maxNewTokens: expected.tokens.count)
        #expect(output.tokens == expected.tokens, "\(name)")
        let worst = zip(output.logits, expected.logits).map { ours, theirs in
            zip(ours, theirs).map { abs(Double($0) - $1) }.max() ?? 0
        }.max()
        #expect((worst ?? .infinity) <= 1e-4, "\(name): logits differ by \(worst ?? .infinity)")
        // The prompt (6 tokens) and the 12 new ones cross every window and chunk: recomputing agrees.
        let recomputed = try Generator.greedy(
            model: model, prompt: expected.prompt, maxNewTokens: expected.tokens.count, useCache: false)
        #expect(recomputed.tokens == output.tokens, "\(name): cache vs recompute")
    }

    /// A pruned MXFP4 checkpoint keeps each kept expert's blocks, scales and biases byte for byte, in the
    /// layout it had, and loads again with the experts it kept.
    @Test func prunedMXFP4KeepsTheKeptExpertsBytes() throws {
        let source = Self.url("gpt_oss_mxfp4_window4")
        let model = try ModelLoader.load(directory: source)
        #expect(model.quantizedExperts != nil)
        let kept = model.moeBlocks.map { _ in [0, 2, 3] }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("el-mxfp4-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        try model.keepingExperts(kept).save(
            to: out, dtype: .bf16, configSource: source.appendingPathComponent("config.json"))
        let before = try SafeTensorsCheckpoint(directory: source), after = try SafeTensorsCheckpoint(directory: out)
        #expect(Set(before.tensorNames) == Set(after.tensorNames), "same tensor names: the layout is kept")
        var compared = 0
        for name in before.tensorNames where name.contains("experts.") {
            let original = try #require(before.file(containing: name))
            let pruned = try #require(after.file(containing: name))
            #expect(after.info(name)?.dtype == before.info(name)?.dtype, "\(name)")
            for (row, expert) in kept[0].enumerated() {
                let a = try original.storedTensor(name, rows: expert..<(expert + 1)).bytes
                let b = try pruned.storedTensor(name, rows: row..<(row + 1)).bytes
                #expect(a == b, "\(name): expert \(expert)")
                compared += 1
            }
        }
        #expect(compared == 2 * 6 * 3)  // 2 layers × (blocks, scales, bias of gate_up and down) × 3 experts
        let reloaded = try ModelLoader.load(directory: out)
        let ids = try Self.expected("gpt_oss_mxfp4_window4").ids
        model.maskExperts(model.moeBlocks.map { _ in [true, false, true, true] })
        let difference = try maxAbsDifference(
            reloaded.forward(TokenBatch(ids)).logits.value, model.forward(TokenBatch(ids)).logits.value)
        #expect(difference <= 1e-5)
    }

    @Test func gptOssConfigDefaultsFollowTransformers() throws {
        let keys = """
            {"model_type": "gpt_oss", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 4,
             "num_hidden_layers": 3, "num_attention_heads": 2}
            """
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(keys.utf8))
        #expect(config.layerTypes == ["sliding_attention", "full_attention", "sliding_attention"])
        #expect(config.attentionSpan(layer: 0) == .sliding(window: 128) && config.attentionSpan(layer: 1) == .full)
        #expect(config.rotaryScaling == .yarn(GptOss.defaultYarn) && config.ropeTheta == 150_000)
        #expect(config.expertActivation == .clampedSwiGLU(alpha: 1.702, limit: 7))
        #expect(config.attentionSinks && config.attentionBias && config.headDim == 64)
        let quantized = keys.replacingOccurrences(of: "}", with: #", "quantization_config": {"quant_method": "awq"}}"#)
        #expect(throws: ConfigError.self) { try JSONDecoder().decode(ModelConfig.self, from: Data(quantized.utf8)) }
    }

    @Test func llama4ConfigDefaultsFollowTransformers() throws {
        let keys = """
            {"model_type": "llama4_text", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 4,
             "num_hidden_layers": 4, "num_attention_heads": 2, "interleave_moe_layer_step": 2}
            """
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(keys.utf8))
        // no_rope_layers: every 4th layer is NoPE (full attention), the others chunked by 8192.
        #expect(config.ropeLayers == [true, true, true, false])
        let chunk = AttentionSpan.chunked(size: 8192)
        #expect((0..<4).map(config.attentionSpan) == [chunk, chunk, chunk, .full])
        #expect(config.sparseLayers == [1, 3] && config.intermediateSize == 16384 && config.moeIntermediateSize == 4)
        #expect(config.qkNorm == .l2AfterRotary && config.queryTemperature == QueryTemperature(scale: 0.1, floor: 8192))
    }
}

func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape)
    return zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0
}
