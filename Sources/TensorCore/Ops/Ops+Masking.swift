/// Ops the MoE models need besides the core set: stacking expert outputs, masking pruned experts,
/// and OLMoE's optional q/k/v clipping.

/// Stacks row blocks: parts [n_i, C] -> [Σ n_i, C]. Used to combine the outputs of the experts before
/// one scatter-add, so an MoE layer allocates one [N, C] output whatever the expert count.
public func concatRows(_ parts: [Variable]) -> Variable {
    precondition(!parts.isEmpty, "concatRows of nothing")
    let c = parts[0].value.lastDim
    let counts = parts.map { $0.value.rows }
    for p in parts { precondition(p.value.lastDim == c, "concatRows: widths differ (\(p.shape) vs \(c))") }
    let total = counts.reduce(0, +)
    var data = [Float]()
    data.reserveCapacity(total * c)
    for p in parts { data.append(contentsOf: p.value.data) }
    let out = Tensor(shape: [total, c], data: data)
    return Variable(out, parents: parts) { g in
        var grads: [Tensor?] = []
        var offset = 0
        for n in counts {
            grads.append(Tensor(shape: [n, c], data: Array(g.data[(offset * c)..<((offset + n) * c)])))
            offset += n
        }
        return grads
    }
}

/// Sets the columns whose `keep` flag is false to -infinity: x [N, E] -> [N, E].
/// Masking a router's logits this way makes softmax and top-k act as if those experts were removed,
/// which is how `prune --mode mask` is defined. No gradient reaches the masked columns.
public func maskColumns(_ x: Variable, keep: [Bool]) -> Variable {
    let e = x.value.lastDim
    precondition(keep.count == e, "maskColumns: \(keep.count) flags for \(e) columns")
    var out = x.value
    out.withUnsafeMutableBufferPointer { p in
        for r in 0..<(p.count / max(1, e)) {
            for j in 0..<e where !keep[j] { p[r * e + j] = -Float.infinity }
        }
    }
    return Variable(out, parents: [x]) { g in
        var gx = g
        gx.withUnsafeMutableBufferPointer { p in
            for r in 0..<(p.count / max(1, e)) {
                for j in 0..<e where !keep[j] { p[r * e + j] = 0 }
            }
        }
        return [gx]
    }
}

/// Clamps to [-limit, limit] (OLMoE `clip_qkv`); the gradient passes where the value was inside.
public func clamp(_ x: Variable, limit: Float) -> Variable {
    let out = Tensor(shape: x.shape, data: x.value.data.map { min(max($0, -limit), limit) })
    return Variable(out, parents: [x]) { g in
        let src = x.value.data
        return [Tensor(shape: g.shape, data: zip(g.data, src).map { abs($1) <= limit ? $0 : 0 })]
    }
}
