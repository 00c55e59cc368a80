import TensorCore

/// A gated feed-forward network: down(act(gate(x), up(x))). Every routed expert, the shared experts and
/// the dense MLP layers have this form; gpt-oss adds biases and clamps its SwiGLU.
/// Shapes: gate and up [I, C], down [C, I] (biases [I], [I], [C]); x [n, C] -> [n, C].
public final class Expert {
    public let gate: Parameter
    public let up: Parameter
    public let down: Parameter
    /// gpt-oss's expert biases (`gate_up_proj_bias`, `down_proj_bias`); nil: none.
    public let gateBias: Parameter?, upBias: Parameter?, downBias: Parameter?
    public let activation: ExpertActivation

    public init(
        gate: Parameter, up: Parameter, down: Parameter,
        biases: (gate: Parameter, up: Parameter, down: Parameter)? = nil, activation: ExpertActivation = .swiglu
    ) {
        self.gate = gate
        self.up = up
        self.down = down
        gateBias = biases?.gate
        upBias = biases?.up
        downBias = biases?.down
        self.activation = activation
    }

    public var parameters: [Parameter] { [gate, up, down, gateBias, upBias, downBias].compactMap { $0 } }
    public var intermediateSize: Int { gate.shape[0] }
    /// silu(gate) · up without biases: what the grouped and stored-weight expert kernels compute.
    var isPlainSwiGLU: Bool { activation == .swiglu && gateBias == nil && upBias == nil && downBias == nil }

    func forward(_ x: Variable) throws -> Variable {
        let g = try gate.project(x, bias: gateBias), u = try up.project(x, bias: upBias)  // [n, C] -> [n, I]
        let hidden: Variable
        switch activation {
        case .swiglu: hidden = swiglu(gate: g, up: u)
        case let .clampedSwiGLU(alpha, limit): hidden = clampedSwiglu(gate: g, up: u, alpha: alpha, limit: limit)
        }
        return try down.project(hidden, bias: downBias)  // [n, I] -> [n, C]
    }
}

/// How an expert combines its gate and up projections.
public enum ExpertActivation: Sendable, Equatable {
    /// silu(gate) · up.
    case swiglu
    /// gpt-oss: (clamp(up, ±limit) + 1) · g · sigmoid(α·g) with g = min(gate, limit)
    /// (`swiglu_alpha`, `swiglu_limit`).
    case clampedSwiGLU(alpha: Float, limit: Float)
}
