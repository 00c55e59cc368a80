import Foundation
import Testing
import MoEModels
@testable import ExpertLock

/// Sliding-window perplexity of the families added as components (DeepSeek-V3, GLM-4.5, …) equals
/// transformers' to 1e-4 relative, on the fixtures of scripts/fixtures/make_family_fixtures.py.
struct FamilyPerplexityTests {
    @Test(arguments: Fixtures.familyCases)
    func matchesTransformers(_ name: String) throws {
        let url = Fixtures.family(name)
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
            #expect(
                abs(result.perplexity - reference) / reference <= 1e-4, "\(name) L=\(entry.context) S=\(entry.stride)")
        }
    }
}
