import Foundation
import Testing
import MoEModels
@testable import ExpertLock

struct PerplexityTests {
    struct Expected: Decodable {
        struct Entry: Decodable { let context: Int; let stride: Int; let nll_sum: Double; let tokens: Int }
        let perplexity_ids: [Int]
        let perplexity: [Entry]
    }

    /// Perplexity equals transformers' (sliding-window recipe, token NLLs summed) to 1e-4 relative.
    @Test(arguments: Fixtures.modelCases)
    func matchesTransformers(_ name: String) throws {
        let url = Fixtures.model(name)
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: url.appendingPathComponent("expected.json")))
        let model = try ModelLoader.load(directory: url)
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

    @Test func windowsScoreEveryTokenOnce() {
        for (n, context, stride) in [(37, 16, 5), (37, 16, 16), (10, 4, 1), (100, 32, 7), (5, 8, 8)] {
            var scored = [Int](repeating: 0, count: n)
            for w in Perplexity.windows(count: n, context: context, stride: stride) {
                #expect(w.end - w.begin <= context)
                for p in w.firstScored..<(w.end - w.begin - 1) { scored[w.begin + p + 1] += 1 }
            }
            // Each window's first token has no context in it: with stride == context those are skipped.
            #expect(scored[0] == 0)
            #expect(scored.allSatisfy { $0 <= 1 })
            if stride < context { #expect(scored.dropFirst().allSatisfy { $0 == 1 }) }
        }
    }

    @Test func badWindowIsAnInputError() throws {
        let model = try ModelLoader.load(directory: Fixtures.model("olmoe_f32_mha"))
        #expect(throws: EvaluationError.badWindow(context: 8, stride: 9)) {
            try Perplexity.evaluate(model: model, ids: [1, 2, 3], parameters: .init(context: 8, stride: 9))
        }
        #expect(throws: EvaluationError.tooFewTokens(1)) {
            try Perplexity.evaluate(model: model, ids: [1])
        }
    }
}
