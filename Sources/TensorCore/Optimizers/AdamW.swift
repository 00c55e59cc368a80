import Foundation

/// Adam with decoupled weight decay, step for step as `torch.optim.AdamW` (single-tensor path):
///
///     p ← p · (1 − lr·λ)
///     m ← m + (1 − β₁)(g − m)            v ← v·β₂ + (1 − β₂)·g·g
///     p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// with t counted per parameter (a parameter without a gradient at some step neither moves nor
/// advances its t, as in PyTorch). Scalars are computed in Double from the decimal
/// hyperparameters and rounded to Float, like PyTorch's Python floats.
public final class AdamW: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let eps: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0

    /// Per parameter: first and second moments (nil until its first gradient) and its step t.
    var firstMoments: [Tensor?]
    var secondMoments: [Tensor?]
    var steps: [Int]

    public init(
        parameters: [Variable], learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
        weightDecay: Float = 0.01
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        firstMoments = Array(repeating: nil, count: parameters.count)
        secondMoments = Array(repeating: nil, count: parameters.count)
        steps = Array(repeating: 0, count: parameters.count)
    }

    public func step() {
        stepCount += 1
        let lr = pythonDouble(learningRate)
        let (b1, b2) = (pythonDouble(beta1), pythonDouble(beta2))
        let decay = Float(1 - lr * pythonDouble(weightDecay))
        let (oneMinusBeta1, beta2f, oneMinusBeta2) = (Float(1 - b1), Float(b2), Float(1 - b2))
        let epsf = Float(pythonDouble(eps))
        for (i, p) in parameters.enumerated() {
            guard let grad = p.grad else { continue }
            precondition(grad.count == p.value.count, "AdamW: gradient \(grad.shape) for \(p.value.shape)")
            steps[i] += 1
            let t = Double(steps[i])
            let stepSize = Float(-(lr / (1 - pow(b1, t))))
            let correction2 = Float((1 - pow(b2, t)).squareRoot())
            var m = firstMoments[i] ?? Tensor.zeros(p.value.shape)
            var v = secondMoments[i] ?? Tensor.zeros(p.value.shape)
            firstMoments[i] = nil  // keep m, v uniquely referenced: updated in place
            secondMoments[i] = nil
            let n = grad.count
            p.value.withUnsafeMutableBufferPointer { pp in
                m.withUnsafeMutableBufferPointer { pm in
                    v.withUnsafeMutableBufferPointer { pv in
                        grad.withUnsafeBufferPointer { pg in
                            let (pp, pm, pv, pg) = (pp.baseAddress!, pm.baseAddress!, pv.baseAddress!, pg.baseAddress!)
                            let update = AdamWLanes(
                                decay: decay, oneMinusBeta1: oneMinusBeta1, beta2: beta2f, oneMinusBeta2: oneMinusBeta2,
                                correction2: correction2, eps: epsf, stepSize: stepSize)
                            Parallel.forEach(n, grain: 16_384) { range in
                                update.apply(p: pp, m: pm, v: pv, g: pg, range)
                            }
                        }
                    }
                }
            }
            firstMoments[i] = m
            secondMoments[i] = v
        }
    }

    /// Keys `<name>.exp_avg`, `<name>.exp_avg_sq`, `<name>.step` (PyTorch's state names) for each
    /// parameter that has state, and `step_count`.
    public func exportState() -> [String: Tensor] {
        var state: [String: Tensor] = ["step_count": Tensor(scalar: Float(stepCount))]
        for i in parameters.indices {
            guard let m = firstMoments[i], let v = secondMoments[i] else { continue }
            let name = stateName(i)
            state["\(name).exp_avg"] = m
            state["\(name).exp_avg_sq"] = v
            state["\(name).step"] = Tensor(scalar: Float(steps[i]))
        }
        return state
    }

    public func importState(_ state: [String: Tensor]) throws {
        let parts = try partitionState(
            state, names: parameters.indices.map(stateName), shapes: parameters.map(\.value.shape),
            buffers: ["exp_avg", "exp_avg_sq", "step"], globals: ["step_count"])
        // Validate everything before changing anything: a failed import leaves the optimizer as it was.
        for (i, part) in parts.enumerated() where !part.isEmpty {
            for buffer in ["exp_avg", "exp_avg_sq", "step"] where part[buffer] == nil {
                throw OptimizerError.missingKey("\(stateName(i)).\(buffer)")
            }
        }
        firstMoments = parts.map { $0["exp_avg"] }
        secondMoments = parts.map { $0["exp_avg_sq"] }
        steps = parts.map { Int($0["step"]?.scalar ?? 0) }
        stepCount = Int(state["step_count"]?.scalar ?? 0)
    }
}

/// The AdamW update of PyTorch's single-tensor loop, eight lanes at a time: the same IEEE operations
/// in the same order on each lane as the scalar expression (no contraction into FMAs), so the bits
/// are the scalar loop's. Explicit vectors because the compiler cannot rule out that p, m, v and g
/// overlap and kept the loop scalar (4% of config B's training step, at a quarter of the memory
/// bandwidth this memory-bound update should reach).
struct AdamWLanes {
    let decay, oneMinusBeta1, beta2, oneMinusBeta2, correction2, eps, stepSize: Float

    @inline(__always)
    func callAsFunction(
        _ p: inout SIMD8<Float>, _ m: inout SIMD8<Float>, _ v: inout SIMD8<Float>, _ g: SIMD8<Float>
    ) {
        p *= SIMD8(repeating: decay)
        m += SIMD8(repeating: oneMinusBeta1) * (g - m)
        v = v * SIMD8(repeating: beta2) + SIMD8(repeating: oneMinusBeta2) * g * g
        let denominator = v.squareRoot() / SIMD8(repeating: correction2) + SIMD8(repeating: eps)
        p += SIMD8(repeating: stepSize) * m / denominator
    }

    /// Updates p, m, v in place over `range` (a tail of fewer than eight goes through one padded vector).
    func apply(
        p: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
        g: UnsafePointer<Float>, _ range: Range<Int>
    ) {
        func load(_ x: UnsafePointer<Float>, _ j: Int) -> SIMD8<Float> {
            UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
        }
        func store(_ x: SIMD8<Float>, _ to: UnsafeMutablePointer<Float>, _ j: Int) {
            UnsafeMutableRawPointer(to + j).storeBytes(of: x, as: SIMD8<Float>.self)
        }
        var j = range.lowerBound
        while j + 8 <= range.upperBound {
            var (pj, mj, vj) = (load(p, j), load(m, j), load(v, j))
            self(&pj, &mj, &vj, load(g, j))
            store(pj, p, j)
            store(mj, m, j)
            store(vj, v, j)
            j += 8
        }
        let tail = range.upperBound - j
        guard tail > 0 else { return }
        var (pj, mj, vj, gj) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        for l in 0..<tail { (pj[l], mj[l], vj[l], gj[l]) = (p[j + l], m[j + l], v[j + l], g[j + l]) }
        self(&pj, &mj, &vj, gj)
        for l in 0..<tail { (p[j + l], m[j + l], v[j + l]) = (pj[l], mj[l], vj[l]) }
    }
}
