import Foundation
import Testing
import MoEModels
import TensorCore
@testable import ExpertLock

struct PruningTests {
    static func ids(_ model: MoEModel, count: Int = 11, seed: UInt64 = 5) -> [Int] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Int(rng.next() % UInt64(model.config.vocabSize)) }
    }

    static func attribution(_ model: MoEModel) throws -> ExpertAttribution {
        try Attribution.run(model: model, modelPath: "m", batches: [TokenBatch(ids(model, count: 24, seed: 9))])
    }

    /// Removal and masking of the same plan give the same logits (1e-5), for every family.
    @Test(arguments: Fixtures.modelCases)
    func removalEqualsMasking(_ name: String) throws {
        let model = try ModelLoader.load(directory: Fixtures.model(name))
        let k = model.config.numExpertsPerToken
        let n = model.moeBlocks[0].expertCount
        let plan = try PruningPlan.topK(
            try Self.attribution(model), k: max(k, n - 2), criterion: .soft, minimumPerLayer: k)
        let batch = TokenBatch(Self.ids(model))
        let removed = try model.keepingExperts(plan.kept)
        let removedLogits = try removed.forward(batch).logits.value
        model.maskExperts(plan.keepFlags)
        let maskedLogits = try model.forward(batch).logits.value
        model.maskExperts(nil)
        #expect(removedLogits.maxAbsDifference(maskedLogits) <= 1e-5)
        #expect(removed.moeBlocks.allSatisfy { $0.expertCount == max(k, n - 2) })
    }

    /// Keeping fewer experts than top-k: the layer routes to all it has left, both ways.
    @Test(arguments: ["mixtral_bf16_tied_mqa", "olmoe_f32_mha", "qwen2_moe_f32_shared_dense"])
    func belowTopKRemovalEqualsMasking(_ name: String) throws {
        let model = try ModelLoader.load(directory: Fixtures.model(name))
        let plan = try PruningPlan.topK(try Self.attribution(model), k: 1, criterion: .reap, minimumPerLayer: 1)
        let batch = TokenBatch(Self.ids(model))
        let removed = try model.keepingExperts(plan.kept)
        #expect(removed.config.numExpertsPerToken == 1)
        let removedLogits = try removed.forward(batch).logits.value
        model.maskExperts(plan.keepFlags)
        let maskedLogits = try model.forward(batch).logits.value
        model.maskExperts(nil)
        #expect(removedLogits.maxAbsDifference(maskedLogits) <= 1e-5)
    }

    /// A removed model saved to disk loads back with the same logits and the config's expert count.
    @Test(arguments: ["mixtral_bf16_tied_mqa", "qwen2_moe_f32_shared_dense"])
    func savedPrunedModelReloads(_ name: String) throws {
        let url = Fixtures.model(name)
        let model = try ModelLoader.load(directory: url)
        let k = model.config.numExpertsPerToken
        let plan = try PruningPlan.drop([0], expertsPerLayer: model.moeBlocks.map(\.expertCount), minimumPerLayer: k)
        let pruned = try model.keepingExperts(plan.kept)
        let out = try Fixtures.temporaryDirectory().appendingPathComponent("pruned")
        let dtype: DType = name.contains("bf16") ? .bf16 : .f32
        try pruned.save(to: out, dtype: dtype, configSource: url.appendingPathComponent("config.json"))
        let reloaded = try ModelLoader.load(directory: out)
        #expect(reloaded.config.numExperts == model.config.numExperts - 1)
        let batch = TokenBatch(Self.ids(model))
        #expect(
            try reloaded.forward(batch).logits.value.maxAbsDifference(try pruned.forward(batch).logits.value) <= 1e-6)
    }

    @Test func badRequestsAreInputErrors() throws {
        let model = try ModelLoader.load(directory: Fixtures.model("mixtral_f32_gqa2"))
        let attribution = try Self.attribution(model)
        let k = model.config.numExpertsPerToken
        #expect(throws: PruningError.self) {
            try PruningPlan.topK(attribution, k: 9, criterion: .soft, minimumPerLayer: k)
        }
        #expect(throws: PruningError.self) {
            try PruningPlan.topK(attribution, k: 1, criterion: .soft, minimumPerLayer: k)
        }
        #expect(throws: PruningError.self) {
            try PruningPlan.threshold(attribution, tau: 0.99, criterion: .soft, minimumPerLayer: k)
        }
        #expect(throws: PruningError.self) { try PruningPlan.drop([7], expertsPerLayer: [4, 4], minimumPerLayer: k) }
        let other = try ModelLoader.load(directory: Fixtures.model("olmoe_f32_mha"))
        let plan = try PruningPlan.topK(attribution, k: 3, criterion: .soft, minimumPerLayer: k)
        #expect(throws: PruningError.self) { try plan.validate(for: ModelSignature(model: other), minimumPerLayer: 2) }
    }

    @Test func globalScopeKeepsBudgetAndMinimum() throws {
        let model = try ModelLoader.load(directory: Fixtures.model("qwen3_moe_f32_headdim"))
        let attribution = try Self.attribution(model)
        let plan = try PruningPlan.topK(attribution, k: 4, scope: .global, criterion: .reap, minimumPerLayer: 2)
        #expect(plan.kept.map(\.count).reduce(0, +) == 4 * plan.kept.count)
        #expect(plan.kept.allSatisfy { $0.count >= 2 })
        let shares = attribution.shares(.soft)
        let tau = 0.1
        let byThreshold = try PruningPlan.threshold(attribution, tau: tau, criterion: .soft, minimumPerLayer: 1)
        for (l, row) in byThreshold.kept.enumerated() {
            #expect(Set(row) == Set(shares[l].indices.filter { shares[l][$0] >= tau }))
        }
    }
}
