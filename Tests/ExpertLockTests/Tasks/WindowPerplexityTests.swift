import Foundation
import Testing
import MoEModels
@testable import ExpertLock

/// Sliding-window perplexity (batches of 3, right-padded) of Mixtral, Qwen2-MoE and Qwen3-MoE checkpoints whose
/// attention window is shorter than the context equals transformers' to 1e-4 relative
/// (scripts/fixtures/make_local_attention_fixtures.py).
struct WindowPerplexityTests {
    static let root = Fixtures.packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures/windows")
    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.hasPrefix("_") }.sorted()
    }()

    @Test func everyWindowFixtureIsFound() { #expect(Self.cases.count == 3) }

    @Test(arguments: cases)
    func matchesTransformers(_ name: String) throws {
        let url = Self.root.appendingPathComponent(name)
        let expected = try JSONDecoder().decode(
            PerplexityTests.Expected.self, from: Data(contentsOf: url.appendingPathComponent("expected.json")))
        let model = try ModelLoader.load(directory: url)
        #expect(expected.perplexity.count == 3)
        for entry in expected.perplexity {
            let result = try Perplexity.evaluate(
                model: model, ids: expected.perplexity_ids,
                parameters: .init(context: entry.context, stride: entry.stride, batchSize: 3))
            #expect(result.tokens == entry.tokens, "\(name) L=\(entry.context) S=\(entry.stride)")
            let reference = exp(entry.nll_sum / Double(entry.tokens))
            let setting = "\(name) L=\(entry.context) S=\(entry.stride)"
            #expect(abs(result.perplexity - reference) / reference <= 1e-4, "\(setting)")
        }
    }
}
