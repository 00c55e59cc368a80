import TensorCore

/// The sparse feed-forward block: a router picks K of E experts per token, the chosen experts'
/// outputs are summed with the router's weights (plus the family's shared experts, gated or not).
///
/// Experts run grouped: the tokens routed to an expert are gathered into one [n_e, C] matrix and go
/// through that expert in one product per projection; the outputs are stacked and scattered back
/// with a single scatter-add. Shapes: x [N, C], router [E, C], logits [N, E], weights [N, K].
public final class SparseMoEBlock {
    public let layer: Int
    /// Router ("gate") weight [E, C]; row e scores expert e.
    public let router: Parameter
    /// gpt-oss's router bias [E], added to the logits (nil: none).
    public let routerBias: Parameter?
    /// Llama-4: each chosen expert runs on its input scaled by the routing weight, and its output is
    /// added unscaled (`Llama4TextMoe`); otherwise the output is scaled.
    public let scalesExpertInput: Bool
    public let experts: [Expert]
    /// Always-on shared expert(s) (Qwen2-MoE `shared_expert`, DeepSeek/GLM `shared_experts`: n of them
    /// fused into one MLP of n × the expert size).
    public let sharedExpert: Expert?
    /// Qwen2-MoE's shared-expert gate [1, C]: sigmoid(x·w) scales the shared expert's output (nil: ungated).
    public let sharedExpertGate: Parameter?
    public let topK: Int
    /// Renormalise the K chosen probabilities to sum to 1 (Mixtral always; others `norm_topk_prob`).
    public let normalizeTopK: Bool
    /// A router whose choice and weights differ (sigmoid scores, selection bias, groups, scaling);
    /// nil: softmax over the experts, then top-k.
    public let biasedRouter: BiasedRouter?
    /// The selection-only bias [E] of a biased router (`e_score_correction_bias`; nil: none).
    public let selectionBias: Parameter?
    init(
        layer: Int, router: Parameter, experts: [Expert], sharedExpert: Expert?, sharedExpertGate: Parameter?,
        topK: Int, normalizeTopK: Bool, biasedRouter: BiasedRouter? = nil, selectionBias: Parameter? = nil,
        routerBias: Parameter? = nil, scalesExpertInput: Bool = false
    ) {
        self.routerBias = routerBias
        self.scalesExpertInput = scalesExpertInput
        self.biasedRouter = biasedRouter
        self.selectionBias = selectionBias
        self.layer = layer
        self.router = router
        self.experts = experts
        self.sharedExpert = sharedExpert
        self.sharedExpertGate = sharedExpertGate
        self.topK = topK
        self.normalizeTopK = normalizeTopK
    }

    public var expertCount: Int { experts.count }

    var parameters: [Parameter] {
        var all = [router]
        if let routerBias { all.append(routerBias) }
        if let selectionBias { all.append(selectionBias) }
        for e in experts { all += e.parameters }
        if let sharedExpert { all += sharedExpert.parameters }
        if let sharedExpertGate { all.append(sharedExpertGate) }
        return all
    }

    /// What one pass through the block produced.
    struct Output {
        /// Block output [N, C].
        var output: Variable
        /// Raw router logits [N, E] (as transformers reports them).
        var logits: Variable
        /// The logits the router chose from (the pass's mask applied): the router losses use these.
        var routed: Variable
        /// The gated outputs of the routed experts, when the pass asked for them.
        var expertOutputs: ExpertOutputs? = nil
    }

    /// One pass through the block. `allowed`: the experts the router may choose this pass (nil: all);
    /// a pruning mask, or a training-time draw. `recordExpertOutputs` keeps the gated output of every
    /// routed expert (and so takes the per-expert path).
    func forward(
        _ x: Variable, batch: TokenBatch, observer: RoutingObserver?, allowed: [Bool]? = nil,
        recordExpertOutputs: Bool = false
    ) throws -> Output {
        let n = x.value.rows
        observer?.observeBlockInput(layer: layer, input: x.value, batch: batch)
        // With experts masked below top-k, route to every expert left (what removal does).
        let k = min(topK, allowed.map { $0.filter { $0 }.count } ?? topK)
        let logits = linear(x, try router.variable(), bias: try routerBias?.variable())  // [N, C] -> [N, E]
        let routed = allowed.map { maskColumns(logits, keep: $0) } ?? logits
        let routing: Routing  // weights [N, K], experts [N*K]
        if let biasedRouter {
            routing = biasedTopKRouting(
                biasedRouter.scoring == .softmax ? routed : logits, router: biasedRouter, k: k,
                selectionBias: try selectionBias?.tensor().data, keep: allowed)
        } else {
            // Trap: softmax over all experts first, then top-k, then optional renormalisation
            // (transformers' *TopKRouter); Mixtral always renormalises.
            routing = topKRouting(routed, k: k, normalize: normalizeTopK)
        }
        observer?.observeRouting(
            layer: layer, probabilities: routing.probabilities, experts: routing.experts,
            weights: routing.weights.value, batch: batch)

        var slotsByExpert = [[Int]](repeating: [], count: experts.count)
        for (slot, e) in routing.experts.enumerated() { slotsByExpert[e].append(slot) }
        if !recordExpertOutputs, let stored = try storedExpertWeights(x, routing.weights, observer: observer) {
            // Inference from the stored bfloat16 weights: the layer's experts as one parallel job.
            var out = Variable(
                storedExperts(
                    x.value, gate: stored.gate, up: stored.up, down: stored.down,
                    tokens: slotsByExpert.map { $0.map { $0 / k } }, slots: slotsByExpert,
                    weights: routing.weights.value,
                    precision: stored.precision))
            out = try addingSharedExpert(to: out, x)
            return Output(output: out, logits: logits, routed: routed)
        }
        if !recordExpertOutputs, canFuseExperts(observer: observer) {
            // One op for gather, experts, gating and scatter (the same arithmetic as below), whose
            // backward also runs the experts concurrently.
            var out = groupedExperts(
                x, gate: try experts.map { try $0.gate.variable() }, up: try experts.map { try $0.up.variable() },
                down: try experts.map { try $0.down.variable() }, tokens: slotsByExpert.map { $0.map { $0 / k } },
                slots: slotsByExpert, weights: routing.weights)
            out = try addingSharedExpert(to: out, x)
            return Output(output: out, logits: logits, routed: routed)
        }
        let flatWeights = reshape(routing.weights, [n * k, 1])  // [N, K] -> [N*K, 1]

        // Experts run concurrently, one per worker, busiest first; each expert's products stay
        // whole on its worker (`Gemm` does not split inside a parallel region), so every weight
        // matrix is packed once instead of once per thread.
        let active = slotsByExpert.indices.filter { !slotsByExpert[$0].isEmpty }
        let busiestFirst = active.sorted { slotsByExpert[$0].count > slotsByExpert[$1].count }
        var results = [Result<Variable, Error>?](repeating: nil, count: experts.count)
        results.withUnsafeMutableBufferPointer { slotsOut in
            let slotsOut = UncheckedSendable(slotsOut)
            Parallel.forEachItem(in: busiestFirst) { e in
                let slots = slotsByExpert[e]
                slotsOut.value[e] = Result {
                    var xe = gatherRows(x, slots.map { $0 / k })  // [N, C] -> [n_e, C]
                    if scalesExpertInput { xe = scaleRows(xe, reshape(gatherRows(flatWeights, slots), [slots.count])) }
                    return try experts[e].forward(xe)  // [n_e, C]
                }
            }
        }
        var outputs: [Variable] = []
        var rows: [[Int]] = []
        for e in active {
            let slots = slotsByExpert[e]
            let tokenRows = slots.map { $0 / k }
            let ye = try results[e]!.get()
            if let observer {
                observer.observeExpertOutput(
                    layer: layer, expert: e, rows: tokenRows, slots: slots, outputNorms: rowNorms(ye.value),
                    batch: batch)
            }
            let gate = reshape(gatherRows(flatWeights, slots), [slots.count])  // [n_e]
            outputs.append(scalesExpertInput ? ye : scaleRows(ye, gate))
            rows.append(tokenRows)
        }
        var out =
            outputs.isEmpty
            ? Variable(Tensor.zeros([n, x.value.lastDim]))
            : scatterAddRows(outputs, rows, rowCount: n)  // [n_e, C] per expert -> [N, C]
        out = try addingSharedExpert(to: out, x)
        var result = Output(output: out, logits: logits, routed: routed)
        if recordExpertOutputs, !outputs.isEmpty {
            // Stacked only when asked: a penalty on the per-token pairs of expert outputs needs them.
            result.expertOutputs = ExpertOutputs(stacked: concatRows(outputs), rows: rows.flatMap { $0 }, k: k)
        }
        return result
    }

    /// Whether the routed experts can run as one `groupedExperts` op: no observer needs the per-expert
    /// outputs, no expert has a LoRA adapter, and
    /// every expert weight is resident (a mapped model converts one expert at a time instead of
    /// holding the whole layer in Float32).
    func canFuseExperts(observer: RoutingObserver?) -> Bool {
        guard observer == nil, computesPlainExperts else { return false }
        return experts.allSatisfy { e in e.parameters.allSatisfy { $0.adapter == nil && $0.isResident } }
    }

    /// The experts' stored bfloat16 matrices, when the pass is inference (nothing needs a gradient or the
    /// per-expert outputs) and every expert weight has one (`Parameter.storedMatrix`); nil otherwise.
    func storedExpertWeights(_ x: Variable, _ weights: Variable, observer: RoutingObserver?) throws
        -> (gate: [BF16Matrix], up: [BF16Matrix], down: [BF16Matrix], precision: Precision)?
    {
        guard observer == nil, !x.requiresGrad, !weights.requiresGrad, computesPlainExperts,
            let first = experts.first
        else { return nil }
        var gate: [BF16Matrix] = [], up: [BF16Matrix] = [], down: [BF16Matrix] = []
        for e in experts {
            guard e.parameters.allSatisfy({ $0.adapter == nil && !$0.isTrainable }),
                let g = try e.gate.storedMatrix(), let u = try e.up.storedMatrix(), let d = try e.down.storedMatrix()
            else { return nil }
            gate.append(g)
            up.append(u)
            down.append(d)
        }
        return (gate, up, down, first.gate.precision)
    }

    /// Whether the experts are what the one-op kernels compute: weight · silu(gate(x)) · up(x), no biases.
    var computesPlainExperts: Bool { !scalesExpertInput && experts.allSatisfy(\.isPlainSwiGLU) }

    /// out + sigmoid(x·w_gate) · shared_expert(x) for Qwen2-MoE's gated shared expert, out + shared(x)
    /// for an ungated one; out otherwise.
    func addingSharedExpert(to out: Variable, _ x: Variable) throws -> Variable {
        guard let sharedExpert else { return out }
        let shared = try sharedExpert.forward(x)  // [N, C]
        guard let sharedExpertGate else { return add(out, shared) }
        let g = sigmoid(linear(x, try sharedExpertGate.variable()))  // [N, C] -> [N, 1]
        return add(out, scaleRows(shared, reshape(g, [x.value.rows])))
    }
}

/// The gated outputs of the experts one sparse layer routed a batch to (`ForwardOptions.recordExpertOutputs`).
public struct ExpertOutputs {
    /// Every routed (token, expert) pair's gated output [Σ n_e, C], expert by expert (graph nodes).
    public var stacked: Variable
    /// The token row of each row of `stacked`.
    public var rows: [Int]
    /// Experts per token in this pass (top-k, or fewer when a mask leaves fewer).
    public var k: Int
}

/// ‖row‖₂ of each row of x [n, C].
func rowNorms(_ x: Tensor) -> [Float] {
    let c = x.lastDim
    return x.withUnsafeBufferPointer { p in
        (0..<x.rows).map { r in
            var s: Float = 0
            for j in 0..<c { s += p[r * c + j] * p[r * c + j] }
            return s.squareRoot()
        }
    }
}
