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
        var notes: [String] = []
        if let router = config.router, router.groups > 1 {
            // The pruned model must route as the masked original: each group keeps its place when
            // every group loses the same experts; a limit that picks every group is no limit.
            let perGroup = blocks.map { $0.expertCount / router.groups }
            let even = zip(kept, perGroup).allSatisfy { keptLayer, size in
                let counts = (0..<router.groups).map { g in keptLayer.filter { $0 / size == g }.count }
                return Set(counts).count == 1 && counts[0] >= (router.groupRanking == .topTwoSum ? 2 : 1)
            }
            if even {
                notes.append("group-limited routing kept: every group of every layer keeps as many experts "
                    + "(n_group \(router.groups), topk_group \(router.topkGroup))")
            } else if router.topkGroup == router.groups {
                config.router?.groups = 1
                config.router?.topkGroup = 1
                notes.append("n_group \(router.groups) and topk_group \(router.topkGroup) rewritten to 1 and 1: the "
                    + "groups are uneven after pruning, and a limit that keeps every group selects as no limit does")
            } else {
                throw ModelError.unsupported(
                    file: "pruning plan",
                    feature: "removing experts unevenly from \(router.groups) routing groups with topk_group "
                        + "\(router.topkGroup) (the pruned model would route otherwise than the masked original; drop "
                        + "as many experts from each group, or use --mode mask)")
            }
        }
        if !skippedTensors.isEmpty {
            config.nextTokenPredictionLayers = 0
            notes.append("multi-token-prediction layers not written (\(skippedTensors.count) tensors; "
                + "num_nextn_predict_layers set to 0): they were not loaded, so their experts cannot be pruned "
                + "with the rest")
        }
        var byName: [String: Parameter] = [:]
        for p in parameters { byName[p.name] = p }
        let layerPosition = Dictionary(uniqueKeysWithValues: blocks.enumerated().map { ($1.layer, $0) })
        let pruned = try MoEModel(config: config) { name, shape in
            func original(_ name: String) throws -> Parameter {
                guard let p = byName[name] else { throw ModelError.missingTensor(file: "pruned model", name: name) }
                return p
            }
            switch TensorName(parsing: name) {
            case let .expert(layer, _, x, _, _) where layerPosition[layer] != nil:
                // Expert x of the pruned layer is expert kept[l][x] of the original.
                let parsed = TensorName(parsing: name)
                return try original(parsed.renumbered(kept[layerPosition[layer]!][x]).text).renamed(name)
            case let .router(layer, _, _) where layerPosition[layer] != nil:
                return try original(name).selectingRows(kept[layerPosition[layer]!], name: name)
            case let .routerBias(layer, _, _) where layerPosition[layer] != nil:
                return try original(name).selectingEntries(kept[layerPosition[layer]!], name: name)
            default:
                return try original(name)
            }
        }
        pruned.notes = notes
        pruned.quantizedExperts = quantizedExperts?.keeping(kept, layers: blocks.map(\.layer))
        return pruned
    }

    /// Restricts every router to the flagged experts (`keep[l][e]`), or lifts the restriction (nil).
    public func maskExperts(_ keep: [[Bool]]?) {
        for (l, block) in moeBlocks.enumerated() { block.keep = keep?[l] }
    }
}
