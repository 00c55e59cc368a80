import MoEModels

/// Which weights a run updates; everything else stays bit-identical.
public enum TrainableSubset: String, Sendable, Codable, CaseIterable {
    /// The routed experts' weights (gate, up, down) of the experts the routers may still choose
    /// (`keep` masks respected); routers, attention, norms, embeddings and shared experts stay frozen.
    case experts
    /// The same plus the router weights.
    case expertsAndRouter = "experts+router"
    /// Every weight.
    case all
    /// LoRA adapters only (see `LoRAOptions`); the base weights stay frozen.
    case lora

    /// The model weights this subset trains directly (empty for `lora`).
    public func parameters(of model: MoEModel) -> [Parameter] {
        switch self {
        case .all: return model.parameters
        case .lora: return []
        case .experts, .expertsAndRouter:
            var out: [Parameter] = []
            for (l, block) in model.moeBlocks.enumerated() {
                if self == .expertsAndRouter { out.append(block.router) }
                for e in Self.keptExperts(model, sparseLayer: l) { out += block.experts[e].parameters }
            }
            return out
        }
    }

    /// Indices of the experts the router of sparse layer `l` (in layer order) may choose.
    static func keptExperts(_ model: MoEModel, sparseLayer l: Int) -> [Int] {
        model.moeBlocks[l].experts.indices.filter { model.expertMask?[l][$0] ?? true }
    }
}

/// Where LoRA adapters go.
public enum LoRATarget: String, Sendable, Codable, CaseIterable {
    /// q, k, v and o projections of every attention layer.
    case attention
    /// gate, up and down projections of the kept routed experts.
    case experts
}

/// LoRA settings for `TrainableSubset.lora`.
public struct LoRAOptions: Sendable, Codable, Equatable {
    /// Rank r of the update B·A.
    public var rank: Int = 8
    /// Scale α: the update is (α/r)·B·A (PEFT's `lora_alpha`).
    public var alpha: Float = 16
    public var targets: [LoRATarget] = [.attention, .experts]
    /// Fold the adapters into the weights in the final save instead of writing PEFT adapter files.
    public var merge = false

    public init(rank: Int = 8, alpha: Float = 16, targets: [LoRATarget] = [.attention, .experts], merge: Bool = false) {
        self.rank = rank
        self.alpha = alpha
        self.targets = targets
        self.merge = merge
    }

    /// The weights that receive an adapter.
    public func targetParameters(of model: MoEModel) -> [Parameter] {
        var out: [Parameter] = []
        var sparseLayer = 0
        for layer in model.layers {
            if targets.contains(.attention) {
                out += layer.mixer.projections
            }
            if let block = layer.moe {
                if targets.contains(.experts) {
                    for e in TrainableSubset.keptExperts(model, sparseLayer: sparseLayer) {
                        out += block.experts[e].parameters
                    }
                }
                sparseLayer += 1
            }
        }
        return out
    }
}
