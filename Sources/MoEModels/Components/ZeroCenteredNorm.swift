import TensorCore

extension Parameter {
    /// The scale an RMSNorm applies: the weight, or 1 + weight when the checkpoint stores it zero-centred
    /// (Qwen3-Next's `Qwen3NextRMSNorm` initialises its weight to 0 and multiplies by `1.0 + weight.float()`).
    /// The sum is a graph node, so training updates the stored (zero-centred) values.
    func normWeight(zeroCentered: Bool) throws -> Variable {
        let w = try variable()
        guard zeroCentered else { return w }
        return add(w, Variable(Tensor(shape: w.shape, repeating: 1)))  // [C] -> 1 + w
    }
}
