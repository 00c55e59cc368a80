import Foundation
import MoEModels
import Testing

@testable import ExpertLock

/// Partials of shards, combined in batch order, are `evaluate`'s result bit for bit.
struct PerplexityShardTests {
    @Test(arguments: ["mixtral_f32_gqa2", "qwen2_moe_bf16_norm_tied"])
    func shardsCombineToEvaluateBitForBit(_ name: String) throws {
        let model = try ModelLoader.load(directory: Fixtures.model(name))
        let ids = (0..<97).map { ($0 * 13 + 5) % model.config.vocabSize }
        let parameters = Perplexity.Parameters(context: 16, stride: 6, batchSize: 3)
        let whole = try Perplexity.evaluate(model: model, ids: ids, parameters: parameters)
        let batches = try Perplexity.batchCount(ids: ids, parameters: parameters)
        for count in [1, 2, 3, batches] {
            let parts = try (0..<count).flatMap {
                try Perplexity.partials(
                    model: model, ids: ids, parameters: parameters, shard: try Shard(index: $0, count: count))
            }
            #expect(parts.map(\.batch) == Array(0..<batches))
            let combined = try Perplexity.combine(parts.reversed())
            #expect(combined.nll.bitPattern == whole.nll.bitPattern, "\(count) shards: \(combined.nll) vs \(whole.nll)")
            #expect(combined.perplexity.bitPattern == whole.perplexity.bitPattern)
            #expect(combined.tokens == whole.tokens)
        }
    }
}
