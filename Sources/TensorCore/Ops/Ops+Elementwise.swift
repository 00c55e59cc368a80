import Foundation

// Elementwise ops. Kernels run over the flat buffer in parallel chunks; each backward rule is the
// derivative written next to its forward.

/// Sum. a [..], b with the same element count -> shape of a; or b [C] broadcast over the rows of
/// a [.., C] (a bias).
public func add(_ a: Variable, _ b: Variable) -> Variable {
    let av = a.value
    let bv = b.value
    if av.count == bv.count {
        let out = av.zipElements(bv, +)
        return Variable(out, parents: [a, b]) { g in [a.requiresGrad ? g : nil, b.requiresGrad ? g : nil] }
    }
    let width = av.lastDim
    precondition(bv.count == width, "add: \(bv.shape) neither matches \(av.shape) nor broadcasts over its rows")
    let rows = av.rows
    let out = Tensor(
        shape: av.shape,
        uninitialized: { po in
            let po = po.baseAddress!
            av.withUnsafeBufferPointer { pa in
                bv.withUnsafeBufferPointer { pb in
                    let pa = pa.baseAddress!
                    let pb = pb.baseAddress!
                    Parallel.forEach(rows, grain: Kernels.grain(rowWidth: width)) { range in
                        for r in range {
                            for c in 0..<width { po[r * width + c] = pa[r * width + c] + pb[c] }
                        }
                    }
                }
            }
        })
    return Variable(out, parents: [a, b]) { g in
        var db: Tensor?
        if b.requiresGrad {
            // db [C] = Σ_rows g
            db = Tensor(
                shape: bv.shape,
                uninitialized: { pdb in
                    g.withUnsafeBufferPointer { pg in
                        let pg = pg.baseAddress!
                        Kernels.columnReduce(rows: rows, width: width, into: pdb.baseAddress!) { r, cols, acc in
                            for c in cols { acc[c] += pg[r * width + c] }
                        }
                    }
                })
        }
        return [a.requiresGrad ? g : nil, db]
    }
}

/// Elementwise product of two tensors of the same shape (or element count); result has a's shape.
public func mul(_ a: Variable, _ b: Variable) -> Variable {
    let av = a.value
    let bv = b.value
    let out = av.zipElements(bv, *)
    return Variable(out, parents: [a, b]) { g in
        [a.requiresGrad ? g.zipElements(bv, *) : nil, b.requiresGrad ? g.zipElements(av, *).reshaped(bv.shape) : nil]
    }
}

/// a * s for a constant s.
public func scale(_ a: Variable, _ s: Float) -> Variable {
    let out = a.value.mapElements { $0 * s }
    return Variable(out, parents: [a]) { g in [g.mapElements { $0 * s }] }
}

@inline(__always) func sigmoidScalar(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

/// Logistic function 1 / (1 + e^-x). Backward: dy/dx = y (1 - y).
public func sigmoid(_ x: Variable) -> Variable {
    let out = x.value.mapElements(sigmoidScalar)
    return Variable(out, parents: [x]) { g in [g.zipElements(out) { g, y in g * y * (1 - y) }] }
}

@inline(__always) func siluDerivative(_ x: Float) -> Float {
    let s = sigmoidScalar(x)
    return s * (1 + x * (1 - s))
}

/// SiLU (swish): x * sigmoid(x). Backward: s (1 + x (1 - s)).
public func silu(_ x: Variable) -> Variable {
    let xv = x.value
    let out = xv.mapElements { $0 * sigmoidScalar($0) }
    return Variable(out, parents: [x]) { g in [g.zipElements(xv) { g, x in g * siluDerivative(x) }] }
}

/// √(2/π) and the cubic coefficient of the tanh approximation of GELU (PyTorch `approximate="tanh"`).
let geluBeta: Float = 0.797_884_560_802_865_4
let geluKappa: Float = 0.044715

/// GELU, tanh approximation: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).
public func gelu(_ x: Variable) -> Variable {
    let xv = x.value
    let out = xv.mapElements { x in 0.5 * x * (1 + tanh(geluBeta * (x + geluKappa * x * x * x))) }
    return Variable(out, parents: [x]) { g in
        [
            g.zipElements(xv) { g, x in
                let t = tanh(geluBeta * (x + geluKappa * x * x * x))
                let dInner = geluBeta * (1 + 3 * geluKappa * x * x)
                return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner)
            }
        ]
    }
}

/// SwiGLU expert activation, fused: silu(gate) * up. gate, up [N, I] -> [N, I].
/// Backward: dgate = g · up · silu'(gate), dup = g · silu(gate).
public func swiglu(gate: Variable, up: Variable) -> Variable {
    let gv = gate.value
    let uv = up.value
    let out = gv.zipElements(uv) { g, u in g * sigmoidScalar(g) * u }
    return Variable(out, parents: [gate, up]) { dy in
        [
            gate.requiresGrad ? dy.zipElements(gv, uv) { dy, g, u in dy * u * siluDerivative(g) } : nil,
            up.requiresGrad ? dy.zipElements(gv) { dy, g in dy * g * sigmoidScalar(g) }.reshaped(uv.shape) : nil,
        ]
    }
}
