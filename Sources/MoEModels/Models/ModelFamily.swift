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

/// How one supported model family differs from the shared decoder skeleton.
public struct ModelFamily: Sendable, Equatable {
    /// The Hugging Face `model_type`.
    public let modelType: String
    /// The `architectures` entry written to a saved config.json.
    public let architecture: String
    /// Name of the sparse block inside a decoder layer in the per-expert (legacy) checkpoint layout:
    /// `block_sparse_moe` for Mixtral, `mlp` for the others. transformers 5 renames Mixtral's to `mlp`
    /// in memory but writes the legacy name back on save, and Hub checkpoints use it.
    public let sparseBlockName: String
    /// Per-expert projection names: (gate, up, down). Mixtral calls them w1, w3, w2.
    public let expertProjectionNames: (gate: String, up: String, down: String)
    public let qkNorm: QKNorm
    /// Whether q/k/v carry a bias: Qwen2-MoE always (config `qkv_bias`), others `attention_bias`.
    public let qkvBias: (ModelConfig) -> Bool
    /// Whether o_proj carries a bias (Qwen3-MoE and OLMoE follow `attention_bias`; Qwen2-MoE never).
    public let outputBias: (ModelConfig) -> Bool
    /// Qwen2-MoE's shared expert with its sigmoid gate, added to every token's routed output.
    public let hasSharedExpert: Bool

    public static func == (lhs: ModelFamily, rhs: ModelFamily) -> Bool { lhs.modelType == rhs.modelType }

    public static let mixtral = ModelFamily(
        modelType: "mixtral", architecture: "MixtralForCausalLM", sparseBlockName: "block_sparse_moe",
        expertProjectionNames: ("w1", "w3", "w2"), qkNorm: .none,
        qkvBias: { _ in false }, outputBias: { _ in false }, hasSharedExpert: false)

    public static let qwen2MoE = ModelFamily(
        modelType: "qwen2_moe", architecture: "Qwen2MoeForCausalLM", sparseBlockName: "mlp",
        expertProjectionNames: ("gate_proj", "up_proj", "down_proj"), qkNorm: .none,
        qkvBias: { $0.attentionBias }, outputBias: { _ in false }, hasSharedExpert: true)

    public static let qwen3MoE = ModelFamily(
        modelType: "qwen3_moe", architecture: "Qwen3MoeForCausalLM", sparseBlockName: "mlp",
        expertProjectionNames: ("gate_proj", "up_proj", "down_proj"), qkNorm: .perHead,
        qkvBias: { $0.attentionBias }, outputBias: { $0.attentionBias }, hasSharedExpert: false)

    public static let olmoe = ModelFamily(
        modelType: "olmoe", architecture: "OlmoeForCausalLM", sparseBlockName: "mlp",
        expertProjectionNames: ("gate_proj", "up_proj", "down_proj"), qkNorm: .fullProjection,
        qkvBias: { $0.attentionBias }, outputBias: { $0.attentionBias }, hasSharedExpert: false)

    /// The registry keyed by `model_type`.
    public static let all: [ModelFamily] = [.mixtral, .qwen2MoE, .qwen3MoE, .olmoe]

    /// The family of a config; an unknown `model_type` is an input error.
    public static func named(_ modelType: String) -> ModelFamily? {
        all.first { $0.modelType == modelType }
    }
}
