import Foundation
import MoEModels
import TensorCore

/// One model being trained: which weights train, the optimizer, the schedule and the step count.
/// `Training.train` drives it; the active-learning loop can drive it directly, a step at a time.
public final class Trainer {
    public let model: MoEModel
    public let parameters: Training.Parameters
    public let optimizer: ParameterGroups
    public let schedule: LearningRateSchedule
    /// Optimizer steps completed.
    public var step = 0
    /// The leaves the optimizer updates (model weights or LoRA factors).
    public let trainableParameters: [Parameter]
    /// Effective load-balancing coefficient (0: off).
    public let loadBalancingCoefficient: Float

    /// What one step did.
    public struct StepResult: Sendable {
        public var loss: Float
        public var languageModelLoss: Float
        public var auxiliaryLoss: Float?
        public var zLoss: Float?
        public var gradientNorm: Float
        public var learningRate: Float
        public var tokens: Int
        public var targets: Int
    }

    /// Makes every weight resident, freezes all but the chosen subset (attaching LoRA adapters for
    /// `.lora` unless the model has some) and builds the optimizer. With `restoringFrom` (a
    /// checkpoint folder) weights, adapters, optimizer state and step come from it first.
    public init(model: MoEModel, parameters: Training.Parameters, restoringFrom checkpoint: URL? = nil) throws {
        try parameters.validate()
        self.model = model
        self.parameters = parameters
        var restoredStep = 0
        if let checkpoint {
            try TrainingCheckpoint.restoreWeights(of: model, from: checkpoint, lora: parameters.trainable == .lora)
            restoredStep = try TrainingCheckpoint.readState(checkpoint).globalStep
        }
        if parameters.trainable != .lora && !model.loraAdapters.isEmpty {
            // Training other weights under a saved adapter: the adapter becomes part of the base
            // first, so the model trained (and saved) is the adapted one, not the bare base.
            try model.mergeLoRA()
        }
        for p in model.parameters { try p.setTrainable(false) }
        var trainable: [Parameter]
        if parameters.trainable == .lora {
            if model.loraAdapters.isEmpty {
                let targets = parameters.lora.targetParameters(of: model)
                model.attachLoRA(
                    to: targets, rank: parameters.lora.rank, alpha: parameters.lora.alpha, seed: parameters.seed)
            }
            trainable = model.loraAdapters.flatMap(\.parameters)
        } else {
            trainable = parameters.trainable.parameters(of: model)
        }
        for p in trainable { try p.setTrainable(true) }
        guard !trainable.isEmpty else { throw TrainingError.nothingTrainable(subset: parameters.trainable.rawValue) }
        trainableParameters = trainable
        optimizer = ParameterGroups(
            parameters: trainable.compactMap(\.residentVariable), learningRate: parameters.learningRate,
            beta1: parameters.beta1, beta2: parameters.beta2, eps: parameters.eps, weightDecay: parameters.weightDecay)
        schedule = LearningRateSchedule(
            peak: parameters.learningRate, warmupSteps: parameters.warmupSteps, totalSteps: parameters.steps,
            minimumRatio: parameters.minimumLearningRateRatio)
        loadBalancingCoefficient = parameters.loadBalancingCoefficient ?? model.config.routerAuxLossCoef
        if let checkpoint {
            try TrainingCheckpoint.restoreOptimizer(optimizer, from: checkpoint)
            step = restoredStep
        }
    }

    /// The loss of a batch as a graph: cross-entropy over its targets plus the weighted router losses.
    public func loss(_ batch: TrainingBatch) throws -> (total: Variable, lm: Variable, aux: Variable?, z: Variable?) {
        var options = ForwardOptions(
            loadBalancingLoss: loadBalancingCoefficient > 0, routerZLoss: parameters.zLossCoefficient > 0)
        parameters.entanglement?.prepare(model: model, options: &options, seed: parameters.seed, step: step)
        let out = try model.forward(batch.tokens, options: options)
        let lm = out.languageModelLoss(targets: batch.targets, ignoreIndex: TrainingBatch.ignoreIndex)
        var total = lm
        if let penalty = parameters.entanglement?.penalty(model: model, output: out, batch: batch.tokens) {
            total = add(total, penalty)
        }
        if let e = parameters.entanglement, e.method == .pruningAdversarial,
            let term = try PruningAdversary.term(
                model: model, batch: batch, output: out, fullLoss: lm.value.scalar, strength: e.strength,
                seed: parameters.seed, step: step)
        {
            total = add(total, term)
        }
        if let aux = out.auxiliaryLoss { total = add(total, scale(aux, loadBalancingCoefficient)) }
        if let z = out.routerZLoss { total = add(total, scale(z, parameters.zLossCoefficient)) }
        return (total, lm, out.auxiliaryLoss, out.routerZLoss)
    }

    /// One optimizer step on `examples`. A non-finite loss or gradient norm throws
    /// `TrainingError.nonFinite` before any weight changes.
    public func step(_ examples: [TrainingExample]) throws -> StepResult {
        let batch = TrainingBatch(examples, pad: 0)  // padding is masked out of attention and losses
        let learningRate = schedule.learningRate(at: step)
        optimizer.learningRate = learningRate
        let (total, lm, aux, z) = try loss(batch)
        let (loss, norm) = try optimizer.update(
            minimizing: total, learningRate: learningRate, clipNorm: parameters.gradientClipNorm, step: step)
        step += 1
        return StepResult(
            loss: loss, languageModelLoss: lm.value.scalar, auxiliaryLoss: aux?.value.scalar, zLoss: z?.value.scalar,
            gradientNorm: norm, learningRate: learningRate, tokens: batch.tokenCount, targets: batch.targetCount)
    }
}
