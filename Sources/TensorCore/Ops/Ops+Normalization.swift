import Foundation

// Normalisation over the last dimension. Statistics are Float with vectorised partial sums (as
// PyTorch's CPU kernels do); the forward keeps one or two Floats per row for the backward, and only
// when a gradient is needed.

/// RMSNorm as Hugging Face `LlamaRMSNorm`: y = weight · (x / √(mean(x²) + eps)).
/// x [.., C], weight [C] -> [.., C].
///
/// Backward with r = 1/√(mean(x²)+eps), ĝ = g·w: dx = r·ĝ − x·(r³/C)·Σ(ĝ·x); dw = Σ_rows g·x·r.
public func rmsNorm(_ x: Variable, weight: Variable, eps: Float) -> Variable {
    let xv = x.value
    let wv = weight.value
    let width = xv.lastDim
    let rows = xv.rows
    precondition(wv.count == width, "rmsNorm: weight \(wv.shape) does not match \(xv.shape)")
    let keep = anyRequiresGrad(x, weight)
    var inverseRMS = [Float](repeating: 0, count: keep ? rows : 0)  // [N] when a gradient is needed
    let out = Tensor(
        shape: xv.shape,
        uninitialized: { po in
            let po = po.baseAddress!
            xv.withUnsafeBufferPointer { px in
                wv.withUnsafeBufferPointer { pw in
                    inverseRMS.withUnsafeMutableBufferPointer { pr in
                        let px = px.baseAddress!
                        let pw = pw.baseAddress!
                        let pr = pr.baseAddress!
                        Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { rs in
                            for r in rs {
                                let xr = px + r * width
                                let yr = po + r * width
                                let meanSquare = Kernels.dot(xr, xr, width) / Float(width)
                                let inv = 1 / (meanSquare + eps).squareRoot()
                                if keep { pr[r] = inv }
                                for c in 0..<width { yr[c] = pw[c] * (xr[c] * inv) }
                            }
                        }
                    }
                }
            }
        })
    return Variable(out, parents: [x, weight]) { g in
        var dx: Tensor?
        var dw: Tensor?
        g.withUnsafeBufferPointer { pg in
            xv.withUnsafeBufferPointer { px in
                wv.withUnsafeBufferPointer { pw in
                    inverseRMS.withUnsafeBufferPointer { pr in
                        let pg = pg.baseAddress!
                        let px = px.baseAddress!
                        let pw = pw.baseAddress!
                        let pr = pr.baseAddress!
                        if x.requiresGrad {
                            dx = Tensor(
                                shape: xv.shape,
                                uninitialized: { pdx in
                                    let pdx = pdx.baseAddress!
                                    Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { rs in
                                        for r in rs {
                                            let gr = pg + r * width
                                            let xr = px + r * width
                                            let inv = pr[r]
                                            var dotGWX: Float = 0
                                            for c in 0..<width { dotGWX += gr[c] * pw[c] * xr[c] }
                                            let k = inv * inv * inv * dotGWX / Float(width)
                                            for c in 0..<width { pdx[r * width + c] = inv * gr[c] * pw[c] - xr[c] * k }
                                        }
                                    }
                                })
                        }
                        if weight.requiresGrad {
                            dw = Tensor(
                                shape: wv.shape,
                                uninitialized: { pdw in
                                    Kernels.columnReduce(rows: rows, width: width, into: pdw.baseAddress!) {
                                        r, cols, acc in
                                        let inv = pr[r]
                                        for c in cols { acc[c] += pg[r * width + c] * px[r * width + c] * inv }
                                    }
                                })
                        }
                    }
                }
            }
        }
        return [dx, dw]
    }
}

/// LayerNorm (PyTorch `nn.LayerNorm`): y = (x − mean) / √(var + eps) · weight + bias, biased
/// variance over the last dim. x [.., C], weight [C], bias [C] -> [.., C].
///
/// Backward with x̂ = (x − mean)·rstd, ĝ = g·w: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂));
/// dw = Σ_rows g·x̂; db = Σ_rows g.
public func layerNorm(_ x: Variable, weight: Variable, bias: Variable?, eps: Float) -> Variable {
    let xv = x.value
    let wv = weight.value
    let bv = bias?.value
    let width = xv.lastDim
    let rows = xv.rows
    precondition(wv.count == width, "layerNorm: weight \(wv.shape) does not match \(xv.shape)")
    if let bv { precondition(bv.count == width, "layerNorm: bias \(bv.shape) does not match \(xv.shape)") }
    let keep = anyRequiresGrad(x, weight, bias)
    var stats = [Float](repeating: 0, count: keep ? 2 * rows : 0)  // [N, 2]: mean, rstd
    let out = Tensor(
        shape: xv.shape,
        uninitialized: { po in
            let po = po.baseAddress!
            xv.withUnsafeBufferPointer { px in
                wv.withUnsafeBufferPointer { pw in
                    (bv ?? Tensor.zeros([width])).withUnsafeBufferPointer { pb in
                        stats.withUnsafeMutableBufferPointer { ps in
                            let px = px.baseAddress!
                            let pw = pw.baseAddress!
                            let pb = pb.baseAddress!
                            let ps = ps.baseAddress!
                            Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { rs in
                                for r in rs {
                                    let xr = px + r * width
                                    let yr = po + r * width
                                    let mean = Kernels.sum(xr, width) / Float(width)
                                    // Two-pass variance, eight partial sums.
                                    let raw = UnsafeRawPointer(xr)
                                    let meanVector = SIMD8<Float>(repeating: mean)
                                    var acc = SIMD8<Float>()
                                    var c = 0
                                    while c + 8 <= width {
                                        let d =
                                            raw.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self) - meanVector
                                        acc += d * d
                                        c += 8
                                    }
                                    var variance = acc.sum()
                                    while c < width {
                                        variance += (xr[c] - mean) * (xr[c] - mean)
                                        c += 1
                                    }
                                    variance /= Float(width)
                                    let rstd = 1 / (variance + eps).squareRoot()
                                    if keep {
                                        ps[2 * r] = mean
                                        ps[2 * r + 1] = rstd
                                    }
                                    // Same evaluation order as PyTorch's CPU kernel: (x·rstd − mean·rstd)·w + b.
                                    let shift = -rstd * mean
                                    for c in 0..<width { yr[c] = (xr[c] * rstd + shift) * pw[c] + pb[c] }
                                }
                            }
                        }
                    }
                }
            }
        })
    let parents = bias.map { [x, weight, $0] } ?? [x, weight]
    return Variable(out, parents: parents) { g in
        var grads: [Tensor?] = [nil, nil, nil]
        g.withUnsafeBufferPointer { pg in
            xv.withUnsafeBufferPointer { px in
                wv.withUnsafeBufferPointer { pw in
                    stats.withUnsafeBufferPointer { ps in
                        let pg = pg.baseAddress!
                        let px = px.baseAddress!
                        let pw = pw.baseAddress!
                        let ps = ps.baseAddress!
                        if x.requiresGrad {
                            grads[0] = Tensor(
                                shape: xv.shape,
                                uninitialized: { pdx in
                                    let pdx = pdx.baseAddress!
                                    Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { rs in
                                        for r in rs {
                                            let gr = pg + r * width
                                            let xr = px + r * width
                                            let mean = ps[2 * r]
                                            let rstd = ps[2 * r + 1]
                                            var sumG: Float = 0
                                            var sumGX: Float = 0
                                            for c in 0..<width {
                                                let gh = gr[c] * pw[c]
                                                sumG += gh
                                                sumGX += gh * (xr[c] - mean) * rstd
                                            }
                                            let meanG = sumG / Float(width)
                                            let meanGX = sumGX / Float(width)
                                            for c in 0..<width {
                                                let xhat = (xr[c] - mean) * rstd
                                                pdx[r * width + c] = rstd * (gr[c] * pw[c] - meanG - xhat * meanGX)
                                            }
                                        }
                                    }
                                })
                        }
                        if weight.requiresGrad {
                            grads[1] = Tensor(
                                shape: wv.shape,
                                uninitialized: { pdw in
                                    Kernels.columnReduce(rows: rows, width: width, into: pdw.baseAddress!) {
                                        r, cols, acc in
                                        let mean = ps[2 * r]
                                        let rstd = ps[2 * r + 1]
                                        for c in cols {
                                            acc[c] += pg[r * width + c] * (px[r * width + c] - mean) * rstd
                                        }
                                    }
                                })
                        }
                        if let bv, bias?.requiresGrad == true {
                            grads[2] = Tensor(
                                shape: bv.shape,
                                uninitialized: { pdb in
                                    Kernels.columnReduce(rows: rows, width: width, into: pdb.baseAddress!) {
                                        r, cols, acc in
                                        for c in cols { acc[c] += pg[r * width + c] }
                                    }
                                })
                        }
                    }
                }
            }
        }
        return grads
    }
}
