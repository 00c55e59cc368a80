import Foundation

/// Cross-entropy of next-token (or label) logits, as `torch.nn.functional.cross_entropy` with
/// `reduction="mean"`: the mean over rows whose target is not `ignoreIndex` of
/// −log softmax(logits)[target]. logits [.., V], targets [N] -> scalar [].
///
/// When every row is ignored the loss is 0 with zero gradient (PyTorch returns NaN), so a batch of
/// padding cannot poison a training run. The forward keeps log Σ exp per row (never the [N, V]
/// probabilities); the backward recomputes dlogits = (softmax − onehot(target)) · g / count.
public func crossEntropy(_ logits: Variable, targets: [Int], ignoreIndex: Int = -100) -> Variable {
    let lv = logits.value
    let vocabulary = lv.lastDim
    let rows = lv.rows
    precondition(targets.count == rows, "crossEntropy: \(rows) rows of logits but \(targets.count) targets")
    for t in targets where t != ignoreIndex {
        precondition(t >= 0 && t < vocabulary, "crossEntropy: target \(t) outside 0..<\(vocabulary)")
    }
    let counted = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
    var logSumExp = [Float](repeating: 0, count: rows)  // [N]
    var rowLoss = [Float](repeating: 0, count: rows)  // [N]
    lv.withUnsafeBufferPointer { pl in
        logSumExp.withUnsafeMutableBufferPointer { pz in
            rowLoss.withUnsafeMutableBufferPointer { ploss in
                targets.withUnsafeBufferPointer { pt in
                    let (pl, pz, ploss) = (pl.baseAddress!, pz.baseAddress!, ploss.baseAddress!)
                    Parallel.forEach(rows, grain: Kernels.grain(rowWidth: vocabulary)) { rs in
                        for r in rs where pt[r] != ignoreIndex {
                            let z = Kernels.logSumExp(pl + r * vocabulary, vocabulary)
                            pz[r] = z
                            ploss[r] = z - pl[r * vocabulary + pt[r]]
                        }
                    }
                }
            }
        }
    }
    var total: Float = 0
    for l in rowLoss { total += l }
    let loss = counted == 0 ? 0 : total / Float(counted)
    return Variable(Tensor(scalar: loss), parents: [logits]) { g in
        let factor = counted == 0 ? 0 : g.scalar / Float(counted)
        let dx = Tensor(
            shape: lv.shape,
            uninitialized: { pdx in
                let pdx = pdx.baseAddress!
                lv.withUnsafeBufferPointer { pl in
                    logSumExp.withUnsafeBufferPointer { pz in
                        targets.withUnsafeBufferPointer { pt in
                            let (pl, pz) = (pl.baseAddress!, pz.baseAddress!)
                            Parallel.forEach(rows, grain: Kernels.grain(rowWidth: vocabulary)) { rs in
                                for r in rs {
                                    let dr = pdx + r * vocabulary
                                    if pt[r] == ignoreIndex || factor == 0 {
                                        for c in 0..<vocabulary { dr[c] = 0 }
                                        continue
                                    }
                                    let lr = pl + r * vocabulary
                                    let z = pz[r]
                                    Kernels.lanes(lr, dr, vocabulary, SoftmaxScaledLanes(logSumExp: z, factor: factor))
                                    dr[pt[r]] -= factor
                                }
                            }
                        }
                    }
                }
            })
        return [dx]
    }
}

/// e^(l − log Σ e^l) · factor: the softmax of a logit row, scaled.
struct SoftmaxScaledLanes: LaneFunction {
    let logSumExp: SIMD8<Float>
    let factor: SIMD8<Float>
    init(logSumExp: Float, factor: Float) {
        self.logSumExp = SIMD8(repeating: logSumExp)
        self.factor = SIMD8(repeating: factor)
    }
    @inline(__always) func callAsFunction(_ l: SIMD8<Float>) -> SIMD8<Float> { Kernels.exp(l - logSumExp) * factor }
}
