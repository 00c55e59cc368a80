import Foundation
import MoEModels
import TensorCore

/// Fine-tuning of a Switch Transformer on source/target examples (`TrainingExample.source`), with the loss
/// transformers' `SwitchTransformersForConditionalGeneration` computes from `labels` in training mode:
///
///     loss = CE(decoder logits, target tokens)                      mean over the batch's target tokens
///          + router_z_loss_coef   · (encoder z-loss + decoder z-loss)
///          + router_aux_loss_coef · (encoder aux loss + decoder aux loss)
///
/// each router loss only for a stack whose sparse step is above 1 (transformers' own condition), per
/// sequence and averaged over the batch (`SwitchTransformersModel.forward(routerLosses:)`; golden-tested
/// against transformers in `Seq2SeqTrainerTests`). The coefficients are the config's, as transformers trains:
/// `Training.Parameters.loadBalancingCoefficient` overrides the auxiliary one (0: off) and a positive
/// `zLossCoefficient` the z-loss one. The gradient flows back through the decoder, the cross-attention, the
/// encoder and the top-1 routers: the chosen expert's probability scales its output, so `experts+router`
/// moves the router through the language-model loss too; a token dropped by the capacity reaches no expert.
///
/// Trainable subsets: `experts` (wi and wo of every expert a router may still choose, in every sparse block
/// of both stacks), `experts+router` (plus the router weights), `all` (every weight: the shared embedding,
/// the relative-position tables, attention, norms, dense blocks); not `lora` (no adapter path for this
/// family). Unlike transformers' training mode there is no dropout and no router jitter: a step is a pure
/// function of the weights and the batch, which the resumable active-learning loop relies on.
public final class Seq2SeqTrainer: RealignmentTrainer {
    public let model: SwitchTransformersModel
    public let parameters: Training.Parameters
    public let optimizer: ParameterGroups
    public let schedule: LearningRateSchedule
    public var step = 0
    public let trainableParameters: [Parameter]
    /// Effective coefficients (0: that loss is off).
    public let auxiliaryCoefficient: Float
    public let zLossCoefficient: Float

    public init(model: SwitchTransformersModel, parameters: Training.Parameters) throws {
        try parameters.validate()
        guard parameters.trainable != .lora else {
            throw TrainingError.invalidParameter("--trainable lora is not supported for switch_transformers models")
        }
        guard parameters.entanglement == nil else {
            throw TrainingError.invalidParameter("entanglement regularisation is not supported for switch_transformers")
        }
        self.model = model
        self.parameters = parameters
        for p in model.parameters { try p.setTrainable(false) }
        let trainable = Self.parameters(of: model, subset: parameters.trainable)
        for p in trainable { try p.setTrainable(true) }
        guard !trainable.isEmpty else { throw TrainingError.nothingTrainable(subset: parameters.trainable.rawValue) }
        trainableParameters = trainable
        optimizer = ParameterGroups(
            parameters: trainable.compactMap(\.residentVariable), learningRate: parameters.learningRate,
            beta1: parameters.beta1, beta2: parameters.beta2, eps: parameters.eps, weightDecay: parameters.weightDecay)
        schedule = LearningRateSchedule(
            peak: parameters.learningRate, warmupSteps: parameters.warmupSteps, totalSteps: parameters.steps,
            minimumRatio: parameters.minimumLearningRateRatio)
        auxiliaryCoefficient = parameters.loadBalancingCoefficient ?? Float(model.config.routerAuxLossCoef)
        zLossCoefficient =
            parameters.zLossCoefficient > 0 ? parameters.zLossCoefficient : Float(model.config.routerZLossCoef)
    }

    /// The weights `subset` trains, each once (tied embeddings are one parameter), in model order.
    public static func parameters(of model: SwitchTransformersModel, subset: TrainableSubset) -> [Parameter] {
        switch subset {
        case .lora: return []
        case .all:
            var seen = Set<ObjectIdentifier>()
            return model.parameters.filter { seen.insert(ObjectIdentifier($0)).inserted }
        case .experts, .expertsAndRouter:
            var out: [Parameter] = []
            for (l, block) in model.sparseBlocks.enumerated() {
                if subset == .expertsAndRouter { out.append(block.router) }
                for (e, expert) in block.experts.enumerated() where model.expertMask?[l][e] ?? true {
                    out += [expert.wi, expert.wo]
                }
            }
            return out
        }
    }

    /// The loss terms of `examples` as graphs: (total, cross-entropy, auxiliary, z), the router losses nil when
    /// no stack has them (or their coefficient is 0).
    public func loss(_ examples: [TrainingExample]) throws -> (
        total: Variable, lm: Variable, aux: Variable?, z: Variable?, targets: Int
    ) {
        var sources: [[Int]] = []
        var inputs: [[Int]] = []
        var targets: [Int] = []
        for example in examples {
            guard let source = example.source, example.ids.count >= 2 else {
                throw TrainingError.noExamples(reason: "an encoder-decoder example needs a source and a target")
            }
            sources.append(source)
            inputs.append(Array(example.ids.dropLast()))  // teacher forcing: the target shifted right
            for t in 0..<(example.ids.count - 1) {
                targets.append(t + 1 >= example.firstTarget ? example.ids[t + 1] : TrainingBatch.ignoreIndex)
            }
        }
        let routerLosses = auxiliaryCoefficient > 0 || zLossCoefficient > 0
        let out = try model.forward(encoderIds: sources, decoderIds: inputs, routerLosses: routerLosses)
        let lm = linearCrossEntropy(
            out.hidden, weight: out.head, targets: targets, ignoreIndex: TrainingBatch.ignoreIndex)
        var total = lm
        let aux = auxiliaryCoefficient > 0 ? out.auxiliaryLoss : nil
        let z = zLossCoefficient > 0 ? out.routerZLoss : nil
        if let aux { total = add(total, scale(aux, auxiliaryCoefficient)) }
        if let z { total = add(total, scale(z, zLossCoefficient)) }
        return (total, lm, aux, z, targets.filter { $0 != TrainingBatch.ignoreIndex }.count)
    }

    public func step(_ examples: [TrainingExample]) throws -> Trainer.StepResult {
        let learningRate = schedule.learningRate(at: step)
        optimizer.learningRate = learningRate
        let (total, lm, aux, z, targetCount) = try loss(examples)
        let (loss, norm) = try optimizer.update(
            minimizing: total, learningRate: learningRate, clipNorm: parameters.gradientClipNorm, step: step)
        step += 1
        let tokens = examples.reduce(0) { $0 + ($1.source?.count ?? 0) + $1.ids.count - 1 }
        return Trainer.StepResult(
            loss: loss, languageModelLoss: lm.value.scalar, auxiliaryLoss: aux?.value.scalar, zLoss: z?.value.scalar,
            gradientNorm: norm, learningRate: learningRate, tokens: tokens, targets: targetCount)
    }
}

extension SwitchTransformersModel: RealignableModel {
    public func realignmentTargets(_ training: Training.Parameters) throws -> [Parameter] {
        guard training.trainable != .lora else {
            throw TrainingError.invalidParameter("--trainable lora is not supported for switch_transformers models")
        }
        return Seq2SeqTrainer.parameters(of: self, subset: training.trainable)
    }

    public func makeRealignmentTrainer(_ training: Training.Parameters) throws -> any RealignmentTrainer {
        try Seq2SeqTrainer(model: self, parameters: training)
    }
}
