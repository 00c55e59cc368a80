import TensorCore

extension MoEModel {
    /// A model that has only the listed experts: `kept[l]` are the expert indices kept in sparse
    /// layer l (ascending), renumbered 0..<count in the new model. Router rows are sliced to match,
    /// everything else is shared with this model (no copy). This is removal-based pruning; the
    /// result's logits equal this model's with the other experts masked.
    public func keepingExperts(_ kept: [[Int]]) throws -> MoEModel {
        let blocks = moeBlocks
        precondition(kept.count == blocks.count, "keepingExperts: \(kept.count) layers for \(blocks.count) sparse layers")
        var config = self.config
        let counts = kept.map(\.count)
        if Set(counts).count == 1 {
            config.numExperts = counts[0]
            config.expertsPerLayer = nil
        } else {
            // Per-layer counts are ExpertLock's own key: transformers cannot load such a checkpoint.
            var perLayer = [Int](repeating: 0, count: config.numHiddenLayers)
            for (l, block) in blocks.enumerated() { perLayer[block.layer] = counts[l] }
            config.numExperts = counts.max() ?? 0
            config.expertsPerLayer = perLayer
        }
        // A layer left with fewer experts than top-k routes to all of them (as masking does); with
        // uniform counts config.json says so, otherwise each layer clamps its own top-k.
        if Set(counts).count == 1 { config.numExpertsPerToken = min(config.numExpertsPerToken, counts[0]) }
        var byName: [String: Parameter] = [:]
        for p in parameters { byName[p.name] = p }
        let layerPosition = Dictionary(uniqueKeysWithValues: blocks.enumerated().map { ($1.layer, $0) })
        return try MoEModel(config: config) { name, shape in
            func original(_ name: String) throws -> Parameter {
                guard let p = byName[name] else { throw ModelError.missingTensor(file: "pruned model", name: name) }
                return p
            }
            switch TensorName(parsing: name) {
            case let .expert(layer, _, x, _, _) where layerPosition[layer] != nil:
                // Expert x of the pruned layer is expert kept[l][x] of the original.
                let parsed = TensorName(parsing: name)
                return try original(parsed.renumbered(kept[layerPosition[layer]!][x]).text).renamed(name)
            case let .router(layer, _) where layerPosition[layer] != nil:
                return try original(name).selectingRows(kept[layerPosition[layer]!], name: name)
            case let .routerBias(layer, _) where layerPosition[layer] != nil:
                return try original(name).selectingRows(kept[layerPosition[layer]!], name: name)
            default:
                return try original(name)
            }
        }
    }

    /// Restricts every router to the flagged experts (`keep[l][e]`), or lifts the restriction (nil).
    public func maskExperts(_ keep: [[Bool]]?) {
        for (l, block) in moeBlocks.enumerated() { block.keep = keep?[l] }
    }
}
