import Foundation
import MoEModels
import TensorCore

/// How the weights are fine-tuned from round to round.
public enum FineTuningSchedule: String, Sendable, Codable, CaseIterable {
    /// Every round starts again from the pruned weights with fresh AdamW moments and trains on
    /// everything labeled so far, the learning rate decaying by a cosine from its peak to 10% over
    /// the round's steps. Round r's model is then a function of its labels alone, never of how many
    /// rounds came before, so a later round cannot lose accuracy by training the first labels longer
    /// (what the continued schedule did: 0.706 → 0.655 after the first round in issue 22).
    /// Measured against `continued` on the demo's standard model pruned to top-2 (built-in sentiment,
    /// 96 labels, 10 steps per round, 3 seeds × random and entropy) it under-fits: 10 steps of 8
    /// examples see fewer examples than are labeled, final accuracy 0.48 against 0.59; the steps
    /// per round would have to grow with the labels. Hence not the default.
    case restart
    /// One trainer for the whole run: weights and moments carry over, the learning rate is constant
    /// (the schedule before issue 22).
    case continued
    /// `continued`, with a held-out gate, the default. The rule: a round's update is kept only if the
    /// task's metric on the held-out split (`validationSize` pool examples, labeled once, the same for
    /// every strategy, never selected or trained on) is at least as good as that of the model kept
    /// before it, the pruned model included; otherwise the weights, AdamW moments and step count go back
    /// to the kept model, and the round's labels stay labeled, so the next round trains on them too.
    /// So the held-out metric never falls as labels grow, by construction, and a curve point after a
    /// rejected round repeats the kept model's evaluation. Why: with `continued`, more labels lowered
    /// accuracy (issue 22: 0.683 → 0.554 after 32 labels on one seed); with `restart`, rounds under-fit
    /// unless their steps grow with the labels. The gate needs no extra training and costs one
    /// evaluation of the held-out split per round. Its labels are a cost the budget does not count; the
    /// report states them.
    case gated
}

extension ActiveLearningLoop {
    public struct Parameters: Sendable, Codable, Equatable {
        public var strategy: QueryStrategy = .entropy
        /// B: labels in all, the initial seed set included.
        public var budget = 256
        /// b: labels per round after the seed set.
        public var batchSize = 32
        /// n0: random labels before the first query (0: the strategy picks from the start).
        public var initialSize = 32
        /// Optimizer steps per round, on everything labeled so far.
        public var stepsPerRound = 20
        /// Examples per optimizer step.
        public var trainingBatchSize = 8
        /// Peak AdamW learning rate (constant with the continued schedule). 1e-4 suits a pretrained
        /// model; a tiny model trained from scratch takes about 1e-3.
        public var learningRate: Float = 1e-4
        /// AdamW decoupled weight decay (matrices only).
        public var weightDecay: Float = 0.01
        /// Global gradient-norm clipping (nil: none).
        public var gradientClipNorm: Float? = 1.0
        /// Load-balancing loss coefficient (nil: the config's `router_aux_loss_coef`; 0: off).
        public var loadBalancingCoefficient: Float? = nil
        /// What is fine-tuned (the paper: the surviving experts).
        public var trainable: TrainableSubset = .experts
        public var lora = LoRAOptions()
        /// Score only this many unlabeled examples per round, a seeded random subset (nil: the
        /// whole pool). Bounds the cost of a round on a large pool.
        public var candidatesPerRound: Int? = nil
        /// Seed of the seed set, random picks, candidate subsets, batch order and LoRA init.
        public var seed: UInt64 = 0
        /// Also save the state every this many steps within a round (nil: after rounds only). Not with
        /// the gated schedule, whose round must run whole: its start is what a rejected round goes back to.
        public var saveEvery: Int? = nil
        /// How weights carry over between rounds. nil (a state written before the field existed)
        /// means `.continued`, which is what such a run did.
        public var schedule: FineTuningSchedule? = .gated
        /// Pool examples held out for the gated schedule's rule (nil: `defaultValidationSize`);
        /// ignored by the other schedules, which hold nothing out.
        public var validationSize: Int? = nil

        /// The held-out split when none is given: 64 examples put the accuracy of a 0.7-accurate
        /// classifier within ±0.11 (95%), enough to catch the drops of 0.05–0.13 issue 22 saw, at
        /// the cost of one 64-example evaluation per round.
        public static let defaultValidationSize = 64

        /// The schedule in force.
        public var fineTuning: FineTuningSchedule { schedule ?? .continued }

        /// Pool examples held out from selection: the gate's split, 0 for the other schedules.
        public var heldOutCount: Int { fineTuning == .gated ? validationSize ?? Self.defaultValidationSize : 0 }

        public init() {}

        enum CodingKeys: String, CodingKey {
            case strategy, budget, seed, trainable, lora, schedule
            case batchSize = "batch_size"
            case initialSize = "initial_size"
            case stepsPerRound = "steps_per_round"
            case trainingBatchSize = "training_batch_size"
            case learningRate = "learning_rate"
            case weightDecay = "weight_decay"
            case gradientClipNorm = "gradient_clip_norm"
            case loadBalancingCoefficient = "load_balancing_coefficient"
            case candidatesPerRound = "candidates_per_round"
            case saveEvery = "save_every"
            case validationSize = "validation_size"
        }

        public func validate() throws {
            func check(_ ok: Bool, _ reason: String) throws {
                if !ok { throw RealignmentError.invalidParameter(reason) }
            }
            try check(budget >= 1, "budget must be at least 1, got \(budget)")
            try check(batchSize >= 1, "batch must be at least 1, got \(batchSize)")
            try check(initialSize >= 0, "initial seed set must not be negative, got \(initialSize)")
            try check(stepsPerRound >= 1, "steps per round must be at least 1, got \(stepsPerRound)")
            try check(trainingBatchSize >= 1, "training batch must be at least 1, got \(trainingBatchSize)")
            try check(candidatesPerRound.map { $0 >= 1 } ?? true, "candidates per round must be at least 1")
            try check(saveEvery.map { $0 >= 1 } ?? true, "save-every must be at least 1")
            try check(
                heldOutCount >= 1 || fineTuning != .gated, "the gated schedule needs a validation split of 1 or more")
            try check(
                saveEvery == nil || fineTuning != .gated,
                "saving within a round needs the continued or restart schedule (a gated round runs whole)")
            try training.validate()
        }

        /// Refuses a pool that cannot hold the budget and the gated schedule's held-out split (the loop
        /// checks it, and `audit` before any stage).
        public func checkPool(size: Int) throws {
            guard size >= budget + heldOutCount else {
                throw RealignmentError.poolTooSmall(pool: size, budget: budget, heldOut: heldOutCount)
            }
        }

        /// Labels of each round: n0 (capped at B), then b until B is spent.
        public var roundSizes: [Int] {
            var sizes: [Int] = []
            var total = 0
            if initialSize > 0 {
                sizes.append(min(initialSize, budget))
                total = sizes[0]
            }
            while total < budget {
                sizes.append(min(batchSize, budget - total))
                total += sizes.last!
            }
            return sizes
        }

        /// The trainer's settings. Restart: one round's steps, cosine decay to 10% of the peak.
        /// Continued and gated: the whole run's steps at a constant learning rate (no warm-up, no decay).
        public var training: Training.Parameters {
            var p = Training.Parameters()
            p.steps = fineTuning == .restart ? stepsPerRound : max(1, roundSizes.count * stepsPerRound)
            p.batchSize = trainingBatchSize
            p.learningRate = learningRate
            p.warmupSteps = 0
            p.minimumLearningRateRatio = fineTuning == .restart ? 0.1 : 1
            p.weightDecay = weightDecay
            p.gradientClipNorm = gradientClipNorm
            p.loadBalancingCoefficient = loadBalancingCoefficient
            p.seed = seed
            p.trainable = trainable
            p.lora = lora
            return p
        }

        /// The settings a resumed run must share (not how often it saves).
        var resumeKey: Parameters {
            var p = self
            p.saveEvery = nil
            return p
        }
    }
}
