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
    scatterAddRows([x], [indices], rowCount: rowCount)
}

/// Sums the rows of several blocks into one [rowCount, C]: row r of part p goes to row
/// `indices[p][r]`. The same as `scatterAddRows(concatRows(parts), indices.joined())` without
/// the stacked copy: the MoE combine step, one part per expert. Backward gathers each part's rows.
public func scatterAddRows(_ parts: [Variable], _ indices: [[Int]], rowCount: Int) -> Variable {
    precondition(
        !parts.isEmpty && parts.count == indices.count,
        "scatterAddRows: \(parts.count) parts, \(indices.count) index lists")
    let values = parts.map(\.value)
    let width = values[0].lastDim
    for (v, idx) in zip(values, indices) {
        precondition(v.lastDim == width, "scatterAddRows: widths differ (\(v.shape) vs \(width))")
        precondition(v.rows == idx.count, "scatterAddRows: \(v.shape) has \(v.rows) rows, \(idx.count) indices")
        for i in idx { precondition(i >= 0 && i < rowCount, "scatterAddRows: index \(i) outside 0..<\(rowCount)") }
    }
    let out = scatterAddKernel(values, indices, rowCount: rowCount, width: width)
    return Variable(out, parents: parts) { g in
        zip(values, indices).map { v, idx in gatherKernel(g, idx).reshaped(v.shape) }
    }
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

/// out[indices[i], :] += x[i, :] into zeros [rowCount, C].
func scatterAddKernel(_ x: Tensor, _ indices: [Int], rowCount: Int, width: Int) -> Tensor {
    scatterAddKernel([x], [indices], rowCount: rowCount, width: width)
}

/// out[indices[p][i], :] += parts[p][i, :] into zeros [rowCount, C] (zeros when there are no
/// parts: every row without a source is zero). The sources of each output row
/// are listed first (counting sort by target), then rows run in parallel, each summing its sources
/// in part order and row order: deterministic whatever the thread count, and no two threads write
/// one row.
func scatterAddKernel(_ parts: [Tensor], _ indices: [[Int]], rowCount: Int, width: Int) -> Tensor {
    var start = [Int](repeating: 0, count: rowCount + 1)  // CSR offsets by target row
    for idx in indices {
        for t in idx { start[t + 1] += 1 }
    }
    for r in 0..<rowCount { start[r + 1] += start[r] }
    return withBaseAddresses(parts) { bases in
        var sources = [UnsafePointer<Float>?](repeating: nil, count: start[rowCount])
        var fill = start
        for (p, idx) in indices.enumerated() {
            for (i, t) in idx.enumerated() {
                sources[fill[t]] = bases[p].map { $0 + i * width }
                fill[t] += 1
            }
        }
        return Tensor(
            shape: [rowCount, width],
            uninitialized: { po in
                guard rowCount > 0, width > 0 else { return }
                let po = po.baseAddress!
                sources.withUnsafeBufferPointer { ps in
                    start.withUnsafeBufferPointer { pstart in
                        Parallel.forEach(rowCount, grain: Kernels.grain(rowWidth: width)) { rows in
                            for r in rows {
                                let dst = po + r * width
                                let (lo, hi) = (pstart[r], pstart[r + 1])
                                if lo == hi {
                                    dst.update(repeating: 0, count: width)
                                    continue
                                }
                                dst.update(from: ps[lo]!, count: width)
                                for s in (lo + 1)..<hi { Kernels.add(ps[s]!, into: dst, width) }
                            }
                        }
                    }
                }
            })
    }
}

/// Calls `body` with the base address of every tensor's storage (nil for an empty one), all
/// valid for the duration of the call.
func withBaseAddresses<R>(_ tensors: [Tensor], _ body: ([UnsafePointer<Float>?]) -> R) -> R {
    func pin(_ i: Int, _ collected: [UnsafePointer<Float>?]) -> R {
        if i == tensors.count { return body(collected) }
        return tensors[i].withUnsafeBufferPointer { pin(i + 1, collected + [$0.baseAddress]) }
    }
    return pin(0, [])
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
