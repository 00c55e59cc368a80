import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// Greedy decoding with the KV cache through the families added as components (multi-head latent attention,
/// YaRN, partial rotary, FP8 weights) against transformers' `generate` with its cache
/// (scripts/fixtures/make_family_generation_fixtures.py, generation/families.json), and against recomputing
/// the whole sequence at every step.
struct FamilyGenerationTests {
    static let expected: GeneratorTests.Expected? = {
        let url = TestSupport.fixtures.appendingPathComponent("generation/families.json")
        return try? JSONDecoder().decode(GeneratorTests.Expected.self, from: Data(contentsOf: url))
    }()
    static let cases = expected?.cases.map(\.model) ?? []

    @Test func coversLatentAttention() {
        #expect(
            Self.cases.contains { $0.hasPrefix("deepseek_v3_") }
                && Self.cases.contains { $0.hasPrefix("glm4_moe_lite_") })
        #expect(Self.cases.contains { $0.hasPrefix("deepseek_v2_") } && Self.cases.contains { $0.contains("_fp8_") })
    }

    @Test(arguments: cases)
    func greedyMatchesTransformersGenerate(_ name: String) throws {
        let reference = try #require(Self.expected?.cases.first { $0.model == name })
        let model = try ModelLoader.load(directory: FamilyParityTests.fixture(name))
        let output = try Generator.greedy(model: model, prompt: reference.prompt, maxNewTokens: reference.tokens.count)
        #expect(output.tokens == reference.tokens, "\(name)")
        let difference = GeneratorTests.maxDifference(output.logits, reference.logits.map { $0.map(Float.init) })
        #expect(difference <= 1e-4, "\(name): logits differ by \(difference)")
        let recomputed = try Generator.greedy(
            model: model, prompt: reference.prompt, maxNewTokens: reference.tokens.count, useCache: false)
        #expect(
            recomputed.tokens == output.tokens && GeneratorTests.maxDifference(recomputed.logits, output.logits) <= 1e-4
        )
    }
}
