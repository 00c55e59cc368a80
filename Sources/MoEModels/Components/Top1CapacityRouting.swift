import TensorCore

/// T5's feed-forward network `wo(act(wi x))` (transformers' `DenseActDense`): the dense layers of a Switch
/// Transformer and each of its experts. Shapes: wi [F, C], wo [C, F]; x [n, C] -> [n, C].
public final class DenseActDense {
    public let wi: Parameter
    public let wo: Parameter
    public let activation: FeedForwardActivation

    init(prefix: String, dModel: Int, dFF: Int, activation: FeedForwardActivation, parameters p: ParameterFactory)
        throws
    {
        wi = try p("\(prefix).wi.weight", [dFF, dModel])
        wo = try p("\(prefix).wo.weight", [dModel, dFF])
        self.activation = activation
    }

    var parameters: [Parameter] { [wi, wo] }

    func forward(_ x: Variable) throws -> Variable {
        let h = try wi.project(x)  // [n, C] -> [n, F]
        let a: Variable
        switch activation {
        case .relu: a = relu(h)
        case .geluNew, .geluTanh: a = gelu(h)
        case .silu: a = silu(h)
        }
        return try wo.project(a)  // [n, F] -> [n, C]
    }
}

/// The Switch Transformer's sparse MLP (`SwitchTransformersSparseMLP`): a top-1 router over E experts with an
/// expert capacity. Each token goes to its most probable expert and its output is scaled by that probability;
/// tokens beyond an expert's capacity in a sequence (counted in position order) are dropped: the block adds
/// nothing for them, and the residual carries them through.
public final class SwitchSparseMLP {
    /// The block's index over both stacks (encoder blocks, then decoder blocks after them): the `layer`
    /// observers see and `ModelSignature.sparseLayers` records.
    public let layer: Int
    public let id: SwitchLayerID
    /// Router weight [E, C] (`router.classifier.weight`).
    public let router: Parameter
    public let experts: [DenseActDense]
    /// Tokens an expert takes per sequence and call (`expert_capacity`).
    public let capacity: Int
    /// Multiplicative router-input noise U(1 − j, 1 + j) (`router_jitter_noise`), applied only in training.
    public var jitter: Float = 0
    /// The generator of the jitter noise (training only; nil: none).
    public var jitterSource: ((Int) -> [Float])?

    init(layer: Int, id: SwitchLayerID, router: Parameter, experts: [DenseActDense], capacity: Int) {
        self.layer = layer
        self.id = id
        self.router = router
        self.experts = experts
        self.capacity = capacity
    }

    public var expertCount: Int { experts.count }
    var parameters: [Parameter] { [router] + experts.flatMap(\.parameters) }

    /// What one pass produced.
    struct Output {
        /// Block output [T, C] (zero rows for dropped tokens).
        var output: Variable
        /// Raw router logits [T, E] (what transformers records).
        var logits: Variable
        /// The logits the router chose from (the call's expert mask applied), for the router losses.
        var routed: Variable
        /// The chosen expert of each token, nil when dropped.
        var chosen: [Int?]
    }

    /// One sequence x [T, C] (`sequence`: its ids, what observers are told the rows are). `allowed`: the experts the
    /// router may choose in this call (nil: all); the model passes its mask per call, the block holds none.
    func forward(_ x: Variable, allowed: [Bool]?, observer: RoutingObserver?, sequence: TokenBatch) throws -> Output {
        let t = x.value.rows
        var input = x
        if let jitterSource, jitter > 0 {  // training only: x · U(1 − j, 1 + j)
            input = mul(x, Variable(Tensor(shape: x.value.shape, data: jitterSource(x.value.count))))
        }
        let logits = linear(input, try router.variable())  // [T, C] -> [T, E], float32
        let routed = allowed.map { maskColumns(logits, keep: $0) } ?? logits
        // Trap: softmax over all experts, then argmax (ties to the lower index), weight = the max probability.
        let routing = topKRouting(routed, k: 1, normalize: false)  // weights [T, 1], experts [T]
        var load = [Int](repeating: 0, count: experts.count)
        var chosen: [Int?] = []
        var rows = [[Int]](repeating: [], count: experts.count)
        for (token, e) in routing.experts.enumerated() {
            load[e] += 1
            // transformers: cumsum of the one-hot choice over the sequence, kept while <= expert_capacity.
            if load[e] <= capacity {
                rows[e].append(token)
                chosen.append(e)
            } else {
                chosen.append(nil)
            }
        }
        // Observers see the router's decision (its argmax and weight), dropped or not: attribution measures
        // what the router prefers; capacity is a property of the batch, not of the expert.
        observer?.observeRouting(
            layer: layer, probabilities: routing.probabilities, experts: routing.experts,
            weights: routing.weights.value,
            batch: sequence)
        var parts: [Variable] = []
        var indices: [[Int]] = []
        for (e, tokens) in rows.enumerated() where !tokens.isEmpty {
            let out = try experts[e].forward(gatherRows(x, tokens))  // [n_e, C] -> [n_e, C]
            if let observer {
                let c = out.value.lastDim
                let norms = (0..<tokens.count).map { r in
                    (0..<c).reduce(Float(0)) { $0 + out.value.data[r * c + $1] * out.value.data[r * c + $1] }
                        .squareRoot()
                }
                observer.observeExpertOutput(
                    layer: layer, expert: e, rows: tokens, slots: tokens, outputNorms: norms, batch: sequence)
            }
            parts.append(scaleRows(out, gatherRows(routing.weights, tokens)))
            indices.append(tokens)
        }
        let output =
            parts.isEmpty
            ? Variable(Tensor.zeros(x.value.shape)) : scatterAddRows(parts, indices, rowCount: t)
        return Output(output: output, logits: logits, routed: routed, chosen: chosen)
    }
}
