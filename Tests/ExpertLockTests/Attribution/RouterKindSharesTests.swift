import Foundation
import Testing
import MoEModels
import TensorCore
@testable import ExpertLock

/// Attribution with every router kind: applied shares (the routing weight the router actually applies) and
/// affinity shares (its pre-selection scores) both sum to 1 per layer, and equal the shares computed from the
/// routing transformers 5.25 recorded for the same tokens (expected.json of the family fixtures:
/// chosen experts, their weights, raw router logits). One fixture per router kind.
struct RouterKindSharesTests {
    struct Expected: Decodable {
        struct Routing: Decodable {
            let logits: [[Double]]
            let experts: [[Int]]
            let weights: [[Double]]
        }
        let ids: [Int]
        let routing: [Routing]
    }

    /// (fixture, scores are a sigmoid of the logits): sigmoid + selection bias + groups (DeepSeek-V3), sigmoid
    /// + bias (MiniMax-M2), softmax grouped (DeepSeek-V2), softmax + statistics bias (ERNIE), sigmoid + bias +
    /// partial groups (GLM-4.5), FP8 DeepSeek-V3.
    static let cases: [(String, Bool)] = [
        ("deepseek_v3_f32_qlora_groups", true), ("minimax_m2_f32_partial_gqa", true),
        ("deepseek_v2_bf16_grouped_yarn", false), ("ernie4_5_moe_f32_shared2_interval", false),
        ("glm4_moe_f32_partial_qknorm_groups", true), ("deepseek_v3_fp8_block32_groups_yarn", true),
    ]

    @Test(arguments: cases)
    func appliedAndAffinitySharesMatchTransformers(_ name: String, _ sigmoid: Bool) throws {
        let url = Fixtures.family(name)
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: url.appendingPathComponent("expected.json")))
        let model = try ModelLoader.load(directory: url)
        let a = try Attribution.run(model: model, modelPath: name, batches: [TokenBatch(expected.ids)])
        #expect(a.softMassIsApplied == model.moeBlocks.map { _ in true })
        let (applied, affinity) = (a.appliedShares(), a.affinityShares())
        #expect(applied.count == expected.routing.count && affinity.count == expected.routing.count)
        for (l, routing) in expected.routing.enumerated() where l < applied.count {
            #expect(abs(applied[l].reduce(0, +) - 1) < 1e-9 && abs(affinity[l].reduce(0, +) - 1) < 1e-9)
            let e = applied[l].count
            var appliedRef = [Double](repeating: 0, count: e)
            var affinityRef = [Double](repeating: 0, count: e)
            for (row, experts) in routing.experts.enumerated() {
                for (x, w) in zip(experts, routing.weights[row]) { appliedRef[x] += w }
                let z = routing.logits[row]
                let m = z.max() ?? 0
                let total = z.reduce(0) { $0 + exp($1 - m) }
                for j in 0..<e { affinityRef[j] += sigmoid ? 1 / (1 + exp(-z[j])) : exp(z[j] - m) / total }
            }
            let (appliedTotal, affinityTotal) = (appliedRef.reduce(0, +), affinityRef.reduce(0, +))
            for j in 0..<e {
                #expect(
                    abs(applied[l][j] - appliedRef[j] / appliedTotal) < 1e-5, "\(name) layer \(l) expert \(j) applied")
                #expect(
                    abs(affinity[l][j] - affinityRef[j] / affinityTotal) < 1e-5,
                    "\(name) layer \(l) expert \(j) affinity")
            }
            // For these routers the soft criterion is the applied weight.
            #expect(zip(a.shares(.soft)[l], applied[l]).allSatisfy { abs($0 - $1) < 1e-12 })
        }
        // The file says what the shares mean, per layer, and reads back.
        let object = a.jsonObject()
        #expect((object["shares_meaning"] as? String)?.contains("applied_share") == true)
        let layers = try #require(object["layers"] as? [[String: Any]])
        #expect(layers.allSatisfy { $0["soft_mass_is"] as? String == "applied_weight" })
        let data = try JSONSerialization.data(withJSONObject: object)
        let back = try ExpertAttribution.decode(data, file: "a.json")
        #expect(back.softMassIsApplied == a.softMassIsApplied && back.affinityShares() == affinity)
    }

    /// Softmax → top-k routers keep the paper's soft mass: the dense probability, equal to the affinity.
    @Test func softmaxTopKRoutersKeepTheDenseProbability() throws {
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        let a = try Attribution.run(
            model: model, modelPath: "m",
            batches: AttributionTests.batches(vocab: model.config.vocabSize, count: 2, seed: 3))
        #expect(a.softMassIsApplied == model.moeBlocks.map { _ in false })
        for (l, row) in a.statistics.enumerated() {
            #expect(row.map(\.softMassFixed) == row.map(\.affinityMassFixed))
            #expect(abs(a.appliedShares()[l].reduce(0, +) - 1) < 1e-9)
        }
    }
}
