// Column blocks: how multi-head latent attention (MLA) puts the parts of a head together
// ([q_nope | q_rope], [k_nope | k_rope]) and pads a value head to the query/key head size.

/// Joins column blocks of equal row count: parts [N, C_i] -> [N, Σ C_i].
/// Backward hands each part its own columns of the gradient.
public func concatColumns(_ parts: [Variable]) -> Variable {
    precondition(!parts.isEmpty, "concatColumns of nothing")
    let rows = parts[0].value.rows
    let widths = parts.map { $0.value.lastDim }
    for p in parts { precondition(p.value.rows == rows, "concatColumns: \(p.shape) has not \(rows) rows") }
    let total = widths.reduce(0, +)
    var offsets: [Int] = []
    var offset = 0
    for w in widths {
        offsets.append(offset)
        offset += w
    }
    let values = parts.map(\.value)
    let out = Tensor(shape: [rows, total]) { po in
        for (i, v) in values.enumerated() {
            let w = widths[i]
            let o = offsets[i]
            v.withUnsafeBufferPointer { pv in
                for r in 0..<rows {
                    for j in 0..<w { po[r * total + o + j] = pv[r * w + j] }
                }
            }
        }
    }
    return Variable(out, parents: parts) { g in
        widths.indices.map { i -> Tensor? in
            let w = widths[i]
            let o = offsets[i]
            return g.withUnsafeBufferPointer { pg in
                Tensor(shape: [rows, w]) { pd in
                    for r in 0..<rows {
                        for j in 0..<w { pd[r * w + j] = pg[r * total + o + j] }
                    }
                }
            }
        }
    }
}

/// x [N, C] followed by `count` zero columns -> [N, C + count]. Backward drops the padding's gradient.
public func padColumns(_ x: Variable, count: Int) -> Variable {
    precondition(count >= 0, "padColumns: negative count \(count)")
    if count == 0 { return x }
    return concatColumns([x, Variable(Tensor.zeros([x.value.rows, count]))])
}
