import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// Greedy decoding with the KV cache against recomputing the whole sequence, and against
/// transformers' `generate` (scripts/fixtures/make_task_fixtures.py, generation/expected.json).
struct GeneratorTests {
    struct Expected: Decodable {
        struct Case: Decodable {
            let model: String
            let prompt: [Int]
            let tokens: [Int]
            let logits: [[Double]]
        }
        let cases: [Case]
    }

    static func model(_ name: String) throws -> MoEModel {
        try ModelLoader.load(directory: TestSupport.fixtures.appendingPathComponent("models/\(name)"))
    }

    static func maxDifference(_ a: [[Float]], _ b: [[Float]]) -> Float {
        #expect(a.count == b.count && zip(a, b).allSatisfy { $0.count == $1.count })
        return zip(a, b).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
    }

    /// Ids of a fixed pseudo-random prompt inside the model's vocabulary.
    static func prompt(_ count: Int, vocabulary: Int, seed: Int) -> [Int] {
        (0..<count).map { (($0 + 1) * 7919 + seed * 104_729) % vocabulary }
    }

    @Test(arguments: ModelParityTests.cases)
    func kvCacheMatchesRecomputingTheSequence(_ name: String) throws {
        let model = try Self.model(name)
        let prompt = Self.prompt(9, vocabulary: model.config.vocabSize, seed: 3)
        let cached = try Generator.greedy(model: model, prompt: prompt, maxNewTokens: 16)
        let recomputed = try Generator.greedy(model: model, prompt: prompt, maxNewTokens: 16, useCache: false)
        #expect(cached.tokens == recomputed.tokens, "\(name)")
        #expect(cached.tokens.count == 16 && cached.stopReason == .maxTokens)
        #expect(Self.maxDifference(cached.logits, recomputed.logits) <= 1e-4, "\(name)")
    }

    @Test(arguments: ModelParityTests.cases)
    func greedyMatchesTransformersGenerate(_ name: String) throws {
        let url = TestSupport.fixtures.appendingPathComponent("generation/expected.json")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: url))
        let reference = try #require(expected.cases.first { $0.model == name })
        let model = try Self.model(name)
        let output = try Generator.greedy(model: model, prompt: reference.prompt, maxNewTokens: reference.tokens.count)
        #expect(output.tokens == reference.tokens, "\(name)")
        let difference = Self.maxDifference(output.logits, reference.logits.map { $0.map(Float.init) })
        #expect(difference <= 1e-4, "\(name): logits differ by \(difference)")
    }

    /// Prefill in pieces (positions continue from the cache, causal within each block) gives the
    /// logits of one full forward pass.
    @Test(arguments: ["mixtral_bf16_tied_mqa", "qwen3_moe_f32_headdim", "olmoe_bf16_gqa_clip_norm"])
    func chunkedPrefillMatchesFullForward(_ name: String) throws {
        let model = try Self.model(name)
        let ids = Self.prompt(13, vocabulary: model.config.vocabSize, seed: 5)
        let full = try model.forward(TokenBatch(ids)).logits.value
        let cache = KVCache(model: model)
        var rows: [Float] = []
        for piece in [0..<5, 5..<6, 6..<13] {
            rows += try model.forward(TokenBatch(Array(ids[piece])), cache: cache).logits.value.data
            #expect(cache.length == piece.upperBound)
        }
        #expect(Tensor(shape: full.shape, data: rows).maxAbsDifference(full) <= 1e-4, "\(name)")
        #expect(cache.layers.allSatisfy { $0.rows == 13 })
        cache.truncate(to: 6)
        let again = try model.forward(TokenBatch(Array(ids[6...])), cache: cache).logits.value
        #expect(again.maxAbsDifference(full.rows(6..<13)) <= 1e-4)
    }

    @Test func stopsAtAStopTokenAndKeepsIt() throws {
        let model = try Self.model("olmoe_f32_mha")
        let prompt = Self.prompt(6, vocabulary: model.config.vocabSize, seed: 1)
        let free = try Generator.greedy(model: model, prompt: prompt, maxNewTokens: 10)
        let stop = free.tokens[3]
        let first = try #require(free.tokens.firstIndex(of: stop))
        let stopped = try Generator.greedy(model: model, prompt: prompt, maxNewTokens: 10, stopTokens: [stop])
        #expect(stopped.stopReason == .stopToken)
        #expect(stopped.tokens == Array(free.tokens[...first]))
        #expect(stopped.logits.count == stopped.tokens.count)
    }

    @Test func deterministicAndBounded() throws {
        let model = try Self.model("qwen2_moe_f32_shared_dense")
        let prompt = Self.prompt(5, vocabulary: model.config.vocabSize, seed: 2)
        let a = try Generator.greedy(model: model, prompt: prompt, maxNewTokens: 7, recordLogits: false)
        let b = try Generator.greedy(model: model, prompt: prompt, maxNewTokens: 7, recordLogits: false)
        #expect(a.tokens == b.tokens && a.tokens.count == 7 && a.logits.isEmpty)
        #expect(try Generator.greedy(model: model, prompt: prompt, maxNewTokens: 0).tokens.isEmpty)
        #expect(throws: GenerationError.emptyPrompt) { try Generator.greedy(model: model, prompt: [], maxNewTokens: 3) }
        #expect(throws: ModelError.tokenOutOfRange(id: 999, vocabSize: model.config.vocabSize)) {
            try Generator.greedy(model: model, prompt: [1, 999], maxNewTokens: 3)
        }
    }

    @Test func argmaxTakesTheFirstOfEqualMaxima() {
        #expect(Generator.argmax([1, 3, 3, 2]) == 1)
        #expect(Generator.argmax([-1]) == 0)
    }
}
