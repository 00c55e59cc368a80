// Ops that move elements without arithmetic.

/// The same elements with another shape of equal element count. Backward reshapes back.
public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
    let original = x.value.shape
    return Variable(x.value.reshaped(shape), parents: [x]) { g in [g.reshaped(original)] }
}

/// Columns `range` of x viewed as [N, C] -> [N, range.count] (e.g. splitting a fused QKV
/// projection). Backward writes the gradient into those columns of a zero [N, C].
public func sliceColumns(_ x: Variable, _ range: Range<Int>) -> Variable {
    let xv = x.value
    let width = xv.lastDim
    let rows = xv.rows
    let n = range.count
    precondition(range.lowerBound >= 0 && range.upperBound <= width, "sliceColumns: \(range) outside 0..<\(width)")
    let out = Tensor(
        shape: [rows, n],
        uninitialized: { po in
            let po = po.baseAddress!
            xv.withUnsafeBufferPointer { px in
                let px = px.baseAddress!
                Parallel.forEach(rows, grain: Kernels.grain(rowWidth: n)) { rs in
                    for r in rs { (po + r * n).update(from: px + r * width + range.lowerBound, count: n) }
                }
            }
        })
    return Variable(out, parents: [x]) { g in
        var dx = Tensor.zeros(xv.shape)
        dx.withUnsafeMutableBufferPointer { pdx in
            let pdx = pdx.baseAddress!
            g.withUnsafeBufferPointer { pg in
                let pg = pg.baseAddress!
                Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { rs in
                    for r in rs { (pdx + r * width + range.lowerBound).update(from: pg + r * n, count: n) }
                }
            }
        }
        return [dx]
    }
}
