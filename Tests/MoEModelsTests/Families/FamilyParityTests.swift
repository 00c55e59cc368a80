import Foundation
import Testing
import TensorCore
@testable import MoEModels

/// Golden tests of the families added as components (DeepSeek-V3, GLM-4.5, …) against transformers 5.25 on
/// tiny random-init checkpoints made by scripts/fixtures/make_family_fixtures.py (see CASES there).
struct FamilyParityTests {
    /// Every fixture folder the script wrote: adding a family's cases to the script adds them here.
    static let cases: [String] = {
        let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("families")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && !$0.hasPrefix("_") }.sorted()
    }()

    @Test func everyFamilyAddedAsComponentsHasFixtures() {
        let families = Self.cases.compactMap { name in
            ModelFamily.allCases.map(\.rawValue).filter { name.hasPrefix($0 + "_") }.max { $0.count < $1.count }
        }
        let added = ModelFamily.allCases.map(\.rawValue).filter {
            !["mixtral", "qwen2_moe", "qwen3_moe", "olmoe"].contains($0)
        }
        #expect(Set(families) == Set(added), "fixtures cover \(Set(families).sorted()), families \(added)")
        for family in added {  // at least two variants of each
            #expect(families.filter { $0 == family }.count >= 2, "\(family) has fewer than two fixtures")
        }
    }

    struct Expected: Decodable {
        struct Routing: Decodable {
            let logits: [[Double]]
            let experts: [[Int]]
            let weights: [[Double]]
        }
        let ids: [Int]
        let logits: [[Double]]
        let routing: [Routing]
        let pruned_dropped: [Int]
        let pruned_logits: [[Double]]
    }

    static func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("families/\(name)")
    }

    static func expected(_ name: String) throws -> Expected {
        try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: fixture(name).appendingPathComponent("expected.json")))
    }

    /// Every routing decision of a pass: per sparse layer, the chosen experts and weights of each row.
    final class Choices: RoutingObserver {
        var layers: [(experts: [Int], weights: Tensor)] = []
        func observeRouting(layer: Int, probabilities: Tensor, experts: [Int], weights: Tensor, batch: TokenBatch) {
            layers.append((experts, weights))
        }
        func observeExpertOutput(
            layer: Int, expert: Int, rows: [Int], slots: [Int], outputNorms: [Float], batch: TokenBatch
        ) {}
    }

    @Test(arguments: cases)
    func logitsAndRoutingMatchTransformers(_ name: String) throws {
        let expected = try Self.expected(name)
        let model = try ModelLoader.load(directory: Self.fixture(name))
        let choices = Choices()
        let out = try model.forward(TokenBatch(expected.ids), observer: choices, recordRouterLogits: true)
        #expect(ModelParityTests.maxDifference(out.logits.value, expected.logits) <= 1e-4, "\(name): logits")
        #expect(out.routerLogits.count == expected.routing.count)
        #expect(choices.layers.count == expected.routing.count)
        for (l, reference) in expected.routing.enumerated() where l < out.routerLogits.count && l < choices.layers.count
        {
            #expect(
                ModelParityTests.maxDifference(out.routerLogits[l], reference.logits) <= 1e-4, "\(name): router \(l)")
            let (experts, weights) = choices.layers[l]
            let k = weights.lastDim
            for (row, chosen) in reference.experts.enumerated() {
                // transformers' topk(sorted=False) order is unspecified: compare (expert, weight) as sets.
                let ours = (0..<k).map { (experts[row * k + $0], Double(weights.data[row * k + $0])) }.sorted {
                    $0.0 < $1.0
                }
                let theirs = zip(chosen, reference.weights[row]).map { ($0, $1) }.sorted { $0.0 < $1.0 }
                #expect(ours.map(\.0) == theirs.map(\.0), "\(name): layer \(l) row \(row) experts")
                for (a, b) in zip(ours, theirs) {
                    #expect(abs(a.1 - b.1) <= 1e-5, "\(name): layer \(l) row \(row) weight")
                }
            }
        }
    }

    /// `prune --drop 1,N-1 --mode remove` (run by the fixture script) wrote a checkpoint whose transformers
    /// logits are ExpertLock's masked original's, and ExpertLock's own removal gives them too.
    @Test(arguments: cases)
    func prunedCheckpointMatchesMaskedOriginal(_ name: String) throws {
        let expected = try Self.expected(name)
        let model = try ModelLoader.load(directory: Self.fixture(name))
        let dropped = Set(expected.pruned_dropped)
        let kept = model.moeBlocks.map { block in (0..<block.expertCount).filter { !dropped.contains($0) } }
        let removed = try model.keepingExperts(kept)
        model.maskExperts(model.moeBlocks.map { block in (0..<block.expertCount).map { !dropped.contains($0) } })
        let masked = try model.forward(TokenBatch(expected.ids)).logits.value
        #expect(ModelParityTests.maxDifference(masked, expected.pruned_logits) <= 1e-4, "\(name): masked original")
        let ours = try removed.forward(TokenBatch(expected.ids)).logits.value
        #expect(ModelParityTests.maxDifference(ours, expected.pruned_logits) <= 1e-4, "\(name): removal")
    }
}
