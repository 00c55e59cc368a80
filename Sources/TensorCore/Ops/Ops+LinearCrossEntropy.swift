import Foundation

/// Mean cross-entropy of the logits x·Wᵀ against `targets`: `crossEntropy(linear(x, weight), …)`
/// without the [N, V] logits ever existing at once.
///
/// Why: a training step's output head is a product with a small inner dimension (the hidden size)
/// and a large output ([2,048, 8,000] logits are 64 MB at config A), so the unfused pair streams the
/// logits through memory about six times (zeroing, writing, log Σ exp, the softmax gradient, two
/// products reading it) and keeps them and their gradient alive until the backward. Here rows go
/// through in chunks whose logits stay in the last-level cache, and each chunk's gradients are
/// finished while it is there: dlogits = (softmax − onehot(target)) / count in place, then
/// dX rows = dlogits·W and dW += dlogitsᵀ·X rows. The loss is a scalar, so its upstream gradient
/// only scales these; the backward multiplies and returns them. The forward therefore does the
/// backward's products whenever x or the weight needs a gradient.
///
/// Same conventions as `crossEntropy`: rows whose target is `ignoreIndex` count for nothing, and
/// when every row is ignored the loss is 0 with zero gradients.
public func linearCrossEntropy(
    _ x: Variable, weight: Variable, targets: [Int], ignoreIndex: Int = -100
) -> Variable {
    let (xv, wv) = (x.value, weight.value)
    precondition(wv.rank == 2, "linearCrossEntropy: weight must be [V, C], got \(wv.shape)")
    let (rows, width, vocabulary) = (xv.rows, xv.lastDim, wv.shape[0])
    precondition(wv.shape[1] == width, "linearCrossEntropy: input \(xv.shape) does not match weight \(wv.shape)")
    precondition(targets.count == rows, "linearCrossEntropy: \(rows) rows but \(targets.count) targets")
    let counted = countedTargets(
        targets, vocabulary: vocabulary, ignoreIndex: ignoreIndex, caller: "linearCrossEntropy")
    let factor: Float = counted == 0 ? 0 : 1 / Float(counted)
    let (needsX, needsWeight) = (x.requiresGrad, weight.requiresGrad)
    let needsGradient = needsX || needsWeight
    var dx = needsX ? Tensor.zeros([rows, width]) : nil
    var dw = needsWeight ? Tensor.zeros([vocabulary, width]) : nil
    var rowLoss = [Float](repeating: 0, count: rows)
    let chunk = linearCrossEntropyChunkRows(rows: rows, vocabulary: vocabulary)
    let logits = UnsafeMutablePointer<Float>.allocate(capacity: max(1, chunk * vocabulary))
    defer { logits.deallocate() }
    xv.withUnsafeBufferPointer { px in
        wv.withUnsafeBufferPointer { pw in
            rowLoss.withUnsafeMutableBufferPointer { ploss in
                withMutablePointer(&dx) { pdx in
                    withMutablePointer(&dw) { pdw in
                        let (px, pw, ploss) = (px.baseAddress!, pw.baseAddress!, ploss.baseAddress!)
                        var start = 0
                        while start < rows {
                            let n = min(chunk, rows - start)
                            let xChunk = px + start * width
                            // logits [n, V] = X rows [n, C] · Wᵀ
                            Gemm.sgemm(
                                transB: true, m: n, n: vocabulary, k: width, a: xChunk, lda: width, b: pw,
                                ldb: width, c: logits, ldc: vocabulary)
                            Parallel.forEach(n, grain: Kernels.grain(rowWidth: vocabulary)) { rs in
                                for r in rs {
                                    let row = logits + r * vocabulary
                                    let target = targets[start + r]
                                    // An ignored row adds nothing to the loss or, zeroed, to the gradients.
                                    // (No row counts exactly when factor is 0.)
                                    if target == ignoreIndex {
                                        if needsGradient { for c in 0..<vocabulary { row[c] = 0 } }
                                        continue
                                    }
                                    let z = Kernels.logSumExp(row, vocabulary)
                                    ploss[start + r] = z - row[target]
                                    if !needsGradient { continue }
                                    softmaxGradientRow(
                                        row, row, vocabulary, logSumExp: z, target: target, factor: factor)
                                }
                            }
                            if let pdx {
                                // dX rows [n, C] = dlogits [n, V] · W [V, C]
                                Gemm.sgemm(
                                    m: n, n: width, k: vocabulary, a: logits, lda: vocabulary, b: pw, ldb: width,
                                    c: pdx + start * width, ldc: width)
                            }
                            if let pdw {
                                // dW [V, C] += dlogitsᵀ [V, n] · X rows [n, C]
                                Gemm.sgemm(
                                    transA: true, m: vocabulary, n: width, k: n, a: logits, lda: vocabulary,
                                    b: xChunk, ldb: width, beta: start == 0 ? 0 : 1, c: pdw, ldc: width)
                            }
                            start += n
                        }
                    }
                }
            }
        }
    }
    return Variable(Tensor(scalar: meanLoss(rowLoss, counted: counted)), parents: [x, weight]) { g in
        let s = g.scalar
        return [dx.map { s == 1 ? $0 : $0 * s }, dw.map { s == 1 ? $0 : $0 * s }]
    }
}

/// Rows per chunk of `linearCrossEntropy`: logits of about 4 MB (a tenth of a large L3 and well
/// inside a small one), but at least 256 rows, so that each chunk's dW update (a read and a write
/// of all of [V, C]) is shared by enough rows; all rows when that is fewer.
func linearCrossEntropyChunkRows(rows: Int, vocabulary: Int) -> Int {
    max(1, min(rows, max(256, (1 << 20) / max(1, vocabulary))))
}
