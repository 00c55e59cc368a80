import Foundation
import MoEModels
import TensorCore

/// Entangled-expert training: a regulariser or schedule that spreads task knowledge across experts,
/// so that pruning any of them hurts and is hard to recover by re-alignment (the paper's §3.3
/// defense, which it proposes without a method; these are ExpertLock's three).
public struct EntanglementRegularizer: Sendable, Codable, Equatable {
    public enum Method: String, Sendable, Codable, CaseIterable {
        /// Penalise the divergence between the outputs of the experts a token is routed to
        /// (loss += strength · mean pairwise ‖y_a − y_b‖² / mean ‖y‖²): several experts carry the same features.
        case outputAgreement = "output-agreement"
        /// Penalise routing concentrated per example: the load-balancing loss of each sequence on its own
        /// plus the per-token entropy shortfall below a floor halfway between log K and log E
        /// (`ExpertEntanglement.routingSpread`): every example, so every task, routes through overlapping
        /// expert sets instead of a private few.
        case routingSpread = "routing-spread"
        /// Each step, hide each expert from its router with probability `strength` (top-k always
        /// left): no single expert becomes the sole carrier of a skill.
        case expertDropout = "expert-dropout"
        /// Pruning-aware adversarial training (`PruningAdversary`): each step also runs the batch
        /// through a sub-model pruned the way attackers prune and raises its loss, up to a margin above
        /// the full model's (strength weights that hinge).
        case pruningAdversarial = "pruning-adversarial"
    }

    public var method: Method
    /// Loss weight (agreement, spread) or drop probability (dropout).
    public var strength: Float

    public init(method: Method, strength: Float) {
        self.method = method
        self.strength = strength
    }

    /// The entropy floor of routing spread for a layer of `experts` experts choosing `topK`.
    public static func entropyFloor(experts: Int, topK: Int) -> Float {
        Float((log(Double(max(topK, 1))) + log(Double(max(experts, 1)))) / 2)
    }

    /// The forward options of one training step (`step` seeds expert dropout, so a resumed run drops
    /// the same experts as an uninterrupted one). Nothing is set on the model.
    public func prepare(model: MoEModel, options: inout ForwardOptions, seed: UInt64, step: Int) {
        switch method {
        case .outputAgreement:
            ExpertEntanglement(outputAgreement: true).apply(to: &options, model: model)
        case .routingSpread:
            options.recordRoutedLogits = true
        case .expertDropout:
            ExpertEntanglement(dropoutRate: strength, seed: seed &+ UInt64(step) &* 0x2545_F491)
                .apply(to: &options, model: model)
        case .pruningAdversarial:
            options.recordRouterLogits = true  // the step's attacker ranks experts by this batch's routing
        }
    }

    /// The weighted regularisation term of the step whose pass `prepare` set up (nil for dropout,
    /// which acts on routing, and for the pruning adversary, which needs a second forward pass:
    /// `Trainer.loss` adds it).
    public func penalty(model: MoEModel, output: ForwardOutput, batch: TokenBatch) -> Variable? {
        switch method {
        case .outputAgreement:
            return ExpertEntanglement.agreementLoss(output, batch: batch).map { scale($0, strength) }
        case .routingSpread:
            guard !output.routedLogits.isEmpty else { return nil }
            let e = model.moeBlocks.map(\.expertCount).max() ?? 1
            let floor = Self.entropyFloor(experts: e, topK: model.config.numExpertsPerToken)
            let spread = ExpertEntanglement.routingSpread(
                output.routedLogits, topK: model.config.numExpertsPerToken, batch: batch, entropyFloor: floor)
            return scale(spread, strength)
        case .expertDropout, .pruningAdversarial: return nil
        }
    }

    public func validate() throws {
        guard strength.isFinite, strength >= 0 else { throw EntanglementError.badStrength(strength) }
        if method == .expertDropout && strength >= 1 { throw EntanglementError.badStrength(strength) }
    }
}

public enum EntanglementError: InputError, Equatable {
    case badStrength(Float)
    public var description: String {
        switch self {
        case .badStrength(let s):
            return "--entangle \(s): the strength must be ≥ 0 (and < 1 for expert-dropout, where it is a probability)"
        }
    }
}
