import Foundation
import MoEModels
import TensorCore

/// `expertlock audit` for a classification task: attribution with every criterion → prunability
/// sweep (ranked and ≥ 10 random subsets drawn for this model and task) → prune to top-k by the
/// attacker's best criterion → re-align random vs uncertainty → provenance of the derivative. Every
/// stage's result is saved in `<out>/stages/` as it completes (re-alignment runs also within
/// rounds), so a killed audit continues where it stopped; every figure carries an interval.
public enum AuditPipeline {
    public struct Parameters: Sendable, Codable, Equatable {
        /// Experts kept per layer in the sweep (those above the smallest layer are skipped).
        public var keeps = [6, 4, 2, 1]
        public var criteria: [AttributionCriterion] = [.soft, .frequency, .reap, .ablation]
        /// Adds the greedy loss-based subset search per layer (`greedy`) to the attackers.
        public var greedySearch = true
        /// Pool examples whose mean gold-label NLL the greedy search minimises.
        public var greedyExamples = 128
        /// Pool examples (after the attribution ones' start: the first N) the calibration control
        /// re-fits the decision threshold on.
        public var calibrationExamples = 256
        /// Random subsets per k (drawn per model and task).
        public var randomSubsets = 10
        /// k of the attacker's pruned model (0: a quarter of the experts, at least 1).
        public var pruneK = 0
        /// Pool examples (prompt + gold label word) the attacker attributes on.
        public var attributionExamples = 512
        public var strategies: [QueryStrategy] = [.random, .entropy]
        public var realignSeeds = 3
        /// Re-alignment settings (strategy and seed are set per run); candidates: the whole pool.
        public var realign = ActiveLearningLoop.Parameters()
        public var targetFraction = 0.95
        public var maxLength = 128
        public var batchSize = 16
        public var resamples = 1000
        public var level = 0.95

        public init() {
            realign.budget = 96
            realign.batchSize = 16
            realign.initialSize = 16
            realign.stepsPerRound = 10
            realign.trainingBatchSize = 8
            realign.learningRate = 1e-3
        }
    }

    /// Everything the audit measured.
    public struct Results: Sendable, Codable {
        public var model: String
        public var task: String
        public var evaluationExamples: Int
        public var poolExamples: Int
        public var parameters: Parameters
        public var prunability: AuditPrunability
        public var plan: PruningPlan
        public var pruneCriterion: String
        /// The full and the pruned model on the evaluation set, example by example (with class scores).
        public var full: ClassificationOutcomes?
        public var pruned: ClassificationOutcomes
        /// The greedy search's elimination order per layer (last = kept alone), when run.
        public var greedyOrder: [[Int]]?
        /// AUROC before/after pruning and accuracy after re-fitting only the threshold.
        public var calibration: CalibrationControl?
        public var realignment: RealignmentReport
        public var recovery: [AuditFinding]
        public var provenance: Provenance.Report
        public var findings: [AuditFinding]
        public var seconds: [String: Double]
        /// `audit --defense`: the audited model (first) and each defended model against their best attacker.
        public var defenses: [AuditDefenseRow]?

        enum CodingKeys: String, CodingKey {
            case model, task, parameters, prunability, plan, full, pruned, realignment, recovery, provenance, findings,
                seconds, defenses
            case evaluationExamples = "evaluation_examples"
            case poolExamples = "pool_examples"
            case pruneCriterion = "prune_criterion"
            case greedyOrder = "greedy_order"
        }
    }

    /// The inputs of one audit.
    public struct Inputs {
        public var modelDirectory: URL
        public var tokenizer: Tokenizer
        public var task: ClassificationTask
        public var template: PromptTemplate
        public var pool: [ClassificationExample]
        public var evaluation: [ClassificationExample]
        /// Identifies the data files and settings; a resumed audit must match it.
        public var fingerprint: String

        public init(
            modelDirectory: URL, tokenizer: Tokenizer, task: ClassificationTask, template: PromptTemplate? = nil,
            pool: [ClassificationExample], evaluation: [ClassificationExample], fingerprint: String
        ) {
            self.modelDirectory = modelDirectory
            self.tokenizer = tokenizer
            self.task = task
            self.template = template ?? PromptTemplate.defaults(for: task)
            self.pool = pool
            self.evaluation = evaluation
            self.fingerprint = fingerprint
        }
    }

    /// Runs (or continues, with `resume`) the audit in `output`. `progress` gets the stage and the
    /// fraction of the whole audit done (by expected work, for an ETA).
    public static func run(
        _ inputs: Inputs, parameters: Parameters, output: URL, resume: Bool,
        progress: (String, Double) -> Void = { _, _ in }
    ) throws -> Results {
        // Checked before any stage runs (or its folder is made), not when re-alignment reaches it an hour later.
        try parameters.realign.validate()
        try parameters.realign.checkPool(size: inputs.pool.count)
        let stages = try AuditStages(
            directory: output.appendingPathComponent("stages"), resume: resume,
            fingerprint: inputs.fingerprint + "|" + String(describing: parameters))
        let model = try ModelLoader.load(directory: inputs.modelDirectory, residency: .resident)
        let counts = model.moeBlocks.map(\.expertCount)
        guard let fewest = counts.min(), fewest >= 2 else {
            throw RealignmentError.invalidParameter("the model has no sparse layer with two or more experts")
        }
        let keeps = parameters.keeps.filter { $0 >= 1 && $0 < fewest }
        let pruneK = parameters.pruneK > 0 ? min(parameters.pruneK, fewest) : max(1, fewest / 4)
        var seconds: [String: Double] = stages.load("seconds") ?? [:]
        func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            let start = Date()
            defer {
                seconds[name, default: 0] += Date().timeIntervalSince(start)
                try? stages.save("seconds", seconds)
            }
            return try body()
        }
        // The task (attribution sequences, the metric, the pool) is the library's one task type.
        func task(_ examples: [ClassificationExample], file: String) throws -> EvaluationTask {
            try EvaluationTask(
                kind: .classify, examples: .classification(inputs.task, examples), tokenizer: inputs.tokenizer,
                file: file, context: parameters.maxLength, batchSize: parameters.batchSize, template: inputs.template)
        }
        let evaluationTask = try task(inputs.evaluation, file: "eval-data")
        let evaluateOn = { (m: MoEModel, examples: [ClassificationExample], keepScores: Bool) in
            ClassificationOutcomes(
                try evaluationTask.classify(m, examples: examples), examples: examples, keepScores: keepScores)
        }
        let evaluate = { (m: MoEModel) throws -> ClassificationOutcomes in
            try evaluateOn(m, inputs.evaluation, false)
        }
        let labeledPool = inputs.pool.filter { $0.label != nil }
        let greedyExamples = Array(labeledPool.prefix(parameters.greedySearch ? parameters.greedyExamples : 0))
        // ETA in units of one pass over the evaluation set: a sweep point is one; attribution passes
        // over its examples (once more per expert for ablation); a re-alignment run evaluates once per
        // round, and an uncertainty strategy also scores its candidates every round after the seed
        // set, which on a whole pool costs far more than the evaluations.
        let attackers = parameters.criteria.count + (parameters.greedySearch ? 1 : 0)
        let sweepPoints = keeps.count * (attackers + parameters.randomSubsets) + 1
        let evaluationSize = Double(max(1, inputs.evaluation.count))
        let attributionCost =
            Double(min(parameters.attributionExamples, inputs.pool.count)) / evaluationSize
            * Double(1 + (parameters.criteria.contains(.ablation) ? counts.reduce(0, +) : 0))
            + Double(greedyExamples.count) / evaluationSize * Double(counts.reduce(0) { $0 + $1 * ($1 + 1) / 2 - 1 })
        let rounds = parameters.realign.roundSizes.count
        let scoringRounds = rounds - (parameters.realign.initialSize > 0 ? 1 : 0)
        let candidates = Double(min(parameters.realign.candidatesPerRound ?? inputs.pool.count, inputs.pool.count))
        func runCost(_ strategy: QueryStrategy) -> Double {
            Double(rounds + 1) + (strategy == .random ? 0 : Double(scoringRounds) * candidates / evaluationSize)
        }
        let runsCost = parameters.strategies.reduce(0) { $0 + runCost($1) } * Double(parameters.realignSeeds)
        let total =
            attributionCost + Double(sweepPoints + 1)
            + Double(min(parameters.calibrationExamples, inputs.pool.count)) / evaluationSize + runsCost
        var done = 0.0
        func advance(_ stage: String, by amount: Double) {
            done += amount
            progress(stage, min(1, done / total))
        }

        // 1. Attribution with every criterion (one routing pass; ablation measured by masking).
        let attribution: ExpertAttribution = try stages.cached("attribution") {
            try timed("attribution") {
                let sequences = try task(Array(inputs.pool.prefix(parameters.attributionExamples)), file: "pool")
                    .sequences()
                let batches = CorpusBatches.batches(sequences, batchSize: parameters.batchSize)
                var a = try Attribution.run(model: model, modelPath: inputs.modelDirectory.path, batches: batches)
                if parameters.criteria.contains(.ablation) {
                    a.ablation = try AblationImportance.measure(model: model, batches: batches)
                }
                return a
            }
        }
        // The greedy search: the attacker who measures the task loss of each candidate subset.
        var greedyOrder: [[Int]]? = nil
        if !greedyExamples.isEmpty {
            greedyOrder = try stages.cached("greedy") {
                try timed("greedy search") {
                    try GreedySubsetSearch.eliminationOrder(model: model) { m in
                        try evaluateOn(m, greedyExamples, false).meanNLL
                    }
                }
            }
        }
        advance("attribution", by: attributionCost)

        // 2. Sweep: the full model, each criterion's top-k and random subsets per k.
        let full: ClassificationOutcomes = try stages.cached("full") {
            try timed("sweep") { try evaluateOn(model, inputs.evaluation, true) }
        }
        advance("full model", by: 1)
        var points: [AuditSweepPoint] = stages.load("sweep") ?? []
        let subsetSeed = stableSeed(inputs.fingerprint + ModelFolderIdentity.fingerprint(of: inputs.modelDirectory))
        var plans: [(String, Int, UInt64?, PruningPlan)] = []
        for k in keeps {
            for c in parameters.criteria {
                plans.append(
                    (c.rawValue, k, nil, try PruningPlan.topK(attribution, k: k, criterion: c, minimumPerLayer: 1)))
            }
            if let greedyOrder {
                plans.append(("greedy", k, nil, try GreedySubsetSearch.plan(order: greedyOrder, k: k)))
            }
            for s in 0..<parameters.randomSubsets {
                let seed = subsetSeed &+ UInt64(s) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(k)
                plans.append(
                    (
                        "random", k, seed,
                        try PruningPlan.random(expertsPerLayer: counts, k: k, seed: seed, minimumPerLayer: 1)
                    ))
            }
        }
        advance("sweep", by: Double(min(points.count, plans.count)))
        for (strategy, k, seed, plan) in plans.dropFirst(points.count) {
            try timed("sweep") {
                let outcomes = try evaluate(model.masked(plan.keepFlags))
                points.append(AuditSweepPoint(k: k, strategy: strategy, seed: seed, outcomes: outcomes))
                try stages.save("sweep", points)
            }
            advance("sweep k=\(k) \(strategy)", by: 1)
        }
        let chance = majorityShare(inputs.evaluation)
        let prunability = AuditPrunability(
            full: full, points: points, chance: chance, expertsPerLayer: fewest, referenceK: pruneK,
            level: parameters.level, resamples: parameters.resamples)

        // 3. Prune: the attacker's best criterion at k (highest accuracy at k, then area).
        // The adaptive attacker: every criterion and the greedy search compete; the one whose pruned
        // model keeps the most accuracy at k is the attacker the defense must withstand.
        let names = parameters.criteria.map(\.rawValue) + (greedyOrder == nil ? [] : ["greedy"])
        let ranked = names.sorted { a, b in
            let ra = prunability.rows.first { $0.strategy == a && $0.k == pruneK }?.accuracy.estimate ?? -1
            let rb = prunability.rows.first { $0.strategy == b && $0.k == pruneK }?.accuracy.estimate ?? -1
            return ra > rb
        }
        let criterion = ranked.first ?? "soft"
        let plan =
            if criterion == "greedy", let greedyOrder {
                try GreedySubsetSearch.plan(order: greedyOrder, k: pruneK)
            } else {
                try PruningPlan.topK(
                    attribution, k: pruneK, criterion: AttributionCriterion(rawValue: criterion) ?? .soft,
                    minimumPerLayer: 1)
            }
        let pruned: ClassificationOutcomes = try stages.cached("pruned") {
            try evaluateOn(model.masked(plan.keepFlags), inputs.evaluation, true)
        }
        // Calibration control: the pruned model on labelled pool examples, to re-fit its threshold.
        let fitExamples = Array(labeledPool.prefix(parameters.calibrationExamples))
        var calibration: CalibrationControl? = nil
        if !fitExamples.isEmpty {
            let prunedFit: ClassificationOutcomes = try stages.cached("pruned-fit") {
                try evaluateOn(model.masked(plan.keepFlags), fitExamples, true)
            }
            calibration = CalibrationControl(
                full: full, pruned: pruned, prunedFit: prunedFit, level: parameters.level,
                resamples: parameters.resamples)
        }
        advance("pruned model", by: 1 + Double(fitExamples.count) / evaluationSize)

        // 4. Re-align random vs uncertainty, each run resumable in its own folder.
        let activeTask = try evaluationTask.classificationPool(pool: task(inputs.pool, file: "pool"))
        var results: [ActiveLearningLoop.Result] = []
        var provenance: Provenance.Report? = stages.load("provenance")
        for strategy in parameters.strategies {
            for s in 0..<UInt64(parameters.realignSeeds) {
                let name = "\(strategy.rawValue)-seed\(parameters.realign.seed + s)"
                let last = strategy == parameters.strategies.last && s == 0
                if let done: ActiveLearningLoop.Result = stages.load("realign-\(name)"), !(last && provenance == nil) {
                    results.append(done)
                    advance("realign \(name)", by: runCost(strategy))
                    continue
                }
                var p = parameters.realign
                p.strategy = strategy
                p.seed = parameters.realign.seed + s
                let derivative = try ModelLoader.load(directory: inputs.modelDirectory, residency: .resident)
                derivative.maskExperts(plan.keepFlags)
                let runDirectory = output.appendingPathComponent("realign").appendingPathComponent(name)
                let base = done
                let result = try timed("realign") {
                    try ActiveLearningLoop.run(
                        model: derivative, task: activeTask, parameters: p, stateDirectory: runDirectory, resume: true
                    ) { step in
                        let fraction = Double(step.labeled) / Double(max(1, p.budget))
                        progress(
                            "realign \(name): \(step.description)",
                            min(1, (base + runCost(strategy) * fraction) / total))
                        return .more
                    }
                }
                try stages.save("realign-\(name)", result)
                results.append(result)
                advance("realign \(name)", by: runCost(strategy))
                if last {
                    let report = try timed("provenance") {
                        try Provenance.compare(original: model, suspect: derivative)
                    }
                    try stages.save("provenance", report)
                    provenance = report
                }
            }
        }
        let realignment = RealignmentReport(
            results: results, targetFraction: parameters.targetFraction, referenceOutcomes: full.correct,
            resamples: parameters.resamples)
        let recovery = recoveryFindings(
            results: results, full: full, pruned: pruned, level: parameters.level, resamples: parameters.resamples)
        var findings = prunability.findings + recovery
        if let calibration { findings.append(calibration.finding(criterion: criterion, k: pruneK)) }
        for c in realignment.efficiency?.comparisons ?? [] {
            let verdict: AuditFinding.Verdict =
                switch c.verdict {
                case .fewerLabels: .supported
                case .moreLabels: .refuted
                case .notResolved, .notReached: .notResolved
                case .notResolvable: .notResolvable
                }
            findings.append(
                AuditFinding(
                    id: "realignment.\(c.strategy.rawValue).fewer_labels", verdict: verdict, statement: c.statement,
                    interval: c.labelsSaved ?? c.areaDifference))
        }
        guard let provenance else {
            throw RealignmentError.invalidParameter("no re-alignment run to check provenance on")
        }
        findings.append(
            AuditFinding(
                id: "provenance.derivative", verdict: provenance.verdict == .derived ? .supported : .refuted,
                statement: "The re-aligned top-\(pruneK) derivative is recognised as derived from the audited model: "
                    + "verdict \(provenance.verdict.rawValue), kept experts \(provenance.keptExperts)."))
        progress("report", 1)
        return Results(
            model: inputs.modelDirectory.path, task: inputs.task.name.rawValue,
            evaluationExamples: inputs.evaluation.count,
            poolExamples: inputs.pool.count, parameters: parameters, prunability: prunability, plan: plan,
            pruneCriterion: criterion, full: full, pruned: pruned, greedyOrder: greedyOrder, calibration: calibration,
            realignment: realignment, recovery: recovery,
            provenance: provenance, findings: findings, seconds: seconds)
    }

    /// A constant answer's accuracy: the share of the most frequent label.
    static func majorityShare(_ examples: [ClassificationExample]) -> Double {
        let counts = Dictionary(grouping: examples.compactMap(\.label), by: { $0 }).mapValues(\.count)
        return Double(counts.values.max() ?? 0) / Double(max(1, examples.count))
    }

    /// A seed that depends on the model and the task, so random subsets differ between audits.
    static func stableSeed(_ text: String) -> UInt64 {
        var f = Fingerprint()
        f.mix(text)
        return UInt64(f.value, radix: 16) ?? 0
    }
}
