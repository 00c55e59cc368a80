import TensorCore

extension MoEModel {
    /// The arithmetic of the model's inference products (`--precision`): every parameter's, and the
    /// LoRA adapters' (which stay Float32 when trainable). Training products are always Float32.
    public var precision: Precision { lmHead.precision }

    /// Sets `precision` on every parameter.
    public func setPrecision(_ precision: Precision) {
        for p in parameters {
            p.precision = precision
            p.adapter?.a.precision = precision
            p.adapter?.b.precision = precision
        }
        lmHead.precision = precision
    }
}
