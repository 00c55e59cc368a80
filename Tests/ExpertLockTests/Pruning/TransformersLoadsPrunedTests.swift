import Foundation
import Testing
import MoEModels
import TensorCore
@testable import ExpertLock

/// scripts/fixtures/make_pruned_fixtures.py pruned every fixture model with `expertlock prune --drop 0,2`,
/// loaded the result in transformers and recorded its logits; here ExpertLock prunes, saves and reloads the
/// same way and must agree (1e-4) — so the removal layout is exactly what transformers expects.
struct TransformersLoadsPrunedTests {
    struct Expected: Decodable {
        let drop: [Int]
        let ids: [Int]
        let kept: [[Int]]
        let num_experts_after: Int
        let logits: [[Double]]
        let router_logits: [[[Double]]]
    }

    @Test(arguments: Fixtures.modelCases)
    func prunedCheckpointMatchesTransformers(_ name: String) throws {
        let fixture = Fixtures.packageRoot.appendingPathComponent("Tests/ExpertLockTests/Fixtures/pruned/\(name).json")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixture))
        let source = Fixtures.model(name)
        let model = try ModelLoader.load(directory: source)
        let plan = try PruningPlan.drop(
            expected.drop, expertsPerLayer: model.moeBlocks.map(\.expertCount),
            minimumPerLayer: model.config.numExpertsPerToken)
        #expect(plan.kept == expected.kept)
        let out = try Fixtures.temporaryDirectory().appendingPathComponent("pruned")
        let dtype: DType = name.contains("bf16") ? .bf16 : .f32
        try model.keepingExperts(plan.kept).save(
            to: out, dtype: dtype, configSource: source.appendingPathComponent("config.json"))
        let reloaded = try ModelLoader.load(directory: out)
        #expect(reloaded.config.numExperts == expected.num_experts_after)
        let result = try reloaded.forward(TokenBatch(expected.ids), recordRouterLogits: true)
        var worst = 0.0
        for (r, row) in expected.logits.enumerated() {
            for (j, v) in row.enumerated() {
                worst = max(worst, abs(Double(result.logits.value.data[r * row.count + j]) - v))
            }
        }
        #expect(worst <= 1e-4, "\(name): max |Δlogit| \(worst)")
        #expect(result.routerLogits.map(\.lastDim) == expected.router_logits.map { $0.first?.count ?? 0 })
    }
}
