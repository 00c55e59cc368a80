import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// `GreedySubsetSearch`: the elimination order of a loss whose greedy answer is known, the number of
/// evaluations, the nested plans, and on a real model that its top-k beats the worst single removal.
struct GreedySubsetSearchTests {
    static func model() throws -> MoEModel {
        try ModelLoader.load(directory: Fixtures.model("qwen2_moe_bf16_norm_tied"))
    }

    /// Loss = Σ over masked experts of a per-expert cost, plus an interaction: in layer 0, removing
    /// experts 1 and 2 together costs extra, so after 1 goes, 2 is kept longer than its own cost says.
    @Test func followsTheLossAndCountsItsEvaluations() throws {
        let model = try Self.model()
        let counts = model.moeBlocks.map(\.expertCount)
        var evaluations = 0
        let cost: [[Double]] = counts.map { n in (0..<n).map { Double(($0 * 7 + 3) % n) } }
        let order = try GreedySubsetSearch.eliminationOrder(model: model) { m in
            evaluations += 1
            var total = 0.0
            for (l, block) in m.moeBlocks.enumerated() {
                let keep = m.expertMask?[l] ?? [Bool](repeating: true, count: block.expertCount)
                for e in keep.indices where !keep[e] { total += cost[l][e] }
                if l == 0 && !keep[1] && !keep[2] { total += 100 }
            }
            return total
        }
        #expect(evaluations == counts.reduce(0) { $0 + $1 * ($1 + 1) / 2 - 1 })
        for (l, n) in counts.enumerated() {
            #expect(order[l].sorted() == Array(0..<n))
            // Without the interaction the order is by ascending cost.
            if l > 0 { #expect(order[l] == (0..<n).sorted { cost[l][$0] < cost[l][$1] }) }
        }
        // Layer 0 (4 experts, costs 3, 2, 1, 0): 3 and 2 go first; then removing 1 would cost 2 + 100
        // with 2 already gone, so 0 goes and 1 is the one kept, against the order of its own cost.
        #expect(counts[0] == 4)
        #expect(order[0] == [3, 2, 0, 1])
        #expect(model.expertMask == nil, "the model is left unmasked")
        // Nested plans: the last k of each order.
        let plan = try GreedySubsetSearch.plan(order: order, k: 2)
        #expect(plan.kept == order.map { Array($0.suffix(2)).sorted() })
        #expect(throws: PruningError.self) { try GreedySubsetSearch.plan(order: order, k: 0) }
    }

    /// On real logits: the greedy top-1 per layer, measured by the same loss, is no worse than
    /// keeping any single expert chosen by soft routing mass's worst pick (a search that cannot
    /// beat that is not searching).
    @Test func greedySubsetIsNoWorseThanItsFirstCandidates() throws {
        let model = try Self.model()
        var rng = SplitMix64(seed: 9)
        let ids = (0..<96).map { _ in Int(rng.next() % UInt64(model.config.vocabSize)) }
        let batches = CorpusBatches.batches(CorpusBatches.chunks(ids, length: 16), batchSize: 2)
        let loss = { (m: MoEModel) in try AblationImportance.meanNLL(model: m, batches: batches) }
        let order = try GreedySubsetSearch.eliminationOrder(model: model, loss: loss)
        let counts = model.moeBlocks.map(\.expertCount)
        // Its first removal in each layer is the single-expert ablation with the smallest loss.
        let drops = try AblationImportance.measure(model: model, batches: batches)
        for l in counts.indices where counts[l] >= 2 {
            let smallest = drops[l].indices.min { drops[l][$0] < drops[l][$1] }!
            #expect(drops[l][order[l][0]] == drops[l][smallest])
        }
    }
}
