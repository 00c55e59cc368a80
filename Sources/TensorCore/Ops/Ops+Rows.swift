// Row gather/scatter: token embeddings and the dispatch of tokens to experts and back.

/// Copies rows `indices` of `table`: [R, C] -> [n, C] with n = indices.count.
/// Backward scatters (adds) the gradient rows back into a zero [R, C].
public func gatherRows(_ table: Variable, _ indices: [Int]) -> Variable {
    let tv = table.value
    let rowCount = tv.rows
    let width = tv.lastDim
    for i in indices { precondition(i >= 0 && i < rowCount, "gatherRows: index \(i) outside 0..<\(rowCount)") }
    let out = gatherKernel(tv, indices)
    return Variable(out, parents: [table]) { g in [scatterAddKernel(g, indices, rowCount: rowCount, width: width)] }
}

/// Sums rows of x into the rows named by `indices`: [n, C] -> [rowCount, C]; rows with equal
/// index add up (the combine step of an MoE layer). Backward gathers the gradient rows.
public func scatterAddRows(_ x: Variable, _ indices: [Int], rowCount: Int) -> Variable {
    let xv = x.value
    precondition(xv.rows == indices.count, "scatterAddRows: \(xv.shape) has \(xv.rows) rows, \(indices.count) indices")
    for i in indices { precondition(i >= 0 && i < rowCount, "scatterAddRows: index \(i) outside 0..<\(rowCount)") }
    let out = scatterAddKernel(xv, indices, rowCount: rowCount, width: xv.lastDim)
    return Variable(out, parents: [x]) { g in [gatherKernel(g, indices).reshaped(xv.shape)] }
}

/// Scales each row by its own factor: x [n, C], s [n] (or [n, 1]) -> x[i, :] · s[i].
/// Backward: dx[i, :] = g[i, :] · s[i]; ds[i] = Σ_c g[i, c] · x[i, c].
public func scaleRows(_ x: Variable, _ s: Variable) -> Variable {
    let xv = x.value
    let sv = s.value
    let rows = xv.rows
    let width = xv.lastDim
    precondition(sv.count == rows, "scaleRows: \(sv.shape) does not give one factor per row of \(xv.shape)")
    let out = scaleRowsKernel(xv, sv)
    return Variable(out, parents: [x, s]) { g in
        var ds: Tensor?
        if s.requiresGrad {
            ds = Tensor(
                shape: sv.shape,
                uninitialized: { pds in
                    let pds = pds.baseAddress!
                    g.withUnsafeBufferPointer { pg in
                        xv.withUnsafeBufferPointer { px in
                            let pg = pg.baseAddress!
                            let px = px.baseAddress!
                            Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { rs in
                                for r in rs { pds[r] = Kernels.dot(pg + r * width, px + r * width, width) }
                            }
                        }
                    }
                })
        }
        return [x.requiresGrad ? scaleRowsKernel(g, sv) : nil, ds]
    }
}

/// out[i, :] = table[indices[i], :]: [R, C] -> [n, C].
func gatherKernel(_ table: Tensor, _ indices: [Int]) -> Tensor {
    let width = table.lastDim
    return Tensor(
        shape: [indices.count, width],
        uninitialized: { po in
            let po = po.baseAddress!
            table.withUnsafeBufferPointer { pt in
                indices.withUnsafeBufferPointer { pi in
                    let pt = pt.baseAddress!
                    Parallel.forEach(pi.count, grain: Kernels.grain(rowWidth: width)) { rs in
                        for r in rs { (po + r * width).update(from: pt + pi[r] * width, count: width) }
                    }
                }
            }
        })
}

/// out[indices[i], :] += x[i, :] into zeros [rowCount, C]. Parallel over column chunks, so rows
/// with equal index never race and each sum runs in index order (deterministic).
func scatterAddKernel(_ x: Tensor, _ indices: [Int], rowCount: Int, width: Int) -> Tensor {
    var out = Tensor.zeros([rowCount, width])
    out.withUnsafeMutableBufferPointer { po in
        let po = po.baseAddress!
        x.withUnsafeBufferPointer { px in
            indices.withUnsafeBufferPointer { pi in
                let px = px.baseAddress!
                let grainColumns = max(16, 65_536 / max(1, pi.count))
                Parallel.forEach(width, grain: grainColumns) { cols in
                    for (r, target) in pi.enumerated() {
                        let src = px + r * width
                        let dst = po + target * width
                        for c in cols { dst[c] += src[c] }
                    }
                }
            }
        }
    }
    return out
}

/// out[i, :] = x[i, :] · s[i].
func scaleRowsKernel(_ x: Tensor, _ s: Tensor) -> Tensor {
    let width = x.lastDim
    return Tensor(
        shape: x.shape,
        uninitialized: { po in
            let po = po.baseAddress!
            x.withUnsafeBufferPointer { px in
                s.withUnsafeBufferPointer { ps in
                    let px = px.baseAddress!
                    let ps = ps.baseAddress!
                    Parallel.forEach(x.rows, grain: Kernels.grain(rowWidth: width)) { rs in
                        for r in rs {
                            let f = ps[r]
                            for c in 0..<width { po[r * width + c] = px[r * width + c] * f }
                        }
                    }
                }
            }
        })
}
