import Foundation
import MoEModels
import TensorCore

/// Measured importance: the increase in mean next-token loss on a corpus when one expert alone is
/// masked out of its layer's router. Routing statistics do not reliably predict the effect of
/// removing an expert, so this is the ground truth the other criteria are compared with.
/// Cost: one pass over the corpus per (layer, expert), plus one baseline pass.
public enum AblationImportance {
    /// drops[l][e] = loss(model without expert e in sparse layer l) − loss(model). Layers where
    /// masking one expert would leave fewer than top-k experts get 0 (the expert cannot be removed).
    public static func measure(
        model: MoEModel, batches: [TokenBatch], progress: ((Int, Int) -> Bool)? = nil
    ) throws -> [[Double]] {
        let blocks = model.moeBlocks
        let base = try meanNLL(model: model, batches: batches)
        let total = blocks.map(\.expertCount).reduce(0, +)
        var done = 0
        var drops: [[Double]] = []
        for (l, block) in blocks.enumerated() {
            var row: [Double] = []
            for e in 0..<block.expertCount {
                if block.expertCount - 1 < block.topK {
                    row.append(0)
                } else {
                    var keep = blocks.map { [Bool](repeating: true, count: $0.expertCount) }
                    keep[l][e] = false
                    row.append(try meanNLL(model: model.masked(keep), batches: batches) - base)
                }
                done += 1
                if let progress, !progress(done, total) { return drops + [row] }
            }
            drops.append(row)
        }
        return drops
    }

    /// Mean next-token NLL over the valid positions of the batches.
    public static func meanNLL(model: MoEModel, batches: [TokenBatch]) throws -> Double {
        var total = 0.0
        var count = 0
        for batch in batches {
            let logits = try model.forward(batch).logits.value
            var rows: [Int] = []
            var targets: [Int] = []
            for b in 0..<batch.batch {
                let length = batch.lengths?[b] ?? batch.seq
                for t in 0..<max(0, length - 1) {
                    rows.append(b * batch.seq + t)
                    targets.append(batch.ids[b * batch.seq + t + 1])
                }
            }
            let lp = TokenLogLikelihood.logProbabilities(logits, rows: rows, targets: targets)
            total -= lp.reduce(0, +)
            count += lp.count
        }
        return total / Double(max(count, 1))
    }
}

/// Rank correlation, for comparing attribution criteria with measured drops.
public enum RankCorrelation {
    /// Spearman's ρ (Pearson correlation of average ranks; ties share their mean rank).
    public static func spearman(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        guard a.count > 1 else { return 0 }
        let ra = ranks(a), rb = ranks(b)
        let ma = ra.reduce(0, +) / Double(ra.count), mb = rb.reduce(0, +) / Double(rb.count)
        var num = 0.0, da = 0.0, db = 0.0
        for i in 0..<ra.count {
            num += (ra[i] - ma) * (rb[i] - mb)
            da += (ra[i] - ma) * (ra[i] - ma)
            db += (rb[i] - mb) * (rb[i] - mb)
        }
        return da > 0 && db > 0 ? num / (da * db).squareRoot() : 0
    }

    static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let mean = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = mean }
            i = j + 1
        }
        return r
    }
}
