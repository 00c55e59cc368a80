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
    let counted = countedTargets(targets, vocabulary: vocabulary, ignoreIndex: ignoreIndex, caller: "crossEntropy")
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
    return Variable(Tensor(scalar: meanLoss(rowLoss, counted: counted)), parents: [logits]) { g in
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
                                    softmaxGradientRow(
                                        pl + r * vocabulary, dr, vocabulary, logSumExp: pz[r], target: pt[r],
                                        factor: factor)
                                }
                            }
                        }
                    }
                }
            })
        return [dx]
    }
}

/// The rows of a cross-entropy that count (targets other than `ignoreIndex`), after checking that
/// every counted target lies in 0..<vocabulary.
func countedTargets(_ targets: [Int], vocabulary: Int, ignoreIndex: Int, caller: String) -> Int {
    for t in targets where t != ignoreIndex {
        precondition(t >= 0 && t < vocabulary, "\(caller): target \(t) outside 0..<\(vocabulary)")
    }
    return targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
}

/// The mean of per-row losses over the counted rows, summed in row order (0 when none count).
func meanLoss(_ rowLoss: [Float], counted: Int) -> Float {
    var total: Float = 0
    for l in rowLoss { total += l }
    return counted == 0 ? 0 : total / Float(counted)
}

/// dst = (softmax(src) − onehot(target)) · factor for one row of logits with log Σ exp `logSumExp`:
/// the gradient of that row's cross-entropy scaled by `factor`. src and dst may be the same row.
@inline(__always)
func softmaxGradientRow(
    _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ vocabulary: Int, logSumExp: Float,
    target: Int, factor: Float
) {
    Kernels.lanes(src, dst, vocabulary, SoftmaxScaledLanes(logSumExp: logSumExp, factor: factor))
    dst[target] -= factor
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
