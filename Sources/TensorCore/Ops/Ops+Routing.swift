// Mixture-of-experts routing: softmax over the experts, then top-k.
// Trap: Mixtral, Qwen2/3-MoE and OLMoE take the softmax *before* top-k (over all E experts); the
// optional renormalisation over the chosen k (`norm_topk_prob`, always on in Mixtral) comes after.

/// The routing decision of a batch of tokens.
public struct Routing {
    /// [N, K] gate weight of each chosen expert (differentiable with respect to the router logits).
    public let weights: Variable
    /// [N*K] row-major expert indices matching `weights`.
    public let experts: [Int]
    /// [N, E] softmax of the router logits (for attribution: soft mass per expert).
    public let probabilities: Tensor
    /// Experts per token.
    public let k: Int

    public init(weights: Variable, experts: [Int], probabilities: Tensor, k: Int) {
        self.weights = weights
        self.experts = experts
        self.probabilities = probabilities
        self.k = k
    }
}

/// Top-k routing. logits [N, E] -> weights [N, K], experts [N*K], probabilities [N, E].
///
/// For each row the K experts with the largest probability are chosen, ties going to the lower
/// expert index; weights are their probabilities, divided by their sum when `normalize`.
/// Backward (the choice itself is not differentiated): with S = Σ_chosen p,
/// dp_k = (g_k − Σ_j g_j·w_j) / S when normalised (else g_k), scattered to the chosen experts,
/// then through the softmax: dlogits = p ⊙ (dp − Σ dp⊙p).
public func topKRouting(_ logits: Variable, k: Int, normalize: Bool) -> Routing {
    let lv = logits.value
    let experts = lv.lastDim
    let rows = lv.rows
    precondition(k >= 1 && k <= experts, "topKRouting: k = \(k) with \(experts) experts")
    // [N, E] -> [N, E]
    let probabilities = Tensor(
        shape: [rows, experts],
        uninitialized: { pp in
            let pp = pp.baseAddress!
            lv.withUnsafeBufferPointer { pl in
                let pl = pl.baseAddress!
                Parallel.forEach(rows, grain: Kernels.grain(rowWidth: experts)) { rs in
                    for r in rs { Kernels.softmaxRow(pl + r * experts, pp + r * experts, experts) }
                }
            }
        })
    var chosen = [Int](repeating: 0, count: rows * k)  // [N*K]
    let weights = Tensor(
        shape: [rows, k],
        uninitialized: { pw in  // [N, E] -> [N, K]
            let pw = pw.baseAddress!
            probabilities.withUnsafeBufferPointer { pp in
                chosen.withUnsafeMutableBufferPointer { pc in
                    let pp = pp.baseAddress!
                    let pc = pc.baseAddress!
                    Parallel.forEach(rows, grain: Kernels.grain(rowWidth: experts * k)) { rs in
                        for r in rs {
                            let p = pp + r * experts
                            let c = pc + r * k
                            // Insertion into a sorted list of k: strict > keeps the lower index first on ties.
                            var filled = 0
                            for e in 0..<experts {
                                var slot = filled
                                while slot > 0 && p[e] > p[c[slot - 1]] { slot -= 1 }
                                if slot >= k { continue }
                                var m = min(filled, k - 1)
                                while m > slot {
                                    c[m] = c[m - 1]
                                    m -= 1
                                }
                                c[slot] = e
                                filled = min(filled + 1, k)
                            }
                            var total: Float = 0
                            for j in 0..<k { total += p[c[j]] }
                            for j in 0..<k { pw[r * k + j] = normalize ? p[c[j]] / total : p[c[j]] }
                        }
                    }
                }
            }
        })
    let node = Variable(weights, parents: [logits]) { g in
        // [N, K] -> dp [N, E] -> dlogits [N, E]
        var dp = Tensor.zeros([rows, experts])
        dp.withUnsafeMutableBufferPointer { pdp in
            let pdp = pdp.baseAddress!
            g.withUnsafeBufferPointer { pg in
                probabilities.withUnsafeBufferPointer { pp in
                    chosen.withUnsafeBufferPointer { pc in
                        weights.withUnsafeBufferPointer { pw in
                            let (pg, pp, pc, pw) = (pg.baseAddress!, pp.baseAddress!, pc.baseAddress!, pw.baseAddress!)
                            Parallel.forEach(rows, grain: Kernels.grain(rowWidth: experts)) { rs in
                                for r in rs {
                                    let gr = pg + r * k
                                    let cr = pc + r * k
                                    if normalize {
                                        var total: Float = 0
                                        var gw: Float = 0
                                        for j in 0..<k {
                                            total += pp[r * experts + cr[j]]
                                            gw += gr[j] * pw[r * k + j]
                                        }
                                        for j in 0..<k { pdp[r * experts + cr[j]] += (gr[j] - gw) / total }
                                    } else {
                                        for j in 0..<k { pdp[r * experts + cr[j]] += gr[j] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return [softmaxBackward(dp, probabilities: probabilities).reshaped(lv.shape)]
    }
    return Routing(weights: node, experts: chosen, probabilities: probabilities, k: k)
}
