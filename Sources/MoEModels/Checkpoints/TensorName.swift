/// A Hugging Face tensor name of a decoder layer's MoE or attention part, formatted and parsed in one
/// place for the loader, the saver, the pruner, `lock` and `log verify`:
///
///     model.layers.L.<block>.experts.E.<proj>.<suffix>      one expert's projection (per-expert layout)
///     model.layers.L.<block>.experts.<gate_up_proj|down_proj>  all experts of a layer (transformers-5 fused
///                                                           layout; dimension 0 is the expert)
///     model.layers.L.<block>.gate.weight                    the router [E, C]; row e scores expert e
///     model.layers.L.<block>.<path>e_score_correction_bias  the router's selection bias [E] or [1, E]
///                                                           (path `gate.`, `moe_statics.` (ERNIE) or none (MiniMax))
///     model.layers.L.self_attn.<module>.<suffix>            an attention part
///
/// `<block>` is `block_sparse_moe` (Mixtral) or `mlp` (every other family); `<suffix>` is `weight`, or
/// `weight_scale_inv` for the block scales of an FP8 checkpoint.
///
/// A checkpoint that nests its language model (`model.language_model.layers.L.…`, Qwen3.5-MoE) parses as the
/// model's name `model.layers.L.…`: `lock` and `log verify` read roles from the file's names, and a nested
/// expert is as much an expert. `text` is then the model's name; `MoEModel.checkpointName` maps it back.
public enum TensorName: Equatable, Sendable {
    case expert(layer: Int, block: String, expert: Int, projection: String, suffix: String)
    case fusedExperts(layer: Int, block: String, projection: String)
    /// `module`: `gate` (most families) or `router` (gpt-oss, Llama-4).
    case router(layer: Int, block: String, module: String = "gate")
    /// `path`: the bias's name inside the block (`gate.e_score_correction_bias`, …).
    case routerBias(layer: Int, block: String, path: String)
    case attention(layer: Int, module: String, suffix: String)
    case other(String)

    /// The names sparse blocks take in the families ExpertLock reads.
    public static let sparseBlocks: Set<String> = ["mlp", "block_sparse_moe", "feed_forward"]

    /// Checkpoint prefixes of a nested language model's `model.*` weights (`FamilyLayout.languageModelPrefix`).
    public static let nestedLanguageModelPrefixes = ["model.language_model."]

    /// `name` with a nested language model's prefix replaced by `model.` (other names unchanged).
    public static func modelName(_ name: String) -> String {
        for prefix in nestedLanguageModelPrefixes where name.hasPrefix(prefix) {
            return "model." + name.dropFirst(prefix.count)
        }
        return name
    }

    public init(parsing name: String) {
        let parts = Self.modelName(name).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 5, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]) else {
            self = .other(name)
            return
        }
        let block = parts[3]
        if Self.sparseBlocks.contains(block) && parts[4] == "experts" {
            if parts.count == 8, let expert = Int(parts[5]) {
                self = .expert(layer: layer, block: block, expert: expert, projection: parts[6], suffix: parts[7])
            } else if parts.count == 6, ["gate_up_proj", "down_proj"].contains(where: parts[5].hasPrefix) {
                // Also gpt-oss's `_bias`, and MXFP4's `_blocks` and `_scales`: dimension 0 is the expert.
                self = .fusedExperts(layer: layer, block: block, projection: parts[5])
            } else {
                self = .other(name)
            }
        } else if Self.sparseBlocks.contains(block) && parts.count == 6 && ["gate", "router"].contains(parts[4])
            && parts[5] == "weight"
        {
            self = .router(layer: layer, block: block, module: parts[4])
        } else if Self.sparseBlocks.contains(block) && parts.count == 6 && parts[4] == "router" && parts[5] == "bias" {
            self = .routerBias(layer: layer, block: block, path: "router.bias")
        } else if Self.sparseBlocks.contains(block) && parts.last == "e_score_correction_bias" && parts.count <= 7 {
            self = .routerBias(layer: layer, block: block, path: parts[4...].joined(separator: "."))
        } else if block == "self_attn", parts.count == 6 {
            self = .attention(layer: layer, module: parts[4], suffix: parts[5])
        } else {
            self = .other(name)
        }
    }

    /// The name as the checkpoint spells it.
    public var text: String {
        switch self {
        case let .expert(layer, block, expert, projection, suffix):
            "\(Self.layerPrefix(layer)).\(block).experts.\(expert).\(projection).\(suffix)"
        case let .fusedExperts(layer, block, projection): "\(Self.layerPrefix(layer)).\(block).experts.\(projection)"
        case let .router(layer, block, module): "\(Self.layerPrefix(layer)).\(block).\(module).weight"
        case let .routerBias(layer, block, path): "\(Self.layerPrefix(layer)).\(block).\(path)"
        case let .attention(layer, module, suffix): "\(Self.layerPrefix(layer)).self_attn.\(module).\(suffix)"
        case let .other(name): name
        }
    }

    /// The decoder layer the tensor belongs to (nil for embeddings, final norm, head).
    public var layer: Int? {
        switch self {
        case .expert(let l, _, _, _, _), .fusedExperts(let l, _, _), .router(let l, _, _), .routerBias(let l, _, _),
            .attention(let l, _, _):
            l
        case .other(let name): Self.layerIndex(name)
        }
    }

    /// Tensors whose dimension 0 indexes experts (sliced by pruning, hashed per row by `lock`).
    public var hasExpertRows: Bool {
        switch self {
        case .router, .routerBias, .fusedExperts: true
        default: false
        }
    }

    /// The same name with expert `expert` (per-expert layout only).
    public func renumbered(_ expert: Int) -> TensorName {
        guard case let .expert(layer, block, _, projection, suffix) = self else { return self }
        return .expert(layer: layer, block: block, expert: expert, projection: projection, suffix: suffix)
    }

    static func layerPrefix(_ layer: Int) -> String { "model.layers.\(layer)" }

    static func expert(layer: Int, block: String, expert: Int, projection: String) -> String {
        TensorName.expert(layer: layer, block: block, expert: expert, projection: projection, suffix: "weight").text
    }

    /// L of any `model.layers.L.…` name (or `model.language_model.layers.L.…`).
    public static func layerIndex(_ name: String) -> Int? {
        let parts = modelName(name).split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0] == "model", parts[1] == "layers", let l = Int(parts[2]) else { return nil }
        return l
    }
}
