// Ports of transformers 5.x modeling_mixtral.py, modeling_qwen2_moe.py, modeling_qwen3_moe.py and
// modeling_olmoe.py. The four share one decoder skeleton (RMSNorm → attention → RMSNorm → MoE, RoPE,
// GQA, SwiGLU experts); a family states only how it differs, as the values below.

/// Where a family normalises queries and keys before RoPE.
public enum QKNorm: Sendable, Equatable {
    /// No q/k normalisation (Mixtral, Qwen2-MoE).
    case none
    /// RMSNorm over each head's `headDim` slice, weight [D] (Qwen3-MoE: "unlike olmo, only on the head dim").
    case perHead
    /// RMSNorm over the whole projection, weights [H*D] and [Hkv*D] (OLMoE).
    case fullProjection
}

/// How each family's architecture differs from the shared decoder skeleton.
extension ModelFamily {
    /// The `architectures` entry of a saved config.json.
    public var architecture: String {
        switch self {
        case .mixtral: "MixtralForCausalLM"
        case .qwen2Moe: "Qwen2MoeForCausalLM"
        case .qwen3Moe: "Qwen3MoeForCausalLM"
        case .olmoe: "OlmoeForCausalLM"
        }
    }

    /// Name of the sparse block inside a decoder layer in the per-expert checkpoint layout:
    /// `block_sparse_moe` for Mixtral, `mlp` for the others. transformers 5 renames Mixtral's to `mlp`
    /// in memory but writes the legacy name back on save, and Hub checkpoints use it.
    public var sparseBlockName: String { self == .mixtral ? "block_sparse_moe" : "mlp" }

    /// Per-expert projection names (gate, up, down); Mixtral calls them w1, w3, w2.
    public var expertProjectionNames: (gate: String, up: String, down: String) {
        self == .mixtral ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj")
    }

    public var qkNorm: QKNorm {
        switch self {
        case .mixtral, .qwen2Moe: .none
        case .qwen3Moe: .perHead
        case .olmoe: .fullProjection
        }
    }

    /// Qwen2-MoE's shared expert with its sigmoid gate, added to every token's routed output.
    public var hasSharedExpert: Bool { self == .qwen2Moe }
}
