import Foundation
import MoEModels
import TensorCore

/// One request's routing as a serving engine hands it out: for every token the engine ran
/// through the model, the experts each sparse layer chose, and, when the trace carries router
/// logits (a transformers dump), the logits themselves.
///
/// Shapes (legend: T tokens, L sparse layers, K experts per token, E experts per layer):
/// `experts` is [T, L, K] flattened, `logits` is L arrays of [T, E] flattened.
public struct RoutingTrace: Sendable, Equatable {
    /// The engine's request id (`id`, `meta_info.id`) or, when it has none, "record N".
    public var request: String
    /// The client that sent the request, when the log records one (`client` or OpenAI's `user`).
    public var client: String?
    public var format: RoutingTraceFormat
    public var tokens: Int
    public var layers: Int
    public var topK: Int
    /// [T, L, K] expert ids.
    public var experts: [Int32]
    /// Router logits per sparse layer, [T, E] each; nil when the trace holds ids only.
    public var logits: [[Float]]?

    public init(
        request: String, client: String?, format: RoutingTraceFormat, tokens: Int, layers: Int, topK: Int,
        experts: [Int32], logits: [[Float]]? = nil
    ) {
        self.request = request
        self.client = client
        self.format = format
        self.tokens = tokens
        self.layers = layers
        self.topK = topK
        self.experts = experts
        self.logits = logits
    }

    /// The experts token t chose in sparse layer l.
    @inline(__always) public func experts(token t: Int, layer l: Int) -> ArraySlice<Int32> {
        let start = (t * layers + l) * topK
        return experts[start..<(start + topK)]
    }
}

/// Where a trace comes from; each supports different attribution criteria.
public enum RoutingTraceFormat: String, Sendable, Codable, CaseIterable {
    /// vLLM with `--enable-return-routed-experts`: `prompt_routed_experts` on the response and
    /// `routed_experts` on each choice. Expert ids only: frequency.
    case vllm
    /// SGLang with `return_routed_experts`: `meta_info.routed_experts` (or a choice's
    /// `sgl_ext.routed_experts`), base64 of int32 [tokens, layers, top_k]. Expert ids only: frequency.
    case sglang
    /// A safetensors dump of transformers' router logits (`scripts/traces/dump_router_logits.py`):
    /// soft routing mass, gate mass and frequency.
    case routerLogits = "router_logits"

    /// The criteria a trace of this format can score.
    public var criteria: [AttributionCriterion] {
        self == .routerLogits ? [.soft, .frequency] : [.frequency]
    }
}

/// What the model's configuration says a trace must look like. Only `config.json` is needed: a
/// trace can be attributed for a model far too large to load here.
public struct RoutingShape: Sendable, Equatable {
    public var signature: ModelSignature
    public var topK: Int
    /// Whether the top-k gate weights are renormalised to sum to 1 (`norm_topk_prob`).
    public var normTopKProb: Bool

    public init(config: ModelConfig) {
        signature = ModelSignature(config: config)
        topK = config.numExpertsPerToken
        normTopKProb = config.normTopKProb
    }

    public init(signature: ModelSignature, topK: Int, normTopKProb: Bool) {
        self.signature = signature
        self.topK = topK
        self.normTopKProb = normTopKProb
    }

    public var layers: Int { signature.sparseLayers.count }
}

extension ModelSignature {
    /// The signature `init(model:)` gives, from the configuration alone.
    public init(config: ModelConfig) {
        modelType = config.modelType
        layers = config.numHiddenLayers
        sparseLayers = config.sparseLayers
        expertsPerLayer = config.sparseLayers.map { config.expertCount(layer: $0) }
        hiddenSize = config.hiddenSize
        vocabSize = config.vocabSize
    }
}

/// A trace that cannot be read or does not fit the model. Every case names the file and, where
/// there is one, the request.
public enum RoutingTraceError: InputError, Equatable {
    case unreadable(file: String, reason: String)
    case malformed(file: String, request: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "\(file): not a routing trace: \(reason)"
        case .malformed(let file, let request, let reason): return "\(file): request \(request): \(reason)"
        }
    }
}
