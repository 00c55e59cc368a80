import MoEModels

/// What a checkpoint tensor is, read from its Hugging Face name (`TensorName`), so a difference can be
/// reported as "expert 3 of layer 1" or "router rows 2, 5" rather than as a bare tensor name. Names are
/// parsed rather than looked up in a loaded model because a tampered checkpoint may not load.
///
///     model.layers.L.<block>.experts.E.<proj>.weight   one expert's projection (per-expert layout)
///     model.layers.L.mlp.experts.gate_up_proj          all experts of a layer (transformers-5 fused
///     model.layers.L.mlp.experts.down_proj             layout; dimension 0 is the expert)
///     model.layers.L.<block>.gate.weight               the router [E, C]; row e scores expert e
///     model.layers.L.<block>.…e_score_correction_bias  the router's selection bias (a router row per expert)
///     base_model.model.<weight module>.lora_{A,B}.weight   a LoRA factor of that weight
///     {encoder|decoder}.block.B.layer.M.mlp.experts.expert_E.{wi|wo}.weight   a switch expert (`stack` set,
///     {encoder|decoder}.block.B.layer.M.mlp.router.classifier.weight          `layer` = B; `SwitchTensorName`)
///
/// `<block>` is `block_sparse_moe` (Mixtral) or `mlp` (every other family).
public enum TensorRole: Equatable, Sendable {
    /// `stack`: the encoder or decoder of an encoder-decoder (`layer` is then the block in that stack); nil for
    /// decoder-only models.
    case expert(layer: Int, expert: Int, stack: SwitchStack? = nil)
    case fusedExperts(layer: Int)
    case router(layer: Int, stack: SwitchStack? = nil)
    /// Attention projections (q, k, v, o), which LoRA may adapt.
    case attentionProjection(layer: Int)
    /// A LoRA factor; `of` is the role of the weight it adapts.
    indirect case adapter(of: TensorRole)
    case other

    public init(name: String) {
        if name.hasPrefix(Self.adapterPrefix) {
            var module = String(name.dropFirst(Self.adapterPrefix.count))
            for suffix in [".lora_A.weight", ".lora_B.weight"] where module.hasSuffix(suffix) {
                module = String(module.dropLast(suffix.count))
                self = .adapter(of: TensorRole(name: module + ".weight"))
                return
            }
            self = .adapter(of: .other)
            return
        }
        switch SwitchTensorName(parsing: name) {
        case let .expert(layer, expert, _)?:
            self = .expert(layer: layer.block, expert: expert, stack: layer.stack)
            return
        case let .router(layer)?:
            self = .router(layer: layer.block, stack: layer.stack)
            return
        case nil:
            break
        }
        switch TensorName(parsing: name) {
        case let .expert(layer, _, expert, _, suffix) where suffix == "weight":
            self = .expert(layer: layer, expert: expert)
        case let .fusedExperts(layer, _, _):
            self = .fusedExperts(layer: layer)
        case let .router(layer, _, _), let .routerBias(layer, _, _):
            self = .router(layer: layer)
        case let .attention(layer, module, suffix)
        where ["q_proj", "k_proj", "v_proj", "o_proj"].contains(module) && suffix == "weight":
            self = .attentionProjection(layer: layer)
        default:
            self = .other
        }
    }

    /// PEFT's prefix of adapter tensor names.
    public static let adapterPrefix = "base_model.model."

    /// Tensors whose dimension 0 indexes experts: each slice gets its own hash in the manifest so
    /// that a removed or reordered expert is named.
    public var hasExpertRows: Bool {
        switch self {
        case .router, .fusedExperts: true
        default: false
        }
    }

    /// Weights a merged LoRA update may change (`LoRATarget.attention` and `.experts`).
    public var isLoRATarget: Bool {
        switch self {
        case .attentionProjection, .expert, .fusedExperts: true
        default: false
        }
    }

    public var isAdapter: Bool {
        if case .adapter = self { return true }
        return false
    }

    /// The sparse layer and expert this tensor belongs to, if any (adapters report their weight's).
    public var layer: Int? {
        switch self {
        case .expert(let l, _, _), .fusedExperts(let l), .router(let l, _), .attentionProjection(let l): l
        case .adapter(let of): of.layer
        case .other: nil
        }
    }

    public var expert: Int? {
        switch self {
        case .expert(_, let e, _): e
        case .adapter(let of): of.expert
        default: nil
        }
    }
}

extension TensorRole {
    /// The encoder or decoder stack of an encoder-decoder's expert or router (nil: a decoder-only model's).
    public var stack: SwitchStack? {
        switch self {
        case .expert(_, _, let s), .router(_, let s): s
        case .adapter(let of): of.stack
        default: nil
        }
    }

    /// The sparse layer as reports name it: `3` in a decoder-only model, `encoder.3` / `decoder.1` in an
    /// encoder-decoder (nil when the tensor belongs to no layer).
    public var layerName: String? { layer.map { LayerLabel(stack: stack, layer: $0).description } }
}

/// A layer as the verifier groups and names it: a decoder layer index, or a block of one stack of an encoder-decoder
/// (encoder blocks sort before decoder blocks, as the stacks run).
struct LayerLabel: Hashable, Comparable, CustomStringConvertible {
    var stack: SwitchStack?
    var layer: Int

    var description: String { stack.map { SwitchLayerID(stack: $0, block: layer).description } ?? "\(layer)" }

    static func < (a: LayerLabel, b: LayerLabel) -> Bool {
        switch (a.stack, b.stack) {
        case let (x?, y?): SwitchLayerID(stack: x, block: a.layer) < SwitchLayerID(stack: y, block: b.layer)
        case (nil, nil): a.layer < b.layer
        case (nil, _?): true
        case (_?, nil): false
        }
    }
}
