import Foundation

// The routed experts of an MoE layer as one op: gather each expert's tokens, run its SwiGLU
// network, scale by the gate weights and scatter-add back. Forward and backward both run the
// experts concurrently, one per worker (dynamic, busiest first), each expert's products whole on
// its worker: every weight matrix is packed once per product instead of once per thread, and the
// backward needs no [N, C] zero tensor per expert (the composed ops' gatherRows backward did).
// The forward computes exactly what gatherRows → linear ×2 → swiglu → linear → scaleRows →
// scatterAddRows compute, with the same kernels in the same order (bit-identical outputs).

/// Routed SwiGLU experts, fused. x [N, C]; per expert e: `gate[e]`, `up[e]` [I, C], `down[e]`
/// [C, I]; `tokens[e]` the rows of x routed to e (n_e of them) and `slots[e]` the flat index of
/// each one's gate weight in `weights` ([N, K], N·K elements). -> [N, C]:
///
///     out[t] = Σ_e Σ_{i: tokens[e][i] = t} weights[slots[e][i]] · down_e(silu(gate_e·x_t) ⊙ up_e·x_t)
///
/// summed per row in expert order. Experts with no tokens are skipped and get no gradient (as
/// when they are not part of the graph: an optimizer leaves them alone).
///
/// Backward per expert, with ĝ = rows `tokens[e]` of the output gradient and y the expert's
/// output: dw[slot] = ĝ·y; dy = w·ĝ; dH = dy·W_down, dW_down = dyᵀ·H; dG = dH·u·silu'(g),
/// dU = dH·silu(g); dW_gate = dGᵀ·x_e, dW_up = dUᵀ·x_e; dx_e = dG·W_gate + dU·W_up, scatter-added
/// into dx.
public func groupedExperts(
    _ x: Variable, gate: [Variable], up: [Variable], down: [Variable], tokens: [[Int]], slots: [[Int]],
    weights: Variable
) -> Variable {
    let xv = x.value
    let wv = weights.value
    let (n, c) = (xv.rows, xv.lastDim)
    let experts = tokens.count
    precondition(
        gate.count == experts && up.count == experts && down.count == experts && slots.count == experts,
        "groupedExperts: \(experts) token "
            + "lists, \(gate.count)/\(up.count)/\(down.count) weights, \(slots.count) slot lists"
    )
    for e in 0..<experts {
        let i = gate[e].value.shape.first ?? 0
        precondition(
            gate[e].value.shape == [i, c] && up[e].value.shape == [i, c] && down[e].value.shape == [c, i],
            "groupedExperts: expert \(e) weights \(gate[e].shape), \(up[e].shape), \(down[e].shape) for width \(c)")
        precondition(tokens[e].count == slots[e].count, "groupedExperts: expert \(e) token and slot counts differ")
        for t in tokens[e] { precondition(t >= 0 && t < n, "groupedExperts: token row \(t) outside 0..<\(n)") }
        for s in slots[e] { precondition(s >= 0 && s < wv.count, "groupedExperts: slot \(s) outside 0..<\(wv.count)") }
    }
    let active = (0..<experts).filter { !tokens[$0].isEmpty }
    let busiestFirst = active.sorted { tokens[$0].count > tokens[$1].count }
    let keep =
        anyRequiresGrad(x, weights) || gate.contains(where: \.requiresGrad) || up.contains(where: \.requiresGrad)
        || down.contains(where: \.requiresGrad)

    if !keep {
        return Variable(
            inferenceExperts(
                xv, gate: gate.map(\.value), up: up.map(\.value), down: down.map(\.value), tokens: tokens, slots: slots,
                weights: wv, order: busiestFirst))
    }
    var saved = [ExpertActivations?](repeating: nil, count: experts)  // kept for the backward only
    var scaled = [Tensor](repeating: Tensor.zeros([0]), count: experts)  // w · y per expert
    saved.withUnsafeMutableBufferPointer { savedOut in
        scaled.withUnsafeMutableBufferPointer { scaledOut in
            let (savedOut, scaledOut) = (UncheckedSendable(savedOut), UncheckedSendable(scaledOut))
            Parallel.forEachItem(in: busiestFirst) { e in
                let xe = gatherKernel(xv, tokens[e])  // [N, C] -> [n_e, C]
                let g = Gemm.matmul(xe, gate[e].value, transposeB: true)  // [n_e, I]
                let u = Gemm.matmul(xe, up[e].value, transposeB: true)  // [n_e, I]
                let h = g.zipLanes(u, SwiGLULanes())  // [n_e, I]
                let y = Gemm.matmul(h, down[e].value, transposeB: true)  // [n_e, C]
                let w = gatherKernel(wv.reshaped([wv.count, 1]), slots[e])  // [n_e, 1]
                scaledOut.value[e] = scaleRowsKernel(y, w)
                if keep {
                    savedOut.value[e] = ExpertActivations(x: xe, gate: g, up: u, hidden: h, output: y, weights: w)
                }
            }
        }
    }
    let out = scatterAddKernel(active.map { scaled[$0] }, active.map { tokens[$0] }, rowCount: n, width: c)
    let parents = [x, weights] + gate + up + down
    let activations = saved
    return Variable(out, parents: parents) { g in
        var dx = [Tensor](repeating: Tensor.zeros([0]), count: experts)
        var dWeights = weights.requiresGrad ? Tensor.zeros([wv.count]) : nil
        var dGate = [Tensor?](repeating: nil, count: experts)
        var dUp = [Tensor?](repeating: nil, count: experts)
        var dDown = [Tensor?](repeating: nil, count: experts)
        withMutablePointer(&dWeights) { pdw in
            dx.withUnsafeMutableBufferPointer { pdx in
                dGate.withUnsafeMutableBufferPointer { pg in
                    dUp.withUnsafeMutableBufferPointer { pu in
                        dDown.withUnsafeMutableBufferPointer { pd in
                            let shared = UncheckedSendable((pdw, pdx, pg, pu, pd))
                            Parallel.forEachItem(in: busiestFirst) { e in
                                let (pdw, pdx, pg, pu, pd) = shared.value
                                let a = activations[e]!
                                let grads = a.backward(
                                    g, tokens: tokens[e], gate: gate[e], up: up[e], down: down[e],
                                    needsX: x.requiresGrad)
                                if let pdw {
                                    for (i, s) in slots[e].enumerated() { pdw[s] = grads.weights[i] }
                                }
                                if let dxe = grads.x { pdx[e] = dxe }
                                pg[e] = grads.gate
                                pu[e] = grads.up
                                pd[e] = grads.down
                            }
                        }
                    }
                }
            }
        }
        let dxTotal =
            x.requiresGrad
            ? scatterAddKernel(active.map { dx[$0] }, active.map { tokens[$0] }, rowCount: n, width: c)
                .reshaped(xv.shape)
            : nil
        return [dxTotal, dWeights?.reshaped(wv.shape)] + dGate + dUp + dDown
    }
}

/// The forward of `groupedExperts` when nothing needs a gradient, in less memory and the same bits.
/// Each worker's expert writes its SwiGLU hidden over the gate projection and gates its output in
/// place. With K ≤ 2 every row sums at most two expert outputs, and a + b = b + a exactly, so each
/// expert adds its rows into the output as it finishes (first contribution copied, second added,
/// under a lock) instead of all N·K output rows waiting for one scatter: the same numbers as the
/// scatter in expert order. With K > 2 the order of the sums matters, and the outputs are kept
/// for that scatter. (Config A, 768 tokens per pass: about 9 MB less at the peak.)
func inferenceExperts(
    _ xv: Tensor, gate: [Tensor], up: [Tensor], down: [Tensor], tokens: [[Int]], slots: [[Int]], weights wv: Tensor,
    order: [Int]
) -> Tensor {
    let (n, c) = (xv.rows, xv.lastDim)
    let pairwise = n == 0 || wv.count <= 2 * n
    var out = Tensor.zeros(pairwise ? [n, c] : [0])
    var written = [Bool](repeating: false, count: pairwise ? n : 0)
    var scaled = [Tensor?](repeating: nil, count: tokens.count)  // K > 2 only
    let lock = NSLock()
    out.withUnsafeMutableBufferPointer { po in
        written.withUnsafeMutableBufferPointer { pw in
            scaled.withUnsafeMutableBufferPointer { ps in
                let shared = UncheckedSendable((po.baseAddress, pw.baseAddress, ps))
                Parallel.forEachItem(in: order) { e in
                    let (po, pw, ps) = shared.value
                    var y: Tensor
                    do {
                        let xe = gatherKernel(xv, tokens[e])  // [n_e, C]
                        var h = Gemm.matmul(xe, gate[e], transposeB: true)  // [n_e, I]
                        h.formZipLanes(Gemm.matmul(xe, up[e], transposeB: true), SwiGLULanes())
                        y = Gemm.matmul(h, down[e], transposeB: true)  // [n_e, C]
                    }
                    wv.withUnsafeBufferPointer { pweights in
                        y.withUnsafeMutableBufferPointer { py in
                            for (i, slot) in slots[e].enumerated() {
                                let f = pweights[slot]
                                for j in 0..<c { py[i * c + j] *= f }
                            }
                            guard pairwise, let po, let pw else { return }
                            lock.lock()
                            defer { lock.unlock() }
                            for (i, t) in tokens[e].enumerated() {
                                let (src, dst) = (py.baseAddress! + i * c, po + t * c)
                                if pw[t] {
                                    Kernels.add(src, into: dst, c)
                                } else {
                                    dst.update(from: src, count: c)
                                    pw[t] = true
                                }
                            }
                        }
                    }
                    if !pairwise { ps[e] = y }
                }
            }
        }
    }
    if pairwise { return out }
    let active = scaled.indices.filter { scaled[$0] != nil }
    return scatterAddKernel(active.map { scaled[$0]! }, active.map { tokens[$0] }, rowCount: n, width: c)
}

/// What one expert's forward keeps for its backward: its input rows, the gate and up projections,
/// the SwiGLU hidden, its output before gating and the gate weights. Shapes [n_e, C|I|1].
struct ExpertActivations {
    let x: Tensor, gate: Tensor, up: Tensor, hidden: Tensor, output: Tensor, weights: Tensor

    struct Gradients {
        var x: Tensor?
        var weights: [Float]
        var gate: Tensor?, up: Tensor?, down: Tensor?
    }

    /// The gradients of one expert given the layer's output gradient g [N, C] (see `groupedExperts`).
    func backward(_ g: Tensor, tokens: [Int], gate: Variable, up: Variable, down: Variable, needsX: Bool) -> Gradients {
        let ge = gatherKernel(g, tokens)  // [n_e, C]
        let rows = ge.rows
        let c = ge.lastDim
        var result = Gradients(weights: [Float](repeating: 0, count: rows))
        ge.withUnsafeBufferPointer { pg in
            output.withUnsafeBufferPointer { py in
                let (pg, py) = (pg.baseAddress!, py.baseAddress!)
                for r in 0..<rows { result.weights[r] = Kernels.dot(pg + r * c, py + r * c, c) }
            }
        }
        let dy = scaleRowsKernel(ge, weights)  // [n_e, C]
        if down.requiresGrad { result.down = Gemm.matmul(dy, hidden, transposeA: true) }  // [C, I]
        let dHidden = Gemm.matmul(dy, down.value)  // [n_e, C] · [C, I] -> [n_e, I]
        let dGate = dHidden.zipLanes(self.gate, self.up, SwiGLUGateBackwardLanes())
        let dUp = dHidden.zipLanes(self.gate, SiLULanes2())
        if gate.requiresGrad { result.gate = Gemm.matmul(dGate, x, transposeA: true) }  // [I, C]
        if up.requiresGrad { result.up = Gemm.matmul(dUp, x, transposeA: true) }  // [I, C]
        if needsX {
            var dx = Gemm.matmul(dGate, gate.value)  // [n_e, I] · [I, C]
            dx.add(Gemm.matmul(dUp, up.value))
            result.x = dx
        }
        return result
    }
}
