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
        let sparseName = family.sparseBlockName
        return try MoEModel(config: config) { name, shape in
            // model.layers.L.<block>.experts.X.<proj>.weight -> expert kept[l][X] of the original.
            let parts = name.split(separator: ".").map(String.init)
            if parts.count >= 6, parts[0] == "model", parts[3] == sparseName, let layer = Int(parts[2]),
               let l = layerPosition[layer] {
                if parts[4] == "experts", let x = Int(parts[5]) {
                    var original = parts
                    original[5] = String(kept[l][x])
                    guard let p = byName[original.joined(separator: ".")] else {
                        throw ModelError.missingTensor(file: "pruned model", name: name)
                    }
                    return p.renamed(name)
                }
                if parts[4] == "gate", let router = byName[name] {
                    return try router.selectingRows(kept[l], name: name)
                }
            }
            guard let p = byName[name] else { throw ModelError.missingTensor(file: "pruned model", name: name) }
            return p
        }
    }

    /// Restricts every router to the flagged experts (`keep[l][e]`), or lifts the restriction (nil).
    public func maskExperts(_ keep: [[Bool]]?) {
        for (l, block) in moeBlocks.enumerated() { block.keep = keep?[l] }
    }
}
