/// What a family file states: its names, how its config.json reads, and how its layers differ from the
/// shared decoder skeleton (`DecoderLayer`: norm → attention → norm → dense MLP or sparse block).
/// Everything a family shares with others lives in the component files (`Components/`, `Models/`).
protocol FamilyDefinition: Sendable {
    /// `model_type` in config.json.
    static var modelType: String { get }
    /// The transformers causal-LM class (`architectures` entry).
    static var architecture: String { get }
    /// Whether checkpoints ship this architecture under their own `model_type` (remote code), so that
    /// `architectures` may name the family (`ModelFamily.resolve`).
    static var reusedUnderOtherModelTypes: Bool { get }
    /// The key the config class declares for the routed-expert count, then the other spelling it accepts.
    static var expertCountKeys: (declared: String, alias: String) { get }
    /// The key the config class declares for top-k (ERNIE: `moe_k`, with `num_experts_per_tok` as its alias).
    static var expertsPerTokenKey: String { get }
    /// Tensor names of the layer parts.
    static var layout: FamilyLayout { get }
    /// config.json → `ModelConfig`, with this family's transformers defaults for absent keys.
    static func decode(_ keys: ConfigReader) throws -> ModelConfig
    /// The family's own keys (the shared ones are written by `ModelConfig.encode`).
    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws
    /// Refuses values the family cannot honour or that describe no model of it.
    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws
    /// The key of config.json holding the language model's settings in a multimodal checkpoint
    /// (Qwen3.5-MoE: `text_config`); nil: the top level.
    static var nestedConfigKey: String? { get }
    /// Whether `layer` has a router and experts.
    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool
    /// Bias on the attention output projection.
    static func attentionOutputBias(_ config: ModelConfig) -> Bool
    /// Where queries and keys are normalised.
    static func qkNorm(_ config: ModelConfig) -> QKNorm
}

extension FamilyDefinition {
    static var reusedUnderOtherModelTypes: Bool { false }
    static var expertCountKeys: (declared: String, alias: String) { ("num_experts", "num_local_experts") }
    static var expertsPerTokenKey: String { "num_experts_per_tok" }
    static var layout: FamilyLayout { FamilyLayout() }
    static var nestedConfigKey: String? { nil }
    static func encode(_ config: ModelConfig, into keys: inout ConfigWriter) throws {}
    static func validate(_ config: ModelConfig, _ check: ConfigCheck) throws {}
    static func isSparseLayer(_ layer: Int, config: ModelConfig, isDense: (Int) -> Bool) -> Bool { true }
    static func attentionOutputBias(_ config: ModelConfig) -> Bool { false }
    static func qkNorm(_ config: ModelConfig) -> QKNorm { .none }
}

/// Where a family normalises queries and keys before RoPE.
public enum QKNorm: Sendable, Equatable {
    /// No q/k normalisation (Mixtral, Qwen2-MoE).
    case none
    /// RMSNorm over each head's `headDim` slice, weight [D] (Qwen3-MoE, GLM-4.5 `use_qk_norm`).
    case perHead
    /// RMSNorm over the whole projection, weights [H*D] and [Hkv*D] (OLMoE).
    case fullProjection
    /// Weightless RMSNorm (an L2 norm) of each head after RoPE, on rotating layers only (Llama-4 `use_qk_norm`).
    case l2AfterRotary
}

/// The Hugging Face names of a decoder layer's parts, relative to `model.layers.L.`.
struct FamilyLayout: Sendable {
    /// The sparse block: `mlp`, Mixtral's `block_sparse_moe`, Llama-4's `feed_forward`.
    var sparseBlock = "mlp"
    /// A dense layer's MLP: `mlp`, Llama-4's `feed_forward`.
    var denseBlock = "mlp"
    /// The router inside the sparse block: `gate`, or `router` (gpt-oss, Llama-4).
    var router = "gate"
    /// gpt-oss: the router has a bias [E] (`router.bias`) added to its logits.
    var routerBias = false
    /// How the family's checkpoints store experts fused (nil: per expert, or transformers 5's conversion).
    var fusedExperts: FusedExpertLayout? = nil
    /// One expert's projections (gate, up, down).
    var expertProjections = (gate: "gate_proj", up: "up_proj", down: "down_proj")
    /// Always-on shared expert(s) inside the sparse block (nil: none), and its sigmoid gate (nil: ungated).
    var sharedExpert: String? = nil
    var sharedExpertGate: String? = nil
    /// The router's selection-only bias inside the sparse block (nil: none), stored as [E] or, with
    /// `routerSelectionBiasIsRow`, as [1, E] (ERNIE's `moe_statics`).
    var routerSelectionBias: String? = nil
    var routerSelectionBiasIsRow = false
    /// Whether transformers builds the shared MLP even when the config counts no shared experts (DeepSeek,
    /// GLM: `n_shared_experts: 0` gives an MLP of intermediate size 0), so its checkpoints carry zero-element
    /// gate/up/down weights that loading accepts and saving writes back (`MoEModel.emptySharedExpertTensors`).
    var sharedExpertBuiltWhenAbsent = false
    /// Where the language model's `model.*` weights sit in the checkpoint when another model wraps it
    /// (Qwen3.5-MoE: `model.language_model`); nil: at `model`. `lm_head.weight` stays at the top.
    var languageModelPrefix: String? = nil
    /// Name prefixes of the other towers a multimodal checkpoint carries (vision encoder, multi-token
    /// prediction): not loaded, named in the load report, and written back unchanged when the model is saved.
    var otherTowers: [String] = []
}

/// Checks one condition of `validate`, throwing `ConfigError.invalid` naming the file.
struct ConfigCheck {
    let file: String
    func callAsFunction(_ condition: Bool, _ reason: @autoclosure () -> String) throws {
        if !condition { throw ConfigError.invalid(file: file, reason: reason()) }
    }
}
