import TensorCore

extension MoEModel {
    /// A model that has only the listed experts: `kept[l]` are the expert indices kept in sparse
    /// layer l (ascending), renumbered 0..<count in the new model. Router rows are sliced to match,
    /// everything else is shared with this model (no copy). This is removal-based pruning; the
    /// result's logits equal this model's with the other experts masked.
    public func keepingExperts(_ kept: [[Int]]) throws -> MoEModel {
        let blocks = moeBlocks
        precondition(
            kept.count == blocks.count, "keepingExperts: \(kept.count) layers for \(blocks.count) sparse layers")
        var config = self.config
        // What each new expert slot holds: an original expert, or nothing (a dead slot, see `groupSlots`).
        var notes: [String] = []
        let slots = try groupSlots(kept, config: &config, notes: &notes)
        let counts = slots.map(\.count)
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
        if !skippedTensors.isEmpty {
            config.nextTokenPredictionLayers = 0
            notes.append(
                "multi-token-prediction layers not written (\(skippedTensors.count) tensors; "
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
                // Expert x of the pruned layer is expert slots[l][x] of the original (nil: a dead slot).
                let parsed = TensorName(parsing: name)
                guard let from = slots[layerPosition[layer]!][x] else {
                    return try original(parsed.renumbered(0).text).deadSlot(named: name, fp8: config.fp8)
                }
                return try original(parsed.renumbered(from).text).renamed(name)
            case let .router(layer, _, _) where layerPosition[layer] != nil:
                return try original(name).selectingRows(slots[layerPosition[layer]!], name: name)
            case let .routerBias(layer, _, _) where layerPosition[layer] != nil:
                // A dead slot's selection bias is -inf: its choice score is what masking gives a masked expert.
                return try original(name).selectingEntries(slots[layerPosition[layer]!], fill: -.infinity, name: name)
            default:
                return try original(name)
            }
        }
        pruned.otherTowerTensors = otherTowerTensors
        if !otherTowerTensors.isEmpty {
            notes.append("\(otherTowerTensors.count) tensors of other towers (vision) written back unchanged")
        }
        pruned.notes = notes
        // MXFP4 sources (gpt-oss) have no routing groups, hence no dead slots.
        pruned.quantizedExperts = quantizedExperts?.keeping(
            slots.map { $0.compactMap { $0 } }, layers: blocks.map(\.layer))
        return pruned
    }

    /// The expert slots of each pruned layer. The pruned model must route as the masked original does:
    /// - without group-limited routing, or when every group of every layer keeps as many experts, the kept
    ///   experts in order;
    /// - uneven groups whose limit selects every group (topk_group == n_group): the kept experts in order, with
    ///   n_group and topk_group rewritten to 1 (a limit that keeps every group is no limit);
    /// - uneven groups with topk_group < n_group and a sigmoid router with a selection bias (DeepSeek-V3,
    ///   GLM-4.5, GLM-4.7-Flash): each group padded to the largest group's count with dead slots (zero router
    ///   row, zero weights, selection bias -inf). transformers then scores a dead slot sigmoid(0) + (-inf) =
    ///   -inf, as the masked original scores a masked expert (`masked_fill(-inf)` of the unchosen groups, top-2
    ///   group sums and top-k see the same numbers), so the routing is the masked original's. Exact only if
    ///   at least topk_group groups keep 2 or more experts and any topk_group of them hold top-k experts
    ///   (no -inf ties to break); otherwise, and for softmax routers (DeepSeek-V2: no bias to silence a slot,
    ///   and the softmax would count it), removal is refused.
    func groupSlots(_ kept: [[Int]], config: inout ModelConfig, notes: inout [String]) throws -> [[Int?]] {
        let blocks = moeBlocks
        let plain = kept.map { $0.map { Optional($0) } }
        guard let router = config.router, router.groups > 1 else { return plain }
        let minimum = router.groupRanking == .topTwoSum ? 2 : 1
        let groupsKept = zip(kept, blocks).map { keptLayer, block -> [[Int]] in
            let size = block.expertCount / router.groups
            return (0..<router.groups).map { g in keptLayer.filter { $0 / size == g } }
        }
        let even = groupsKept.allSatisfy { layer in Set(layer.map(\.count)).count == 1 && layer[0].count >= minimum }
        if even {
            notes.append(
                "group-limited routing kept: every group of every layer keeps as many experts "
                    + "(n_group \(router.groups), topk_group \(router.topkGroup))")
            return plain
        }
        if router.topkGroup == router.groups {
            config.router?.groups = 1
            config.router?.topkGroup = 1
            notes.append(
                "n_group \(router.groups) and topk_group \(router.topkGroup) rewritten to 1 and 1: the "
                    + "groups are uneven after pruning, and a limit that keeps every group selects as no limit does")
            return plain
        }
        func refuse(_ why: String) -> ModelError {
            .unsupported(
                file: "pruning plan",
                feature: "removing experts unevenly from \(router.groups) routing groups with topk_group "
                    + "\(router.topkGroup) (\(why); drop as many experts from each group, or use --mode mask)")
        }
        guard router.scoring == .sigmoid, blocks.allSatisfy({ $0.selectionBias != nil }) else {
            throw refuse("a softmax router without a selection bias cannot be given dead slots")
        }
        for (l, layer) in groupsKept.enumerated() {
            let usable = layer.map(\.count).filter { $0 >= minimum }.sorted()
            guard usable.count >= router.topkGroup,
                usable.prefix(router.topkGroup).reduce(0, +) >= min(config.numExpertsPerToken, kept[l].count)
            else {
                throw refuse(
                    "sparse layer \(l) keeps \(layer.map(\.count)) experts per group: fewer than topk_group "
                        + "groups could supply top-k experts, and the routing would depend on how ties are broken")
            }
        }
        let width = groupsKept.map { layer in layer.map(\.count).max() ?? 0 }
        let dead = zip(groupsKept, width).map { layer, w in layer.reduce(0) { $0 + w - $1.count } }
        notes.append(
            "group-limited routing kept exact with dead slots: each of the \(router.groups) groups padded "
                + "to \(Set(width).sorted().map(String.init).joined(separator: "/")) experts, "
                + "\(dead.reduce(0, +)) dead "
                + "slot(s) in all (zero router row and weights, selection bias -inf: never chosen, as a masked expert)")
        return zip(groupsKept, width).map { layer, w in
            layer.flatMap { group in group.map { Optional($0) } + Array(repeating: nil, count: w - group.count) }
        }
    }

    /// Restricts every router to the flagged experts (`keep[l][e]`), or lifts the restriction (nil):
    /// sets `expertMask`, what the model is from now on (a mask-pruned model). To try a mask for one
    /// pass, pass it in `ForwardOptions.expertMask`, or use `masked(_:)`.
    public func maskExperts(_ mask: [[Bool]]?) {
        expertMask = mask
    }
}
