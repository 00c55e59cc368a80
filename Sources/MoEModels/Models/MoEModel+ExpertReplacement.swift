import TensorCore

/// New weights for the routed experts of one sparse layer (merging and inner pruning write these).
/// Shapes: each expert's gate and up [I_e, C], down [C, I_e]; router [E', C]; selection bias [E'].
public struct SparseLayerWeights {
    public var experts: [(gate: Tensor, up: Tensor, down: Tensor)]
    public var router: Tensor
    /// The selection-only bias of a biased router (nil: the layer has none).
    public var selectionBias: Tensor?

    public init(experts: [(gate: Tensor, up: Tensor, down: Tensor)], router: Tensor, selectionBias: Tensor? = nil) {
        self.experts = experts
        self.router = router
        self.selectionBias = selectionBias
    }
}

extension MoEModel {
    /// Whether `replacingExperts` can rebuild this model's experts: plain SwiGLU experts (no biases, no
    /// clamp) stored one tensor per expert and projection, in float (not FP8).
    public var expertsCanBeRebuilt: Bool {
        config.fp8 == nil && family.definition.layout.fusedExperts == nil
            && moeBlocks.allSatisfy { $0.experts.allSatisfy(\.isPlainSwiGLU) }
    }

    /// A model whose routed experts and routers are `layers` (one entry per sparse layer, in order);
    /// everything else is shared with this model. Expert counts and intermediate sizes follow the new
    /// weights: one count and one size everywhere keep config.json in transformers' form, otherwise the
    /// per-layer counts (`expertlock_experts_per_layer`) and per-expert sizes
    /// (`expertlock_expert_intermediate_sizes`) are recorded for ExpertLock.
    ///
    /// Group-limited routing (`n_group` > 1) is refused when the count changes: which experts form a
    /// group after a merge is not defined by the original's grouping.
    public func replacingExperts(_ layers: [SparseLayerWeights]) throws -> MoEModel {
        let blocks = moeBlocks
        precondition(layers.count == blocks.count, "replacingExperts: \(layers.count) layers for \(blocks.count)")
        var config = self.config
        if config.fp8 != nil {
            // New expert weights would be written in float beside a quantization_config that says FP8.
            throw ModelError.unsupported(
                file: "expert replacement", feature: "merging or inner-pruning an FP8 checkpoint (dequantize it first)")
        }
        if !expertsCanBeRebuilt {
            // gpt-oss's biased, clamped experts and fused expert tensors are not rebuilt expert by expert here.
            throw ModelError.unsupported(
                file: "expert replacement",
                feature: "merging or inner-pruning \(family.rawValue) experts (fused "
                    + "tensors, biases or a clamped activation)")
        }
        let counts = layers.map(\.experts.count)
        if counts.contains(0) {
            throw ModelError.unsupported(file: "expert replacement", feature: "a sparse layer without experts")
        }
        if Set(counts).count == 1 {
            config.numExperts = counts[0]
            config.expertsPerLayer = nil
            config.numExpertsPerToken = min(config.numExpertsPerToken, counts[0])
        } else {
            var perLayer = [Int](repeating: 0, count: config.numHiddenLayers)
            for (l, block) in blocks.enumerated() { perLayer[block.layer] = counts[l] }
            config.numExperts = counts.max() ?? 0
            config.expertsPerLayer = perLayer
        }
        if let router = config.router, router.groups > 1, counts != blocks.map(\.expertCount) {
            throw ModelError.unsupported(
                file: "expert merging",
                feature: "changing the expert count of a router with n_group \(router.groups) (group-limited routing)")
        }
        let sizes = layers.map { $0.experts.map { $0.gate.shape[0] } }
        let allSizes = Set(sizes.flatMap { $0 })
        if allSizes.count == 1 {
            config.moeIntermediateSize = allSizes.first!
            config.expertIntermediateSizes = nil
        } else {
            var perLayer = [[Int]](repeating: [], count: config.numHiddenLayers)
            for (l, block) in blocks.enumerated() { perLayer[block.layer] = sizes[l] }
            config.expertIntermediateSizes = perLayer
        }
        if !skippedTensors.isEmpty { config.nextTokenPredictionLayers = 0 }
        var byName: [String: Parameter] = [:]
        for p in parameters { byName[p.name] = p }
        let position = Dictionary(uniqueKeysWithValues: blocks.enumerated().map { ($1.layer, $0) })
        let layout = family.definition.layout.expertProjections
        let replaced = try MoEModel(config: config) { name, shape in
            func made(_ value: Tensor) throws -> Parameter {
                guard value.count == Tensor.count(of: shape) else {
                    throw ModelError.shapeMismatch(
                        file: "expert replacement", name: name, expected: shape,
                        actual: value.shape)
                }
                return Parameter(name: name, value: value.reshaped(shape))
            }
            switch TensorName(parsing: name) {
            case let .expert(layer, _, x, projection, _) where position[layer] != nil:
                let weights = layers[position[layer]!].experts[x]
                switch projection {
                case layout.gate: return try made(weights.gate)
                case layout.up: return try made(weights.up)
                default: return try made(weights.down)
                }
            case let .router(layer, _, _) where position[layer] != nil:
                return try made(layers[position[layer]!].router)
            case let .routerBias(layer, _, _) where position[layer] != nil:
                guard let bias = layers[position[layer]!].selectionBias else {
                    throw ModelError.missingTensor(file: "expert replacement", name: name)
                }
                return try made(bias)
            default:
                guard let p = byName[name] else {
                    throw ModelError.missingTensor(file: "expert replacement", name: name)
                }
                return p
            }
        }
        replaced.notes =
            skippedTensors.isEmpty
            ? []
            : [
                "multi-token-prediction layers not written (\(skippedTensors.count) tensors; num_nextn_predict_layers "
                    + "set to 0)"
            ]
        return replaced
    }
}
