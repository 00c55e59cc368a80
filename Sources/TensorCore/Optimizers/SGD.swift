/// Stochastic gradient descent as `torch.optim.SGD` (no dampening, no Nesterov):
///
///     d ← g + λ·p;   b ← d (first step) or μ·b + d;   p ← p − lr·(μ ≠ 0 ? b : d)
public final class SGD: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Float
    public let momentum: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0

    /// Per parameter momentum buffer (nil until its first gradient, or when momentum is 0).
    var buffers: [Tensor?]

    public init(parameters: [Variable], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        buffers = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        stepCount += 1
        let (lr, mu, decay) = (learningRate, momentum, weightDecay)
        for (i, p) in parameters.enumerated() {
            guard let grad = p.grad else { continue }
            precondition(grad.count == p.value.count, "SGD: gradient \(grad.shape) for \(p.value.shape)")
            let first = buffers[i] == nil
            var buffer = mu == 0 ? Tensor.zeros([0]) : (buffers[i] ?? Tensor.zeros(p.value.shape))
            buffers[i] = nil
            let n = grad.count
            p.value.withUnsafeMutableBufferPointer { pp in
                buffer.withUnsafeMutableBufferPointer { pb in
                    grad.withUnsafeBufferPointer { pg in
                        let (pp, pb, pg) = (pp.baseAddress!, pb.baseAddress!, pg.baseAddress!)
                        Parallel.forEach(n, grain: 16_384) { range in
                            for j in range {
                                var d = pg[j]
                                if decay != 0 { d += decay * pp[j] }
                                if mu != 0 {
                                    pb[j] = first ? d : mu * pb[j] + d
                                    d = pb[j]
                                }
                                pp[j] -= lr * d
                            }
                        }
                    }
                }
            }
            if mu != 0 { buffers[i] = buffer }
        }
    }

    /// Keys `<name>.momentum_buffer` and `step_count`.
    public func exportState() -> [String: Tensor] {
        var state: [String: Tensor] = ["step_count": Tensor(scalar: Float(stepCount))]
        for i in parameters.indices {
            if let b = buffers[i] { state["\(stateName(i)).momentum_buffer"] = b }
        }
        return state
    }

    public func importState(_ state: [String: Tensor]) throws {
        let parts = try partitionState(
            state, names: parameters.indices.map(stateName), shapes: parameters.map(\.value.shape),
            buffers: ["momentum_buffer"], globals: ["step_count"])
        for (i, part) in parts.enumerated() { buffers[i] = part["momentum_buffer"] }
        stepCount = Int(state["step_count"]?.scalar ?? 0)
    }
}
