/// A Mixture-of-Experts family ExpertLock reads, named by the `model_type` of its `config.json`.
///
/// A family is a file of its own (`Families/Mixtral.swift`, `Families/DeepseekV3.swift`, …): its
/// config keys and transformers defaults, which shared components its layers are built from, and its
/// tensor names. `ModelFamily.registered` lists them; adding a family is its file and one line there.
public struct ModelFamily: Sendable, Hashable, CustomStringConvertible {
    /// The `model_type` transformers registers the family under.
    public let rawValue: String
    let definition: any FamilyDefinition.Type

    init(_ definition: any FamilyDefinition.Type) {
        rawValue = definition.modelType
        self.definition = definition
    }

    /// The registered family of `model_type` `rawValue`, or nil.
    public init?(rawValue: String) {
        guard let definition = Self.registered.first(where: { $0.modelType == rawValue }) else { return nil }
        self.init(definition)
    }

    /// The family for a config: its `model_type`, else a family that other checkpoints reuse under their
    /// own `model_type` when the config's `architectures` names its causal-LM class (Kimi-K2 says
    /// `kimi_k2` and `DeepseekV3ForCausalLM`). Other families are not guessed from `architectures`: an
    /// unknown `model_type` beside `MixtralForCausalLM` is a broken config, as transformers finds it.
    public static func resolve(modelType: String, architectures: [String]) -> ModelFamily? {
        if let family = ModelFamily(rawValue: modelType) { return family }
        for name in architectures {
            if let definition = registered.first(where: { $0.architecture == name && $0.reusedUnderOtherModelTypes }) {
                return ModelFamily(definition)
            }
        }
        return nil
    }

    public static var allCases: [ModelFamily] { registered.map(ModelFamily.init) }

    /// The `architectures` entry of a saved config.json.
    public var architecture: String { definition.architecture }

    public var description: String { rawValue }

    public static func == (a: ModelFamily, b: ModelFamily) -> Bool { a.rawValue == b.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    public static let mixtral = ModelFamily(Mixtral.self)
    public static let qwen2Moe = ModelFamily(Qwen2Moe.self)
    public static let qwen3Moe = ModelFamily(Qwen3Moe.self)
    public static let olmoe = ModelFamily(Olmoe.self)

    /// Name of the sparse block inside a decoder layer (`block_sparse_moe` for Mixtral, `mlp` otherwise).
    public var sparseBlockName: String { definition.layout.sparseBlock }

    /// Per-expert projection names (gate, up, down); Mixtral calls them w1, w3, w2.
    public var expertProjectionNames: (gate: String, up: String, down: String) {
        definition.layout.expertProjections
    }

    /// The key this family's config class declares for the expert count, then the other spelling it
    /// also answers to.
    public var expertCountKeys: (declared: String, alias: String) { definition.expertCountKeys }
    public var expertsPerTokenKey: String { definition.expertsPerTokenKey }
}
