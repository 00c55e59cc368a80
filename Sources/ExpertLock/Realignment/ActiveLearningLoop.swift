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
/// Fine-tuning follows `Parameters.schedule`: `.continued` keeps one trainer's weights and moments at
/// a constant rate for the whole run; the default, `.gated`, does the same but keeps a round's update
/// only when the metric on a held-out split of the pool does not get worse, and otherwise goes back to
/// the kept weights (the rule: `FineTuningSchedule.gated`); `.restart` starts every round again from
/// the pruned weights with fresh AdamW moments and a cosine-decayed rate over the round's steps
/// (why it is not the default: `FineTuningSchedule.restart`).
/// Every evaluation also keeps the per-example outcomes a task reports (correctness for
/// classification), which the report's bootstrap intervals resample. Round r trains on batches
/// `TrainingSampler(seed: f(seed, r)).indices(step: s)` of the labeled examples, so the data order
/// is a pure function of (seed, round, step).
///
/// With a state directory the run saves its state after every round (and every `saveEvery`
/// steps within a round); `resume` continues from the latest save so that the labeled set, the
/// curve and the weights equal an uninterrupted run's.
public enum ActiveLearningLoop {
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
        public var metric: TaskMetric
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
        /// Labels of the random seed set every strategy shares in round 0 (0: none; nil: a result
        /// written before the field existed).
        public var seedSetSize: Int?
        /// The data file's ids of the gated schedule's held-out split, labeled on top of the budget
        /// and never selected (nil: another schedule).
        public var validationIDs: [Int]?

        public init(
            strategy: QueryStrategy, seed: UInt64, metric: TaskMetric, curve: [LearningCurvePoint],
            labeled: [Int], labeledIDs: [Int], completed: Bool, startRound: Int, seconds: Double,
            seedSetSize: Int? = nil, validationIDs: [Int]? = nil
        ) {
            self.strategy = strategy
            self.seed = seed
            self.metric = metric
            self.curve = curve
            self.labeled = labeled
            self.labeledIDs = labeledIDs
            self.completed = completed
            self.startRound = startRound
            self.seconds = seconds
            self.seedSetSize = seedSetSize
            self.validationIDs = validationIDs
        }

        /// The metric of the pruned model, before re-alignment.
        public var afterPruning: Double { curve.first?.metric ?? .nan }
        /// The metric after the last round.
        public var final: Double { curve.last?.metric ?? .nan }

        enum CodingKeys: String, CodingKey {
            case strategy, seed, metric, curve, labeled, completed, seconds
            case labeledIDs = "labeled_ids"
            case startRound = "start_round"
            case seedSetSize = "seed_set_size"
            case validationIDs = "validation_ids"
        }
    }

    /// Re-aligns `model` in place on `task`. With `stateDirectory` the run saves its state there;
    /// that folder must be new or empty unless `resume`, which continues from its latest state.
    public static func run(
        model: MoEModel, task: ActiveLearningTask, parameters: Parameters, stateDirectory: URL? = nil,
        resume: Bool = false, progress: (Progress) -> Training.ProgressDisposition = { _ in .more }
    ) throws -> Result {
        try run(
            model: model, task: DecoderOnlyTask(base: task), parameters: parameters, stateDirectory: stateDirectory,
            resume: resume, progress: progress)
    }

    /// The same loop over any model the task scores and the model can fine-tune (an encoder-decoder's
    /// `TextToTextPool`, say).
    public static func run<Task: RealignmentTask>(
        model: Task.Model, task: Task, parameters: Parameters, stateDirectory: URL? = nil,
        resume: Bool = false, progress: (Progress) -> Training.ProgressDisposition = { _ in .more }
    ) throws -> Result {
        try parameters.validate()
        guard parameters.strategy.applies(toClassification: task.isClassification) else {
            throw RealignmentError.strategyNotApplicable(strategy: parameters.strategy.rawValue)
        }
        try parameters.checkPool(size: task.poolSize)
        let gated = parameters.fineTuning == .gated
        let heldOut = heldOutSplit(poolSize: task.poolSize, parameters: parameters)
        let sizes = parameters.roundSizes
        let training = parameters.training
        var restored: (state: ActiveLearningState, url: URL)?
        if let stateDirectory {
            restored = try ActiveLearningCheckpoint.prepare(
                stateDirectory, resume: resume, parameters: parameters, fingerprint: task.fingerprint,
                poolSize: task.poolSize)
        }
        // The pruned weights (LoRA: the freshly attached adapters), to restart from every round.
        let targets = try model.realignmentTargets(training)
        let restartFrom: [(Parameter, Tensor)] =
            parameters.fineTuning == .restart ? try targets.map { ($0, try $0.tensor()) } : []
        if let restored {
            try ActiveLearningCheckpoint.restoreWeights(from: restored.url, into: targets)
        }
        var trainer = try model.makeRealignmentTrainer(training)
        if let restored {
            try ActiveLearningCheckpoint.restoreOptimizer(from: restored.url, into: trainer.optimizer)
            if parameters.fineTuning == .restart { trainer.step = restored.state.stepInRound }
        }

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
                startRound: startRound, seconds: clock.elapsed,
                seedSetSize: parameters.initialSize > 0 ? sizes[0] : 0,
                validationIDs: gated ? heldOut.map(task.poolID) : nil)
        }
        var heldOutMetric = task.metric
        func validation() throws -> Double? {
            guard gated else { return nil }
            let measured = try clock.measure(.evaluation) {
                try withoutGradients { try task.validationMetric(model: model, indices: heldOut) }
            }
            heldOutMetric = measured.metric
            return measured.value
        }
        func evaluate(labeled: Int, validation: Double?) throws {
            let (metric, outcomes) = try clock.measure(.evaluation) {
                try withoutGradients { try task.evaluateWithOutcomes(model: model) }
            }
            state.curve.append(
                LearningCurvePoint(
                    labeled: labeled, metric: metric, outcomes: outcomes, validation: validation,
                    kept: gated ? true : nil))
            lastMetric = metric
        }
        /// The gate: the candidate is kept when its held-out metric is at least as good as the kept model's.
        func keeps(_ candidate: Double) -> Bool {
            guard let kept = state.curve.last(where: { $0.kept == true })?.validation else { return true }
            return heldOutMetric.higherIsBetter ? candidate >= kept : candidate <= kept
        }

        if state.curve.isEmpty {
            try evaluate(labeled: 0, validation: try validation())
            if report(.evaluated) == .stop { return result(completed: false) }
        }
        // The kept model a gated round goes back to: weights, AdamW moments and step count.
        var keptModel: (weights: [Tensor], moments: [String: Tensor], step: Int)?
        while state.round < sizes.count {
            let round = state.round
            if gated {
                keptModel = (try targets.map { try $0.tensor() }, trainer.optimizer.exportState(), trainer.step)
            }
            if state.stepInRound == 0 {
                let picks = try clock.measure(.scoring) {
                    try select(
                        round: round, count: sizes[round], labeled: state.labeled, model: model, task: task,
                        parameters: parameters, heldOut: heldOut)
                }
                precondition(
                    picks.count == sizes[round]
                        && Set(picks + state.labeled).count == state.labeled.count + picks.count,
                    "a selection must be new, distinct examples")
                state.labeled += picks
                trainingSet += picks.flatMap(task.labeledExamples)
                if parameters.fineTuning == .restart {
                    for (p, value) in restartFrom { p.assign(value) }
                    trainer = try model.makeRealignmentTrainer(training)
                }
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
                    // A gated round is saved only whole: a resumed run repeats it from its start.
                    if midRound, !gated,
                        disposition == .stop || parameters.saveEvery.map({ state.stepInRound % $0 == 0 }) == true
                    {
                        try save()
                    }
                    if midRound && disposition == .stop { return result(completed: false) }
                }
            }
            let candidate = try validation()
            if let candidate, let kept = keptModel, !keeps(candidate) {
                // `assign` gives each leaf a new variable, so the trainer is built again over them.
                for (p, value) in zip(targets, kept.weights) { p.assign(value) }
                trainer = try model.makeRealignmentTrainer(training)
                try trainer.optimizer.importState(kept.moments)
                trainer.step = kept.step
                var point = state.curve[state.curve.count - 1]
                (point.labeled, point.validation, point.kept) = (state.labeled.count, candidate, false)
                state.curve.append(point)
            } else {
                try evaluate(labeled: state.labeled.count, validation: candidate)
            }
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
    static func select<Task: RealignmentTask>(
        round: Int, count: Int, labeled: [Int], model: Task.Model, task: Task, parameters: Parameters,
        heldOut: [Int] = []
    ) throws -> [Int] {
        let taken = Set(labeled + heldOut)
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
            // Scored on the trainable model itself: the scope records no graph and takes the
            // frozen-weight kernels.
            try withoutGradients {
                scores = try task.score(
                    model: model, indices: candidates, predictions: strategy.needsPredictions,
                    embeddings: strategy.needsEmbeddings)
                if strategy == .coreset && !labeled.isEmpty {
                    labeledEmbeddings = try task.score(
                        model: model, indices: labeled, predictions: false, embeddings: true
                    ).map { $0.embedding ?? [] }
                }
            }
        }
        return try strategy.select(
            count: count, candidates: candidates, scores: scores, labeledEmbeddings: labeledEmbeddings,
            seed: parameters.seed, round: round)
    }

    /// The gated schedule's held-out split: `heldOutCount` pool indices drawn from the seed alone, so
    /// every strategy of a seed is judged on the same examples (empty for the other schedules).
    static func heldOutSplit(poolSize: Int, parameters: Parameters) -> [Int] {
        guard parameters.heldOutCount > 0 else { return [] }
        return QueryStrategy.randomSample(
            Array(0..<poolSize), count: parameters.heldOutCount, seed: parameters.seed, round: 0, purpose: 5
        ).sorted()
    }
}
