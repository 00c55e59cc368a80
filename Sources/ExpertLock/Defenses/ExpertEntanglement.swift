import MoEModels
import TensorCore

/// What the entangled-expert defenses add to a training step's forward pass and loss, computed
/// here from what the pass returns (the model holds no defense state).
///
/// - Expert dropout: each training step, each layer hides a random subset of its experts from the
///   router (at rate `dropoutRate`, always leaving top-k), so no single expert can become the sole
///   carrier of a skill: the others must learn to cover for it. The draw is the step's expert mask.
/// - Output agreement: the outputs of the experts a token is routed to are pulled together (mean
///   squared difference of each pair, relative to their mean squared norm), so several experts carry
///   the same features.
/// The third method, routing spread, needs only the routed logits (`routingSpread`).
public struct ExpertEntanglement: Sendable, Equatable {
    public var dropoutRate: Float
    public var outputAgreement: Bool
    /// Seed of this step's dropout draw (the trainer derives it from its seed and step, so a resumed
    /// run drops the same experts).
    public var seed: UInt64

    public init(dropoutRate: Float = 0, outputAgreement: Bool = false, seed: UInt64 = 0) {
        self.dropoutRate = dropoutRate
        self.outputAgreement = outputAgreement
        self.seed = seed
    }

    /// The routable experts of a layer this step: `base` (or all) minus a random draw, never fewer than top-k.
    public func dropoutKeep(layer: Int, experts: Int, topK: Int, base: [Bool]?) -> [Bool]? {
        guard dropoutRate > 0 else { return base }
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(layer) &* 0x85EB_CA6B &+ 1)
        var keep = base ?? [Bool](repeating: true, count: experts)
        let available = keep.indices.filter { keep[$0] }
        var droppable = available.count - topK
        for e in available where droppable > 0 && rng.nextFloat() < dropoutRate {
            keep[e] = false
            droppable -= 1
        }
        return keep
    }

    /// The forward options of a step: the dropout draw as the pass's expert mask (over the model's own
    /// mask), and the expert outputs kept when output agreement needs them.
    public func apply(to options: inout ForwardOptions, model: MoEModel) {
        if outputAgreement { options.recordExpertOutputs = true }
        guard dropoutRate > 0 else { return }
        let blocks = model.moeBlocks
        options.expertMask = blocks.enumerated().map { i, block in
            dropoutKeep(layer: block.layer, experts: block.expertCount, topK: block.topK, base: model.expertMask?[i])
                ?? [Bool](repeating: true, count: block.expertCount)
        }
    }

    /// The mean over sparse layers of `outputDisagreement` for a pass run with `recordExpertOutputs`
    /// (nil when no layer routed a token to two experts).
    public static func agreementLoss(_ output: ForwardOutput, batch: TokenBatch) -> Variable? {
        let losses = output.expertOutputs.compactMap { layer in
            layer.flatMap { outputDisagreement(stacked: $0.stacked, rows: $0.rows, k: $0.k, batch: batch) }
        }
        guard var total = losses.first else { return nil }
        for l in losses.dropFirst() { total = add(total, l) }
        return scale(total, 1 / Float(losses.count))
    }

    /// Mean over pairs of ‖y_a − y_b‖², divided by the mean ‖y‖² of all the gated expert outputs of
    /// the layer, for the K gated expert outputs of each real token. `stacked` [Σ n_e, C] holds expert
    /// outputs in `rows` order.
    ///
    /// The normaliser is part of the graph: the penalty is invariant to scaling every output, so it
    /// cannot be lowered by shrinking them all. (It was detached until issue 22; the gradient then
    /// rewarded a uniform shrink, which lowers ‖y_a − y_b‖² quadratically and costs the penalty nothing.)
    static func outputDisagreement(stacked: Variable, rows: [Int], k: Int, batch: TokenBatch) -> Variable? {
        guard k >= 2 else { return nil }
        var positions = [[Int]](repeating: [], count: batch.tokenCount)
        for (i, r) in rows.enumerated() { positions[r].append(i) }
        var first: [Int] = [], second: [Int] = []
        for (r, p) in positions.enumerated() where batch.isValid(row: r) && p.count >= 2 {
            for a in 0..<p.count { for b in (a + 1)..<p.count { first.append(p[a]); second.append(p[b]) } }
        }
        guard !first.isEmpty else { return nil }
        let a = gatherRows(stacked, first), b = gatherRows(stacked, second)  // [P, C]
        let difference = add(a, scale(b, -1))
        let energy = add(
            scale(sum(mul(stacked, stacked)), 1 / Float(max(stacked.value.rows, 1))), Variable(Tensor(scalar: 1e-6)))
        return divide(scale(sum(mul(difference, difference)), 1 / Float(first.count)), energy)
    }

    /// The routing-spread penalty of entangled training: the load-balancing loss of each sequence on
    /// its own (mean over sequences), which, unlike the batch-level loss, forbids a sequence — a task
    /// example — from concentrating on a few experts; plus the mean shortfall of per-token routing
    /// entropy below `entropyFloor`. Standard load balancing lets domains specialise on disjoint
    /// experts as long as the batch as a whole is balanced; this does not.
    public static func routingSpread(_ logits: [Variable], topK: Int, batch: TokenBatch, entropyFloor: Float)
        -> Variable
    {
        var total: Variable?
        for b in 0..<batch.batch {
            let length = batch.lengths?[b] ?? batch.seq
            guard length > 0 else { continue }
            let rows = Array((b * batch.seq)..<(b * batch.seq + length))
            let loss = RouterLosses.loadBalancing(logits, topK: topK, rows: rows)
            total = total.map { add($0, loss) } ?? loss
        }
        var spread = scale(total ?? Variable(Tensor(scalar: 0)), 1 / Float(max(batch.batch, 1)))
        let valid = RouterLosses.validRows(batch)
        for layer in logits {
            spread = add(
                spread, scale(routingEntropyShortfall(layer, floor: entropyFloor, rows: valid), 1 / Float(logits.count))
            )
        }
        return spread
    }

}
