import Foundation
import Testing
import MoEModels
import TensorCore
@testable import ExpertLock

struct AttributionTests {
    static func batches(vocab: Int, count: Int, seed: UInt64) -> [TokenBatch] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let lengths = [9, 6]
            return TokenBatch(padding: lengths.map { n in (0..<n).map { _ in Int(rng.next() % UInt64(vocab)) } })
        }
    }

    @Test(arguments: ["mixtral_f32_gqa2", "qwen2_moe_f32_shared_dense", "olmoe_bf16_gqa_clip_norm"])
    func sharesSumToOneAndCountsAddUp(_ name: String) throws {
        let model = try ModelLoader.load(directory: Fixtures.model(name))
        let attribution = try Attribution.run(
            model: model, modelPath: name, batches: Self.batches(vocab: model.config.vocabSize, count: 3, seed: 1))
        #expect(attribution.tokens == 3 * 15)  // padding excluded
        for criterion in [AttributionCriterion.soft, .frequency, .reap] {
            for row in attribution.shares(criterion) {
                #expect(abs(row.reduce(0, +) - 1) < 1e-9)
            }
        }
        let k = Int64(model.config.numExpertsPerToken)
        for row in attribution.statistics {
            #expect(row.map(\.frequency).reduce(0, +) == attribution.tokens * k)
            // Soft mass over experts sums to one per token.
            #expect(abs(row.map(\.softMass).reduce(0, +) - Double(attribution.tokens)) < 1e-4)
        }
    }

    @Test func mergedShardsEqualOneRunExactly() throws {
        let model = try ModelLoader.load(directory: Fixtures.model("qwen3_moe_f32_headdim"))
        let all = Self.batches(vocab: model.config.vocabSize, count: 4, seed: 7)
        let whole = try Attribution.run(model: model, modelPath: "m", batches: all)
        let a = try Attribution.run(model: model, modelPath: "m", batches: Array(all[2...]))
        let b = try Attribution.run(model: model, modelPath: "m", batches: Array(all[..<2]))
        #expect(try a.merged(with: b) == whole)
    }

    @Test func fileRoundTripAndModelCheck() throws {
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        let attribution = try Attribution.run(
            model: model, modelPath: "m", batches: Self.batches(vocab: model.config.vocabSize, count: 1, seed: 3))
        let dir = try Fixtures.temporaryDirectory()
        let url = dir.appendingPathComponent("a.json")
        try attribution.write(to: url)
        let back = try ExpertAttribution.read(from: url)
        #expect(back == attribution)
        let other = try ModelLoader.load(directory: Fixtures.model("olmoe_f32_mha"))
        let otherAttribution = try Attribution.run(
            model: other, modelPath: "o", batches: Self.batches(vocab: other.config.vocabSize, count: 1, seed: 3))
        #expect(throws: AttributionError.self) { try attribution.merged(with: otherAttribution) }
        try "{\"tokens\": 3}".write(to: url, atomically: true, encoding: .utf8)
        #expect(throws: AttributionError.self) { try ExpertAttribution.read(from: url) }
    }
}
