import Foundation

/// gpt-oss's expert activation (`GptOssExperts._apply_gate`, transformers 5.25):
/// g = min(gate, limit), u = clamp(up, −limit, limit), out = (u + 1) · g · sigmoid(α·g).
/// Shapes: gate and up [n, I] -> [n, I].
///
/// Backward: d gate = dy · (u + 1) · (σ + α·g·σ(1 − σ)) where gate ≤ limit (0 above it), d up = dy · g·σ
/// where |up| ≤ limit (0 outside), σ = sigmoid(α·g); a clamp passes the gradient at its bound, as torch's.
public func clampedSwiglu(gate: Variable, up: Variable, alpha: Float, limit: Float) -> Variable {
    let gv = gate.value, uv = up.value
    precondition(gv.shape == uv.shape, "clampedSwiglu: gate \(gv.shape) vs up \(uv.shape)")
    let out = Tensor(shape: gv.shape) { o in
        gv.withUnsafeBufferPointer { pg in
            uv.withUnsafeBufferPointer { pu in
                for i in 0..<o.count {
                    let g = Swift.min(pg[i], limit), u = Swift.min(Swift.max(pu[i], -limit), limit)
                    o[i] = (u + 1) * g / (1 + Foundation.exp(-alpha * g))
                }
            }
        }
    }
    return Variable(out, parents: [gate, up]) { dy in
        var dGate = gate.requiresGrad ? Tensor.zeros(gv.shape) : nil
        var dUp = up.requiresGrad ? Tensor.zeros(uv.shape) : nil
        for i in 0..<gv.count {
            let g = Swift.min(gv.data[i], limit), u = Swift.min(Swift.max(uv.data[i], -limit), limit)
            let s = 1 / (1 + Foundation.exp(-alpha * g))
            if gv.data[i] <= limit { dGate?.data[i] = dy.data[i] * (u + 1) * (s + alpha * g * s * (1 - s)) }
            if abs(uv.data[i]) <= limit { dUp?.data[i] = dy.data[i] * g * s }
        }
        return [dGate, dUp]
    }
}
