import MoEModels
import TensorCore

extension MoEModel {
    /// The same model with every weight frozen, for scoring and evaluation between training steps.
    ///
    /// While a `Trainer` holds a model its trainable leaves require gradients, so every forward pass
    /// would record a graph and keep all activations alive until the output is dropped. The view
    /// shares the frozen parameters themselves and holds a frozen copy-on-write alias of each
    /// trainable value (and of LoRA factors), so a forward pass through it records nothing and
    /// costs no weight copy. Expert masks are carried over. Build a new view after training steps:
    /// it sees the values of the moment it was made.
    func inferenceView() throws -> MoEModel {
        var byName: [String: Parameter] = [:]
        for p in parameters { byName[p.name] = p }
        let view = try MoEModel(config: config) { name, _ in
            guard let p = byName[name] else { throw ModelError.missingTensor(file: "inference view", name: name) }
            guard p.isTrainable || p.adapter != nil else { return p }
            let frozen = Parameter(name: p.name, value: try p.tensor())
            if let adapter = p.adapter {
                frozen.adapter = LoRAAdapter(
                    baseName: adapter.baseName, alpha: adapter.alpha, a: try adapter.a.tensor(),
                    b: try adapter.b.tensor(), trainable: false)
            }
            return frozen
        }
        for (mine, theirs) in zip(view.moeBlocks, moeBlocks) { mine.keep = theirs.keep }
        return view
    }
}
