import Foundation
import TensorCore

/// Mean shortfall of routing entropy below a floor: (1/n) Σ_t max(0, floor − H(softmax(x_t))) over
/// the rows `rows` (all rows when nil). x [N, E] -> scalar.
///
/// The "routing spread" entanglement regulariser: it penalises tokens whose router distribution is
/// sharply peaked, so that tasks are carried by overlapping expert sets. Entropy in nats; masked
/// logits (−∞) contribute nothing. Backward: ∂H/∂x_j = −p_j (log p_j + H).
public func routingEntropyShortfall(_ x: Variable, floor: Float, rows: [Int]? = nil) -> Variable {
    let e = x.value.lastDim
    let selected = rows ?? Array(0..<x.value.rows)
    let n = max(selected.count, 1)
    var probabilities = [Float](repeating: 0, count: selected.count * e)
    var entropies = [Float](repeating: 0, count: selected.count)
    var total: Double = 0
    x.value.withUnsafeBufferPointer { p in
        for (i, r) in selected.enumerated() {
            var m = -Float.infinity
            for j in 0..<e { m = max(m, p[r * e + j]) }
            var s: Float = 0
            for j in 0..<e { s += exp(p[r * e + j] - m) }
            var h: Float = 0
            for j in 0..<e {
                let q = exp(p[r * e + j] - m) / s
                probabilities[i * e + j] = q
                if q > 0 { h -= q * log(q) }
            }
            entropies[i] = h
            total += Double(max(0, floor - h))
        }
    }
    let out = Tensor(scalar: Float(total / Double(n)))
    return Variable(out, parents: [x]) { g in
        let scale = g.scalar / Float(n)
        var grad = Tensor.zeros(x.shape)
        grad.withUnsafeMutableBufferPointer { d in
            for (i, r) in selected.enumerated() where entropies[i] < floor {
                let h = entropies[i]
                for j in 0..<e {
                    let q = probabilities[i * e + j]
                    // d/dx of (floor − H) = −∂H/∂x = p (log p + H)
                    if q > 0 { d[r * e + j] += scale * q * (log(q) + h) }
                }
            }
        }
        return [grad]
    }
}
