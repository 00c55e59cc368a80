import TensorCore

/// AdamW over two parameter groups, as transformers' `Trainer` builds them: matrices with weight
/// decay, vectors (norm weights, biases) without. Seen from outside it is one optimizer whose state
/// dictionary is the union of both groups' (parameter names are unique).
public final class ParameterGroups: Optimizer {
    let decayed: AdamW
    let undecayed: AdamW

    public init(parameters: [Variable], learningRate: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float)
    {
        let matrices = parameters.filter { $0.value.rank >= 2 }
        let vectors = parameters.filter { $0.value.rank < 2 }
        decayed = AdamW(
            parameters: matrices, learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps,
            weightDecay: weightDecay)
        undecayed = AdamW(
            parameters: vectors, learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps, weightDecay: 0)
    }

    public var parameters: [Variable] { decayed.parameters + undecayed.parameters }

    public var learningRate: Float {
        get { decayed.learningRate }
        set {
            decayed.learningRate = newValue
            undecayed.learningRate = newValue
        }
    }

    public var stepCount: Int { decayed.stepCount }

    public func step() {
        decayed.step()
        undecayed.step()
    }

    public func exportState() -> [String: Tensor] {
        decayed.exportState().merging(undecayed.exportState()) { a, _ in a }
    }

    /// Splits the keys by the group owning the parameter they name; `step_count` goes to both.
    public func importState(_ state: [String: Tensor]) throws {
        let names = Set(undecayed.parameters.compactMap(\.name))
        var first: [String: Tensor] = [:]
        var second: [String: Tensor] = [:]
        for (key, value) in state {
            if key == "step_count" {
                first[key] = value
                second[key] = value
            } else if let dot = key.lastIndex(of: "."), names.contains(String(key[..<dot])) {
                second[key] = value
            } else {
                first[key] = value
            }
        }
        try decayed.importState(first)
        try undecayed.importState(second)
    }
}

extension ParameterGroups {
    /// One update that minimises `total`, the same for every trainer (decoder-only and encoder-decoder): set the
    /// learning rate, back-propagate, clip, step, clear. A non-finite loss or gradient norm throws
    /// `TrainingError.nonFinite` (naming step `step + 1`) before any weight changes.
    func update(
        minimizing total: Variable, learningRate: Float, clipNorm: Float?, step: Int
    ) throws -> (loss: Float, gradientNorm: Float) {
        self.learningRate = learningRate
        let loss = total.value.scalar
        guard loss.isFinite else {
            throw TrainingError.nonFinite(step: step + 1, what: "the loss", lastCheckpoint: nil)
        }
        total.backward()
        let norm = clipGradNorm(parameters, maxNorm: clipNorm ?? .infinity)
        guard norm.isFinite else {
            zeroGrad()
            throw TrainingError.nonFinite(step: step + 1, what: "the gradient norm", lastCheckpoint: nil)
        }
        self.step()
        zeroGrad()
        return (loss, norm)
    }
}
