import Foundation
import MoEModels
import TensorCore

/// Training and fine-tuning of an MoE model (after mlx-swift-lm's `LoraTrain`): `Parameters` with
/// documented defaults, a `Progress` report after every step, and a callback that may stop the run.
///
/// Loss = cross-entropy over the target tokens + coef · load-balancing loss + coef · router z-loss.
/// AdamW (decay on matrices only), linear warm-up + cosine decay, global gradient-norm clipping,
/// seeded batches. With an output folder the run checkpoints every `saveEvery` steps and can be
/// resumed bit-exactly (`TrainingCheckpoint`).
public enum Training {
    public struct Parameters: Sendable, Codable, Equatable {
        /// Optimizer steps of the whole run.
        public var steps = 200
        /// Examples per step.
        public var batchSize = 8
        /// Longest example in tokens (LM chunk length; prompts are truncated from the left to fit).
        public var sequenceLength = 128
        /// Peak learning rate (after warm-up).
        public var learningRate: Float = 1e-3
        /// Steps of linear warm-up from lr/warmup to lr.
        public var warmupSteps = 10
        /// The cosine decays to learningRate × this at the last step.
        public var minimumLearningRateRatio: Float = 0.1
        /// AdamW decoupled weight decay, applied to matrices only (not to norms and biases).
        public var weightDecay: Float = 0.01
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var eps: Float = 1e-8
        /// Global gradient-norm clipping threshold (nil: no clipping).
        public var gradientClipNorm: Float? = 1.0
        /// Coefficient of the load-balancing loss; nil takes the config's `router_aux_loss_coef`,
        /// 0 turns the loss off.
        public var loadBalancingCoefficient: Float? = nil
        /// Coefficient of the router z-loss (0: off; ST-MoE uses 0.001).
        public var zLossCoefficient: Float = 0
        /// Entangled-expert regularisation (a defense), nil for standard training.
        public var entanglement: EntanglementRegularizer? = nil
        /// Seed of the batch order (and of fresh LoRA adapters).
        public var seed: UInt64 = 0
        public var trainable: TrainableSubset = .all
        public var lora = LoRAOptions()
        /// Write a checkpoint every this many steps (nil: only the final model).
        public var saveEvery: Int? = nil
        /// Checkpoints kept in the output folder (older ones are deleted once a newer one is complete).
        public var keepCheckpoints = 1

        public init() {}

        public func validate() throws {
            func check(_ ok: Bool, _ reason: String) throws { if !ok { throw TrainingError.invalidParameter(reason) } }
            try entanglement?.validate()
            try check(steps >= 1, "steps must be at least 1, got \(steps)")
            try check(batchSize >= 1, "batch size must be at least 1, got \(batchSize)")
            try check(sequenceLength >= 2, "sequence length must be at least 2, got \(sequenceLength)")
            try check(learningRate > 0 && learningRate.isFinite, "learning rate must be positive, got \(learningRate)")
            try check(warmupSteps >= 0, "warm-up steps must not be negative, got \(warmupSteps)")
            try check((0...1).contains(minimumLearningRateRatio), "minimum learning-rate ratio must be in [0, 1]")
            try check(weightDecay >= 0, "weight decay must not be negative")
            try check(gradientClipNorm.map { $0 > 0 } ?? true, "gradient clip norm must be positive")
            try check(
                loadBalancingCoefficient.map { $0 >= 0 } ?? true, "load-balancing coefficient must not be negative")
            try check(zLossCoefficient >= 0, "z-loss coefficient must not be negative")
            try check(lora.rank >= 1, "LoRA rank must be at least 1, got \(lora.rank)")
            try check(!lora.targets.isEmpty, "LoRA needs at least one target")
            try check(saveEvery.map { $0 >= 1 } ?? true, "save-every must be at least 1")
            try check(keepCheckpoints >= 1, "keep-checkpoints must be at least 1")
        }

        /// The settings a resumed run must share with the original (not where or how often it saves).
        func resumeKey() -> Parameters {
            var p = self
            p.saveEvery = nil
            p.keepCheckpoints = 1
            return p
        }
    }

    /// What the callback sees after each step.
    public struct Progress: Sendable, CustomStringConvertible {
        /// Steps completed (1-based after the first step).
        public var step: Int
        public var steps: Int
        /// Total loss of the step (what was differentiated).
        public var loss: Float
        /// Cross-entropy over the target tokens.
        public var languageModelLoss: Float
        public var auxiliaryLoss: Float?
        public var zLoss: Float?
        public var learningRate: Float
        /// Gradient norm before clipping.
        public var gradientNorm: Float
        /// Real tokens processed since this run (or resumption) started.
        public var tokens: Int
        public var tokensPerSecond: Double
        public var elapsed: Double
        /// Estimated seconds to the last step.
        public var remaining: Double

        public var description: String {
            var text = "step \(step)/\(steps)  loss \(format(loss, 4))"
            if auxiliaryLoss != nil || zLoss != nil {
                text += " (lm \(format(languageModelLoss, 4))"
                if let auxiliaryLoss { text += ", aux \(format(auxiliaryLoss, 3))" }
                if let zLoss { text += ", z \(format(zLoss, 3))" }
                text += ")"
            }
            text += "  lr \(String(format: "%.2e", Double(learningRate)))  |g| \(format(gradientNorm, 3))"
            text += "  \(Int(tokensPerSecond.rounded())) tok/s  ETA \(Training.clock(remaining))"
            return text
        }

        private func format(_ x: Float, _ digits: Int) -> String { String(format: "%.\(digits)f", Double(x)) }
    }

    /// The callback's answer.
    public enum ProgressDisposition: Sendable {
        case more, stop
    }

    public struct Result: Sendable, Codable, Equatable {
        /// Loss of the last step run (nil when no step ran, e.g. resuming a finished run).
        public var finalLoss: Float?
        /// Steps completed overall.
        public var steps: Int
        /// The step this run started from (0, or the checkpoint resumed).
        public var startStep: Int
        /// Real tokens processed by this run.
        public var tokens: Int
        public var seconds: Double
        public var tokensPerSecond: Double
        /// Loss of each step this run made.
        public var losses: [Float]
        /// Wall seconds of each step this run made (the step alone: not the checkpoints or the final save).
        public var stepSeconds: [Double]? = nil
        /// The callback stopped the run before `steps`.
        public var stoppedEarly: Bool
    }

    /// Where a run writes: checkpoints and the final model. `configSource` is the original
    /// config.json when continuing a Hugging Face model (its keys are kept).
    public struct Output: Sendable {
        public var directory: URL
        public var configSource: URL?
        public var baseModelName: String?

        public init(directory: URL, configSource: URL? = nil, baseModelName: String? = nil) {
            self.directory = directory
            self.configSource = configSource
            self.baseModelName = baseModelName
        }
    }

    /// Trains `model` in place on `examples`. With `output` the folder must be new or empty, unless
    /// `resume`, which restores the latest checkpoint in it (weights, adapters, optimizer, step) and
    /// continues so that the final weights equal those of an uninterrupted run.
    @discardableResult
    public static func train(
        model: MoEModel, examples: [TrainingExample], parameters: Parameters, output: Output? = nil,
        resume: Bool = false,
        progress: (Progress) -> ProgressDisposition = { _ in .more }
    ) throws -> Result {
        try parameters.validate()
        guard !examples.isEmpty else { throw TrainingError.noExamples(reason: "the example list is empty") }
        for example in examples {
            if let bad = example.ids.first(where: { $0 < 0 || $0 >= model.config.vocabSize }) {
                throw TrainingError.invalidParameter(
                    "token id \(bad) is outside the vocabulary (0..<\(model.config.vocabSize))")
            }
        }
        let fingerprint = TrainingCheckpoint.fingerprint(examples)
        var restored: (directory: URL, state: TrainerState)?
        if let output {
            restored = try TrainingCheckpoint.prepare(
                output.directory, resume: resume, parameters: parameters, fingerprint: fingerprint)
        }
        let trainer = try Trainer(model: model, parameters: parameters, restoringFrom: restored?.directory)
        let sampler = TrainingSampler(count: examples.count, batchSize: parameters.batchSize, seed: parameters.seed)
        var history = restored?.state.logHistory ?? []
        var lastCheckpoint = restored?.directory.path
        let startStep = trainer.step
        let clock = ContinuousClock.now
        var tokens = 0
        var losses: [Float] = []
        var stepSeconds: [Double] = []
        var stoppedEarly = false

        func save(final: Bool) throws {
            guard let output else { return }
            let state = TrainerState(
                globalStep: trainer.step, parameters: parameters, dataFingerprint: fingerprint,
                examples: examples.count,
                logHistory: history)
            if final {
                try TrainingCheckpoint.writeFinal(trainer: trainer, state: state, output: output)
            } else {
                lastCheckpoint = try TrainingCheckpoint.write(trainer: trainer, state: state, output: output).path
            }
        }

        while trainer.step < parameters.steps {
            let batch = sampler.indices(step: trainer.step).map { examples[$0] }
            let stepStart = ContinuousClock.now
            let result: Trainer.StepResult
            do {
                result = try trainer.step(batch)
            } catch TrainingError.nonFinite(let step, let what, _) {
                throw TrainingError.nonFinite(step: step, what: what, lastCheckpoint: lastCheckpoint)
            }
            tokens += result.tokens
            losses.append(result.loss)
            stepSeconds.append(seconds(since: stepStart))
            history.append(
                TrainerState.LogEntry(step: trainer.step, loss: result.loss, learningRate: result.learningRate))
            let elapsed = seconds(since: clock)
            let done = trainer.step - startStep
            let report = Progress(
                step: trainer.step, steps: parameters.steps, loss: result.loss,
                languageModelLoss: result.languageModelLoss,
                auxiliaryLoss: result.auxiliaryLoss, zLoss: result.zLoss, learningRate: result.learningRate,
                gradientNorm: result.gradientNorm, tokens: tokens, tokensPerSecond: Double(tokens) / max(elapsed, 1e-9),
                elapsed: elapsed, remaining: elapsed / Double(done) * Double(parameters.steps - trainer.step))
            let disposition = progress(report)
            let due = parameters.saveEvery.map { trainer.step % $0 == 0 || trainer.step == parameters.steps } ?? false
            if due || disposition == .stop && trainer.step < parameters.steps { try save(final: false) }
            if disposition == .stop && trainer.step < parameters.steps {
                stoppedEarly = true
                break
            }
        }
        if !stoppedEarly { try save(final: true) }
        let elapsed = seconds(since: clock)
        return Result(
            finalLoss: losses.last, steps: trainer.step, startStep: startStep, tokens: tokens, seconds: elapsed,
            tokensPerSecond: Double(tokens) / max(elapsed, 1e-9), losses: losses, stepSeconds: stepSeconds,
            stoppedEarly: stoppedEarly)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// Seconds as h:mm:ss or m:ss.
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = max(0, Int(seconds.rounded()))
        let (h, m, r) = (s / 3600, (s % 3600) / 60, s % 60)
        let mm = m < 10 && h > 0 ? "0\(m)" : "\(m)"
        let ss = r < 10 ? "0\(r)" : "\(r)"
        return h > 0 ? "\(h):\(mm):\(ss)" : "\(mm):\(ss)"
    }
}
