import Foundation
import MoEModels
import TensorCore

/// Pool-based active learning to re-align a pruned model (the paper's section 3.2): score the
/// unlabeled pool with the current model, label the top b by the strategy, fine-tune the chosen
/// weights for a fixed number of steps on everything labeled so far, evaluate, and repeat until
/// the budget B is spent. Shaped like `Training`: `Parameters` with documented defaults, a
/// `Progress` report, a callback that may stop the run.
///
/// Round 0 labels a random seed set of n0 examples (or, with n0 = 0, b examples by the strategy
/// on the pruned model); each later round labels b (the last one what is left of B), so exactly B
/// distinct pool examples are labeled. The learning curve has a point before any label (the
/// pruned model) and one after each round.
///
/// One `Trainer` serves the whole run: weights and AdamW moments carry over from round to round
/// (continued fine-tuning, not a restart per round). The learning rate is constant: rounds are
/// short, and a rate that depends on no step counter keeps resumption to weights and moments.
/// Round r trains on batches `TrainingSampler(seed: f(seed, r)).indices(step: s)` of the labeled
/// examples, so the data order is a pure function of (seed, round, step).
///
/// With a state directory the run saves its state after every round (and every `saveEvery`
/// steps within a round); `resume` continues from the latest save so that the labeled set, the
/// curve and the weights equal an uninterrupted run's.
public enum ActiveLearningLoop {
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
        /// Constant AdamW learning rate. 1e-4 suits a pretrained model; a tiny model trained from
        /// scratch takes about 1e-3.
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
        /// Also save the state every this many steps within a round (nil: after rounds only).
        public var saveEvery: Int? = nil

        public init() {}

        enum CodingKeys: String, CodingKey {
            case strategy, budget, seed, trainable, lora
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
            try training.validate()
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

        /// The trainer's settings: constant learning rate (no warm-up, no decay).
        public var training: Training.Parameters {
            var p = Training.Parameters()
            p.steps = max(1, roundSizes.count * stepsPerRound)
            p.batchSize = trainingBatchSize
            p.learningRate = learningRate
            p.warmupSteps = 0
            p.minimumLearningRateRatio = 1
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

    /// What the callback sees: after the first evaluation, after each training step, and at the end
    /// of each round.
    public struct Progress: Sendable, CustomStringConvertible {
        public enum Phase: String, Sendable {
            case evaluated, trained, roundComplete = "round complete"
        }

        public var phase: Phase
        /// Round in progress, or just completed for `.roundComplete` (0-based).
        public var round: Int
        public var rounds: Int
        /// Labels spent so far (the round in progress included).
        public var labeled: Int
        public var budget: Int
        /// Steps of this round done.
        public var step: Int
        public var steps: Int
        public var loss: Float?
        /// Metric of the last evaluation.
        public var metric: Double?
        public var metricName: String
        public var elapsed: Double
        /// Estimated seconds to the end of the run.
        public var remaining: Double

        public var description: String {
            var text: String
            switch phase {
            case .evaluated:
                text = "before re-alignment"
            case .trained:
                text = "round \(round + 1)/\(rounds)  labeled \(labeled)/\(budget)  step \(step)/\(steps)"
                if let loss { text += "  loss \(String(format: "%.4f", Double(loss)))" }
            case .roundComplete:
                text = "round \(round + 1)/\(rounds) done  labeled \(labeled)/\(budget)"
            }
            if phase != .trained, let metric { text += "  \(metricName) \(String(format: "%.4f", metric))" }
            return text + "  elapsed \(Training.clock(elapsed))  ETA \(Training.clock(remaining))"
        }
    }

    public struct Result: Sendable, Codable, Equatable {
        public var strategy: QueryStrategy
        public var seed: UInt64
        public var metric: RealignmentMetric
        /// Metric before any label (the pruned model), then after each round.
        public var curve: [LearningCurvePoint]
        /// Pool indices in the order they were labeled.
        public var labeled: [Int]
        /// The data file's ids of `labeled`.
        public var labeledIDs: [Int]
        /// Every round ran (false when the callback stopped the run).
        public var completed: Bool
        /// The round this invocation started from (0 for a fresh run).
        public var startRound: Int
        public var seconds: Double

        /// The metric of the pruned model, before re-alignment.
        public var afterPruning: Double { curve.first?.metric ?? .nan }
        /// The metric after the last round.
        public var final: Double { curve.last?.metric ?? .nan }

        enum CodingKeys: String, CodingKey {
            case strategy, seed, metric, curve, labeled, completed, seconds
            case labeledIDs = "labeled_ids"
            case startRound = "start_round"
        }
    }

    /// Re-aligns `model` in place on `task`. With `stateDirectory` the run saves its state there;
    /// that folder must be new or empty unless `resume`, which continues from its latest state.
    public static func run(
        model: MoEModel, task: ActiveLearningTask, parameters: Parameters, stateDirectory: URL? = nil,
        resume: Bool = false, progress: (Progress) -> Training.ProgressDisposition = { _ in .more }
    ) throws -> Result {
        try parameters.validate()
        guard parameters.strategy.applies(toClassification: task.isClassification) else {
            throw RealignmentError.strategyNotApplicable(strategy: parameters.strategy.rawValue)
        }
        guard task.poolSize >= parameters.budget else {
            throw RealignmentError.poolTooSmall(pool: task.poolSize, budget: parameters.budget)
        }
        let sizes = parameters.roundSizes
        let training = parameters.training
        var restored: (state: ActiveLearningState, url: URL)?
        if let stateDirectory {
            restored = try ActiveLearningCheckpoint.prepare(
                stateDirectory, resume: resume, parameters: parameters, fingerprint: task.fingerprint,
                poolSize: task.poolSize)
        }
        if let restored {
            try ActiveLearningCheckpoint.restoreWeights(from: restored.url, into: model, training: training)
        }
        let trainer = try Trainer(model: model, parameters: training)
        if let restored { try ActiveLearningCheckpoint.restoreOptimizer(from: restored.url, into: trainer.optimizer) }

        var state =
            restored?.state
            ?? ActiveLearningState(
                parameters: parameters, fingerprint: task.fingerprint, metric: task.metric, round: 0, stepInRound: 0,
                labeled: [], curve: [], finished: false, sequence: 0)
        state.parameters = parameters
        let startRound = state.round
        var clock = RunClock(rounds: sizes.count, stepsPerRound: parameters.stepsPerRound)
        var trainingSet = state.labeled.flatMap(task.labeledExamples)
        var lastMetric = state.curve.last?.metric

        func report(_ phase: Progress.Phase, loss: Float? = nil) -> Training.ProgressDisposition {
            progress(
                Progress(
                    phase: phase, round: phase == .roundComplete ? state.round - 1 : state.round, rounds: sizes.count,
                    labeled: state.labeled.count,
                    budget: parameters.budget, step: state.stepInRound, steps: parameters.stepsPerRound, loss: loss,
                    metric: lastMetric, metricName: task.metric.name, elapsed: clock.elapsed,
                    remaining: clock.remaining(round: state.round, step: state.stepInRound)))
        }
        func save() throws {
            guard let stateDirectory else { return }
            state.sequence += 1
            try ActiveLearningCheckpoint.write(state, trainer: trainer, to: stateDirectory)
        }
        func result(completed: Bool) -> Result {
            Result(
                strategy: parameters.strategy, seed: parameters.seed, metric: task.metric, curve: state.curve,
                labeled: state.labeled, labeledIDs: state.labeled.map(task.poolID), completed: completed,
                startRound: startRound, seconds: clock.elapsed)
        }

        if state.curve.isEmpty {
            let metric = try clock.measure(.evaluation) { try task.evaluate(model: try model.inferenceView()) }
            state.curve.append(LearningCurvePoint(labeled: 0, metric: metric))
            lastMetric = metric
            if report(.evaluated) == .stop { return result(completed: false) }
        }
        while state.round < sizes.count {
            let round = state.round
            if state.stepInRound == 0 {
                let picks = try clock.measure(.scoring) {
                    try select(
                        round: round, count: sizes[round], labeled: state.labeled, model: model, task: task,
                        parameters: parameters)
                }
                precondition(
                    picks.count == sizes[round]
                        && Set(picks + state.labeled).count == state.labeled.count + picks.count,
                    "a selection must be new, distinct examples")
                state.labeled += picks
                trainingSet += picks.flatMap(task.labeledExamples)
            }
            if !trainingSet.isEmpty {
                let sampler = TrainingSampler(
                    count: trainingSet.count, batchSize: parameters.trainingBatchSize,
                    seed: QueryStrategy.derivedSeed(parameters.seed, purpose: 4, round: round))
                while state.stepInRound < parameters.stepsPerRound {
                    let batch = sampler.indices(step: state.stepInRound).map { trainingSet[$0] }
                    let step = try clock.measure(.training) { try trainer.step(batch) }
                    state.stepInRound += 1
                    let disposition = report(.trained, loss: step.loss)
                    let midRound = state.stepInRound < parameters.stepsPerRound
                    if midRound,
                        disposition == .stop || parameters.saveEvery.map({ state.stepInRound % $0 == 0 }) == true
                    {
                        try save()
                    }
                    if midRound && disposition == .stop { return result(completed: false) }
                }
            }
            let metric = try clock.measure(.evaluation) { try task.evaluate(model: try model.inferenceView()) }
            state.curve.append(LearningCurvePoint(labeled: state.labeled.count, metric: metric))
            lastMetric = metric
            state.round += 1
            state.stepInRound = 0
            state.finished = state.round == sizes.count
            try save()
            if report(.roundComplete) == .stop && !state.finished { return result(completed: false) }
        }
        return result(completed: true)
    }

    /// The pool indices labeled in `round`: the random seed set in round 0 (n0 > 0), else the
    /// strategy's choice among the unlabeled (or a seeded subset of them).
    static func select(
        round: Int, count: Int, labeled: [Int], model: MoEModel, task: ActiveLearningTask, parameters: Parameters
    ) throws -> [Int] {
        let taken = Set(labeled)
        let unlabeled = (0..<task.poolSize).filter { !taken.contains($0) }
        if round == 0 && parameters.initialSize > 0 {
            return QueryStrategy.randomSample(unlabeled, count: count, seed: parameters.seed, round: 0, purpose: 0)
        }
        var candidates = unlabeled
        if let limit = parameters.candidatesPerRound, limit < candidates.count {
            candidates = QueryStrategy.randomSample(
                candidates, count: max(limit, count), seed: parameters.seed, round: round, purpose: 2
            ).sorted()
        }
        let strategy = parameters.strategy
        var scores: [PoolScore] = []
        var labeledEmbeddings: [[Float]] = []
        if strategy != .random {
            let view = try model.inferenceView()
            scores = try task.score(
                model: view, indices: candidates, predictions: strategy.needsPredictions,
                embeddings: strategy.needsEmbeddings)
            if strategy == .coreset && !labeled.isEmpty {
                labeledEmbeddings = try task.score(model: view, indices: labeled, predictions: false, embeddings: true)
                    .map { $0.embedding ?? [] }
            }
        }
        return try strategy.select(
            count: count, candidates: candidates, scores: scores, labeledEmbeddings: labeledEmbeddings,
            seed: parameters.seed, round: round)
    }
}
