// Port of transformers' `load_balancing_loss_func` (modeling_mixtral.py, shared by Qwen2/3-MoE and
// OLMoE) and of the ST-MoE router z-loss (`router_z_loss_func`, modeling_switch_transformers.py).
import Foundation
import TensorCore

/// Auxiliary losses on the router logits of every sparse layer, over the real (non-padding) tokens.
///
/// Trap: transformers concatenates the router logits of all layers *before* averaging, so f and P
/// below are means over (layer, token) pairs, not a sum of per-layer losses. The logits used are the
/// ones the router chooses from: with an expert mask, masked experts have probability 0 and are never
/// chosen (identical to transformers when nothing is masked).
public enum RouterLosses {
    /// Rows of the batch that are real tokens; nil when there is no padding.
    public static func validRows(_ batch: TokenBatch) -> [Int]? {
        guard batch.lengths != nil else { return nil }
        return (0..<batch.tokenCount).filter { batch.isValid(row: $0) }
    }

    /// Switch/Mixtral load balancing: E · Σ_e f_e · P_e, where f_e is the fraction of routing slots
    /// (token × top-k choice) that picked expert e, summed over the K choices (no gradient), and P_e
    /// the mean router probability of e (with gradient). Uniform routing gives K.
    /// logits: per sparse layer [N, E]; rows: the tokens counted (nil: all). -> scalar [].
    /// Layers with different expert counts (non-uniform pruning) cannot be pooled: the loss is then
    /// the mean of each layer's own loss.
    public static func loadBalancing(_ logits: [Variable], topK: Int, rows: [Int]?) -> Variable {
        guard let first = logits.first else { return Variable(Tensor(scalar: 0)) }
        if logits.allSatisfy({ $0.value.lastDim == first.value.lastDim }) {
            return pooledLoadBalancing(logits, topK: topK, rows: rows)
        }
        var total: Variable?
        for layer in logits {
            let loss = scale(pooledLoadBalancing([layer], topK: topK, rows: rows), 1 / Float(logits.count))
            total = total.map { add($0, loss) } ?? loss
        }
        return total!
    }

    /// The loss over layers that share one expert count E.
    static func pooledLoadBalancing(_ logits: [Variable], topK: Int, rows: [Int]?) -> Variable {
        let e = logits[0].value.lastDim
        let n = rows?.count ?? logits[0].value.rows
        let pairs = n * logits.count  // (layer, token) pairs averaged over
        guard pairs > 0 else { return Variable(Tensor(scalar: 0)) }
        var counts = [Int](repeating: 0, count: e)  // Σ over layers, tokens and the K slots
        var probabilities: [Variable] = []
        for layer in logits {
            // The top-k choice of transformers: top-k of the softmax, ties to the lower index.
            let chosen = topKRouting(Variable(layer.value), k: topK, normalize: false).experts  // [N*K]
            if let rows {
                for r in rows { for s in 0..<topK { counts[chosen[r * topK + s]] += 1 } }
            } else {
                for x in chosen { counts[x] += 1 }
            }
            let p = softmax(layer)  // [N, E]
            probabilities.append(rows.map { gatherRows(p, $0) } ?? p)  // -> [n, E]
        }
        // E · Σ_e f_e · P_e = Σ_{pairs, e} p · (E · f_e / pairs): one weighted sum keeps the graph small.
        let weights = (0..<e).map { Float(e) * (Float(counts[$0]) / Float(pairs)) / Float(pairs) }
        let stacked = probabilities.count == 1 ? probabilities[0] : concatRows(probabilities)  // [L*n, E]
        let weightTensor = Tensor(shape: stacked.shape) { out in
            for r in 0..<pairs { for j in 0..<e { out[r * e + j] = weights[j] } }
        }
        return sum(mul(stacked, Variable(weightTensor)))
    }

    /// ST-MoE router z-loss: the mean over (layer, token) pairs of (log Σ_e exp(logit_e))².
    /// logits: per sparse layer [N, E]; rows: the tokens counted (nil: all). -> scalar [].
    public static func zLoss(_ logits: [Variable], rows: [Int]?) -> Variable {
        var parts: [Variable] = []
        for layer in logits {
            let z = rowLogSumExp(layer)  // [N, E] -> [N, 1]
            parts.append(rows.map { gatherRows(z, $0) } ?? z)
        }
        guard !parts.isEmpty, parts.contains(where: { $0.value.count > 0 }) else { return Variable(Tensor(scalar: 0)) }
        let z = parts.count == 1 ? parts[0] : concatRows(parts)  // [L*n, 1]
        return mean(mul(z, z))
    }

    /// log Σ_c exp(x[r, c]) per row: [N, E] -> [N, 1]. Backward: dx = g · softmax(x).
    static func rowLogSumExp(_ x: Variable) -> Variable {
        let xv = x.value
        let width = xv.lastDim
        let rows = xv.rows
        var lse = [Float](repeating: 0, count: rows)
        xv.withUnsafeBufferPointer { p in
            for r in 0..<rows {
                var m = -Float.infinity
                for c in 0..<width { m = max(m, p[r * width + c]) }
                var acc: Float = 0
                for c in 0..<width { acc += exp(p[r * width + c] - m) }
                lse[r] = m + log(acc)
            }
        }
        let out = Tensor(shape: [rows, 1], data: lse)
        return Variable(out, parents: [x]) { g in
            let dx = Tensor(shape: xv.shape) { pdx in
                xv.withUnsafeBufferPointer { p in
                    for r in 0..<rows {
                        for c in 0..<width { pdx[r * width + c] = g.data[r] * exp(p[r * width + c] - lse[r]) }
                    }
                }
            }
            return [dx]
        }
    }
}
