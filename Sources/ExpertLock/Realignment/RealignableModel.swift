import Foundation
import MoEModels
import TensorCore

/// A model the active-learning loop can fine-tune: it names the weights a run trains and builds the
/// trainer that takes optimizer steps on labeled examples. Scoring and embedding the pool go through
/// the task (`RealignmentTask.score`), which knows its model's architecture; the loop itself only
/// labels, trains, restarts and saves. `MoEModel` (decoder-only) and `SwitchTransformersModel`
/// (encoder-decoder, `Seq2SeqTrainer`) conform.
public protocol RealignableModel: AnyObject {
    /// The leaves a run with `training` updates, which a `.restart` round resets and a saved state
    /// holds: model weights, or LoRA factors (attached here, seeded, when the model has none yet).
    func realignmentTargets(_ training: Training.Parameters) throws -> [Parameter]
    /// A trainer over those leaves with fresh optimizer moments.
    func makeRealignmentTrainer(_ training: Training.Parameters) throws -> any RealignmentTrainer
}

/// What the loop drives: one optimizer step at a time on a batch of labeled examples.
public protocol RealignmentTrainer: AnyObject {
    /// Optimizer steps taken (sets the learning-rate schedule's position when a run resumes).
    var step: Int { get set }
    var optimizer: ParameterGroups { get }
    /// The leaves the optimizer updates (what a saved state holds).
    var trainableParameters: [Parameter] { get }
    /// One optimizer step on `examples`; a non-finite loss or gradient norm throws before any weight changes.
    func step(_ examples: [TrainingExample]) throws -> Trainer.StepResult
}

/// A re-alignment task over one kind of model: the pool, the oracle, the scoring of unlabeled examples
/// (class probabilities for the uncertainty strategies, embeddings for BADGE and core-set) and the
/// held-out metric. `ActiveLearningTask` is the decoder-only form (kept as a plain protocol so that
/// existing pools and tests use it as a type); `TextToTextPool` is the encoder-decoder one.
public protocol RealignmentTask<Model> {
    associatedtype Model: RealignableModel
    var poolSize: Int { get }
    var isClassification: Bool { get }
    func poolID(_ index: Int) -> Int
    /// The oracle: pool example `index` with its label revealed, as training examples.
    func labeledExamples(_ index: Int) -> [TrainingExample]
    /// Never reads a label.
    func score(model: Model, indices: [Int], predictions: Bool, embeddings: Bool) throws -> [PoolScore]
    var metric: RealignmentMetric { get }
    func evaluateWithOutcomes(model: Model) throws -> (metric: Double, outcomes: [Double]?)
    var fingerprint: String { get }
    /// The gated schedule's held-out metric on pool examples `indices` (`ActiveLearningTask`).
    func validationMetric(model: Model, indices: [Int]) throws -> (metric: TaskMetric, value: Double)
}

/// An `ActiveLearningTask` seen as a `RealignmentTask` over `MoEModel`.
struct DecoderOnlyTask: RealignmentTask {
    let base: any ActiveLearningTask

    var poolSize: Int { base.poolSize }
    var isClassification: Bool { base.isClassification }
    func poolID(_ index: Int) -> Int { base.poolID(index) }
    func labeledExamples(_ index: Int) -> [TrainingExample] { base.labeledExamples(index) }
    func score(model: MoEModel, indices: [Int], predictions: Bool, embeddings: Bool) throws -> [PoolScore] {
        try base.score(model: model, indices: indices, predictions: predictions, embeddings: embeddings)
    }
    var metric: RealignmentMetric { base.metric }
    func evaluateWithOutcomes(model: MoEModel) throws -> (metric: Double, outcomes: [Double]?) {
        try base.evaluateWithOutcomes(model: model)
    }
    var fingerprint: String { base.fingerprint }
    func validationMetric(model: MoEModel, indices: [Int]) throws -> (metric: TaskMetric, value: Double) {
        try base.validationMetric(model: model, indices: indices)
    }
}

extension Trainer: RealignmentTrainer {}

extension MoEModel: RealignableModel {
    public func realignmentTargets(_ training: Training.Parameters) throws -> [Parameter] {
        guard training.trainable == .lora else { return training.trainable.parameters(of: self) }
        if loraAdapters.isEmpty {
            attachLoRA(
                to: training.lora.targetParameters(of: self), rank: training.lora.rank, alpha: training.lora.alpha,
                seed: training.seed)
        }
        return loraAdapters.flatMap(\.parameters)
    }

    public func makeRealignmentTrainer(_ training: Training.Parameters) throws -> any RealignmentTrainer {
        try Trainer(model: self, parameters: training)
    }
}
