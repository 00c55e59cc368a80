import Foundation
import MoEModels

/// The attacker who measures instead of ranking: per sparse layer, greedy backward elimination by
/// loss. Starting from every expert, it removes the expert whose removal raises the loss least,
/// re-measuring the loss of each remaining candidate after every removal, until one expert is left.
/// The other layers stay whole while a layer is searched, so each layer's order is its own.
///
/// Routing statistics (soft mass, frequency, REAP) and single-expert ablation can all be blinded by
/// a defense that flattens routing or duplicates experts; a search that looks only at the task loss
/// of the pruned model cannot be, short of making every subset equally bad. The nested orders give
/// one subset per k, so its curve comes from the same sweep as the other criteria's.
///
/// Cost per layer of E experts: E + (E − 1) + … + 2 loss evaluations (35 for E = 8).
public enum GreedySubsetSearch {
    /// order[l] lists sparse layer l's experts in the order the search removes them (the last is the
    /// one it keeps alone). `loss` measures a masked view of the model (`masked`: lower is better); ties
    /// remove the lowest index. `progress` receives (evaluations done, total).
    public static func eliminationOrder(
        model: MoEModel, loss: (MoEModel) throws -> Double, progress: ((Int, Int) -> Void)? = nil
    ) throws -> [[Int]] {
        let counts = model.moeBlocks.map(\.expertCount)
        let total = counts.reduce(0) { $0 + max(0, $1 * ($1 + 1) / 2 - 1) }
        var done = 0
        var orders: [[Int]] = []
        for (l, n) in counts.enumerated() {
            var kept = Array(0..<n)
            var removed: [Int] = []
            while kept.count > 1 {
                var best: (expert: Int, loss: Double)?
                for e in kept {
                    var flags = counts.map { [Bool](repeating: true, count: $0) }
                    for r in removed + [e] { flags[l][r] = false }
                    let value = try loss(model.masked(flags))
                    done += 1
                    progress?(done, total)
                    // A NaN loss (a diverged sub-model) must not win: it compares false both ways.
                    if best == nil || value < best!.loss || (best!.loss.isNaN && !value.isNaN) {
                        best = (e, value)
                    }
                }
                removed.append(best!.expert)
                kept.removeAll { $0 == best!.expert }
            }
            orders.append(removed + kept)
        }
        return orders
    }

    /// The plan that keeps the last `k` experts of every layer's elimination order.
    public static func plan(order: [[Int]], k: Int) throws -> PruningPlan {
        for (l, o) in order.enumerated() where k < 1 || k > o.count {
            throw PruningError.badKeep(k: k, layer: l, experts: o.count, minimum: 1)
        }
        return PruningPlan(
            kept: order.map { Array($0.suffix(k)).sorted() }, originalCounts: order.map(\.count),
            rule: "greedy loss-based subset search, top-\(k) per layer")
    }
}
