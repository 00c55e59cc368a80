import TensorCore

/// A SwiGLU feed-forward network: down(silu(gate(x)) * up(x)). Every routed expert, Qwen2-MoE's
/// shared expert and Qwen's dense MLP layers have this form.
/// Shapes: gate and up [I, C], down [C, I]; x [n, C] -> [n, C].
public final class Expert {
    public let gate: Parameter
    public let up: Parameter
    public let down: Parameter

    public init(gate: Parameter, up: Parameter, down: Parameter) {
        self.gate = gate
        self.up = up
        self.down = down
    }

    public var parameters: [Parameter] { [gate, up, down] }
    public var intermediateSize: Int { gate.shape[0] }

    func forward(_ x: Variable) throws -> Variable {
        let hidden = swiglu(gate: try gate.project(x), up: try up.project(x))  // [n, C] -> [n, I]
        return try down.project(hidden)  // [n, I] -> [n, C]
    }
}
