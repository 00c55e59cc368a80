import Foundation
import MoEModels
import TensorCore

/// Pruning-aware adversarial training (issue 22 item 6): the defense that optimises the goal
/// directly. Each step samples one sub-model the way attackers prune (keep the top k experts of
/// every layer by soft routing mass or by top-k frequency on this batch, or k random experts; k
/// uniform in 1…E/2), runs the batch through it and adds
///
///     strength · max(0, L_full + margin − L_pruned)     (L_full detached)
///
/// to the loss: the full model's loss stays the objective, and the pruned sub-model's loss is pushed
/// up until it is `margin` nats worse than the full model's, no further. The hinge bounds what the
/// defense may ask of the shared weights (no reward for a sub-model that is already useless), so the
/// full model does not pay for an unbounded adversary; detaching L_full keeps the term from pulling
/// the full model's loss up to widen the gap.
public enum PruningAdversary {
    /// The margin in nats by which the sampled sub-model should trail the full model.
    public static let margin: Float = 1

    public enum Criterion: String, Sendable, CaseIterable {
        case soft, frequency, random
    }

    /// One step's sub-model.
    public struct Draw: Sendable, Equatable {
        public var criterion: Criterion
        public var k: Int
        /// keep[l][e]: expert e of sparse layer l stays in the sub-model.
        public var keep: [[Bool]]
    }

    /// The sub-model of a step, from the router logits of the full forward (`recordRouterLogits`)
    /// over the batch's real tokens; deterministic in (seed, step).
    public static func draw(
        routerLogits: [Tensor], batch: TokenBatch, topK: Int, seed: UInt64, step: Int
    ) -> Draw {
        var rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(step) &+ 0xAD5E)
        let criterion = Criterion.allCases[Int(rng.next() % UInt64(Criterion.allCases.count))]
        let fewest = routerLogits.map(\.lastDim).min() ?? 1
        let k = 1 + Int(rng.next() % UInt64(max(1, fewest / 2)))
        var keep: [[Bool]] = []
        for logits in routerLogits {
            let e = logits.lastDim
            var score = [Double](repeating: 0, count: e)
            switch criterion {
            case .random:
                score = (0..<e).map { _ in Double(rng.next() % 1_000_003) }
            case .soft, .frequency:
                logits.withUnsafeBufferPointer { p in
                    for r in 0..<logits.rows where batch.isValid(row: r) {
                        let row = (0..<e).map { Double(p[r * e + $0]) }
                        if criterion == .soft {
                            let m = row.max()!
                            let z = row.reduce(0) { $0 + exp($1 - m) }
                            for j in 0..<e { score[j] += exp(row[j] - m) / z }
                        } else {
                            for j in row.indices.sorted(by: { row[$0] > row[$1] }).prefix(topK) { score[j] += 1 }
                        }
                    }
                }
            }
            let kept = Set(score.indices.sorted { (score[$0], -$0) > (score[$1], -$1) }.prefix(k))
            keep.append((0..<e).map { kept.contains($0) })
        }
        return Draw(criterion: criterion, k: k, keep: keep)
    }

    /// strength · max(0, fullLoss + margin − prunedLoss) as a graph node (nil when the sub-model
    /// already trails by the margin: no gradient, nothing added).
    public static func penalty(prunedLoss: Variable, fullLoss: Float, strength: Float) -> Variable? {
        let ceiling = fullLoss + margin
        guard prunedLoss.value.scalar < ceiling else { return nil }
        return add(scale(prunedLoss, -strength), Variable(Tensor(scalar: strength * ceiling)))
    }

    /// The step's term for `Trainer.loss`: draws the sub-model from `output`'s router logits, runs the
    /// batch through it (its mask combined with the model's own `expertMask`, for this pass only) and
    /// returns the penalty.
    static func term(
        model: MoEModel, batch: TrainingBatch, output: ForwardOutput, fullLoss: Float, strength: Float,
        seed: UInt64, step: Int
    ) throws -> Variable? {
        let d = draw(
            routerLogits: output.routerLogits, batch: batch.tokens, topK: model.config.numExpertsPerToken, seed: seed,
            step: step)
        var options = ForwardOptions()
        options.expertMask = model.moeBlocks.enumerated().map { l, block in
            let own = model.expertMask?[l] ?? [Bool](repeating: true, count: block.expertCount)
            let keep = zip(own, d.keep[l]).map { $0 && $1 }
            return keep.contains(true) ? keep : own  // never an empty layer
        }
        let pruned = try model.forward(batch.tokens, options: options)
        let prunedLoss = pruned.languageModelLoss(targets: batch.targets, ignoreIndex: TrainingBatch.ignoreIndex)
        return penalty(prunedLoss: prunedLoss, fullLoss: fullLoss, strength: strength)
    }
}
