import Foundation

// Elementwise ops. Kernels run over the flat buffer in parallel chunks; each backward rule is the
// derivative written next to its forward.

/// Sum. a [..], b with the same element count -> shape of a; or b [C] broadcast over the rows of
/// a [.., C] (a bias).
public func add(_ a: Variable, _ b: Variable) -> Variable {
    let av = a.value
    let bv = b.value
    if av.count == bv.count {
        let out = av.zipLanes(bv, SumLanes())
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
    let out = av.zipLanes(bv, ProductLanes())
    return Variable(out, parents: [a, b]) { g in
        [
            a.requiresGrad ? g.zipLanes(bv, ProductLanes()) : nil,
            b.requiresGrad ? g.zipLanes(av, ProductLanes()).reshaped(bv.shape) : nil,
        ]
    }
}

/// a * s for a constant s.
public func scale(_ a: Variable, _ s: Float) -> Variable {
    let out = a.value.mapLanes(ScaledLanes(s))
    return Variable(out, parents: [a]) { g in [g.mapLanes(ScaledLanes(s))] }
}

@inline(__always) func sigmoidScalar(_ x: Float) -> Float { 1 / (1 + Kernels.exp(-x)) }

/// Logistic function 1 / (1 + e^-x). Backward: dy/dx = y (1 - y).
public func sigmoid(_ x: Variable) -> Variable {
    let out = x.value.mapLanes(SigmoidLanes())
    return Variable(out, parents: [x]) { g in [g.zipLanes(out, SigmoidBackwardLanes())] }
}

/// d silu / dx = s (1 + x (1 - s)) with s = sigmoid(x), eight lanes.
@inline(__always) func siluDerivative(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let s = Kernels.sigmoid(x)
    return s * (1 + x * (1 - s))
}

/// SiLU (swish): x * sigmoid(x). Backward: s (1 + x (1 - s)).
public func silu(_ x: Variable) -> Variable {
    let xv = x.value
    let out = xv.mapLanes(SiLULanes())
    return Variable(out, parents: [x]) { g in [g.zipLanes(xv, SiLUBackwardLanes())] }
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
    let out = gv.zipLanes(uv, SwiGLULanes())
    return Variable(out, parents: [gate, up]) { dy in
        [
            gate.requiresGrad ? dy.zipLanes(gv, uv, SwiGLUGateBackwardLanes()) : nil,
            up.requiresGrad ? dy.zipLanes(gv, SiLULanes2()).reshaped(uv.shape) : nil,
        ]
    }
}

// The lane functions of the activations above (see `LaneFunction`).

/// sigmoid(x).
struct SigmoidLanes: LaneFunction {
    @inline(__always) func callAsFunction(_ x: SIMD8<Float>) -> SIMD8<Float> { Kernels.sigmoid(x) }
}

/// g · y (1 − y) for y = sigmoid(x).
struct SigmoidBackwardLanes: LaneFunction2 {
    @inline(__always) func callAsFunction(_ g: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { g * y * (1 - y) }
}

/// x · sigmoid(x).
struct SiLULanes: LaneFunction {
    @inline(__always) func callAsFunction(_ x: SIMD8<Float>) -> SIMD8<Float> { x * Kernels.sigmoid(x) }
}

/// a · silu(b): the up-projection gradient of SwiGLU, dy · silu(gate).
struct SiLULanes2: LaneFunction2 {
    @inline(__always) func callAsFunction(_ dy: SIMD8<Float>, _ g: SIMD8<Float>) -> SIMD8<Float> {
        dy * g * Kernels.sigmoid(g)
    }
}

/// g · silu'(x).
struct SiLUBackwardLanes: LaneFunction2 {
    @inline(__always) func callAsFunction(_ g: SIMD8<Float>, _ x: SIMD8<Float>) -> SIMD8<Float> {
        g * siluDerivative(x)
    }
}

/// silu(gate) · up.
struct SwiGLULanes: LaneFunction2 {
    @inline(__always) func callAsFunction(_ g: SIMD8<Float>, _ u: SIMD8<Float>) -> SIMD8<Float> {
        g * Kernels.sigmoid(g) * u
    }
}

/// dy · up · silu'(gate).
struct SwiGLUGateBackwardLanes: LaneFunction3 {
    @inline(__always) func callAsFunction(_ dy: SIMD8<Float>, _ g: SIMD8<Float>, _ u: SIMD8<Float>) -> SIMD8<Float> {
        dy * u * siluDerivative(g)
    }
}
