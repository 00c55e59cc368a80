import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `expertlock demo`: the paper's whole story on a model trained right here. Trains a standard and an
/// entangled 8-expert top-2 MoE on the built-in corpus (cached in the output folder, so a rerun skips
/// training), then audits both: attribution with every criterion → prunability sweeps on each task
/// (ranked and random) → the defense comparison; the report is written by `DemoReport`.
public enum DemoPipeline {
    public struct Parameters: Sendable {
        public var sizes: DemoSizes
        public var seed: UInt64 = 0
        public var entanglement = EntanglementRegularizer(method: .routingSpread, strength: 0.5)
        public var keeps = [8, 6, 4, 2, 1]
        public init(quick: Bool) { sizes = quick ? .quick : .full }
    }

    /// A stage and how far the whole run is, for progress lines with an ETA.
    public typealias Progress = (_ stage: String, _ fraction: Double) -> Void

    /// One task of the audit: its name, the library task (attribution sequences, metric,
    /// evaluation) and what its sweep ranks by.
    struct TaskProbe {
        var name: String
        var task: EvaluationTask
        var criteria: [AttributionCriterion]
        var thresholds: [Double]
        /// Sequences (prompt + target) the attacker attributes on, made once.
        var attributionSequences: [[Int]]

        init(name: String, task: EvaluationTask, criteria: [AttributionCriterion], thresholds: [Double]) {
            self.name = name
            self.task = task
            self.criteria = criteria
            self.thresholds = thresholds
            attributionSequences = task.sequences()
        }
    }

    /// The file that marks a folder as a demo's output.
    static let stamp = ".expertlock-demo"

    /// Makes `output` the demo's folder: created when missing, taken when empty or already a demo's
    /// (stamped, or holding a cached demo model from before the stamp), refused otherwise. A rerun
    /// reuses the cached models and replaces the demo's own subfolders, so a folder with other
    /// files in it must never be taken.
    static func claimOutput(_ output: URL) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: output.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw OutputError.notOwned(output.path, by: "expertlock demo") }
            let names = try fm.contentsOfDirectory(atPath: output.path)
            let models = output.appendingPathComponent("models")
            let cached = ((try? fm.contentsOfDirectory(atPath: models.path)) ?? []).contains {
                fm.fileExists(
                    atPath: models.appendingPathComponent($0).appendingPathComponent("expertlock_demo.json").path)
            }
            if !names.isEmpty && !names.contains(stamp) && !cached {
                throw OutputError.notOwned(output.path, by: "expertlock demo")
            }
        }
        try fm.createDirectory(at: output, withIntermediateDirectories: true)
        try AtomicFile.write(Data("expertlock demo output\n".utf8), to: output.appendingPathComponent(stamp))
    }

    public static func run(output: URL, parameters: Parameters, progress: @escaping Progress) throws -> DemoResults {
        let sizes = parameters.sizes
        let data = DemoData(sizes: sizes, seed: parameters.seed)
        let fm = FileManager.default
        try claimOutput(output)

        progress("tokenizer", 0.01)
        let tokenizerDir = output.appendingPathComponent("tokenizer")
        if !fm.fileExists(atPath: tokenizerDir.appendingPathComponent("tokenizer.json").path) {
            let trained = try TokenizerTrainer.train(
                texts: data.tokenizerTexts,
                parameters: .init(model: .bpe, vocabSize: sizes.vocabSize, minFrequency: 2))
            try trained.write(to: tokenizerDir)
        }
        let tokenizer = try Tokenizer.load(directory: tokenizerDir)

        // Stage weights of the progress fraction, from measured run times (training dominates).
        let trainShare = 0.42, auditEnd = 0.80, realignEnd = 0.90, provenanceEnd = 0.97
        var trained: [String: MoEModel] = [:]
        var trainingSeconds: [String: Double] = [:]
        var cachedModels: [String] = []
        let variants: [(String, EntanglementRegularizer?)] = [
            ("standard", nil), ("entangled", parameters.entanglement),
        ]
        // The provenance control: the standard recipe from another seed, on the same data.
        let otherSeed = parameters.seed &+ 1
        let runs = variants.map { ($0.0, $0.1, parameters.seed) } + [("other-seed", nil, otherSeed)]
        // The three models train side by side (`Parallel.jobs`): a tiny model's
        // kernels keep two cores only partly busy. Inside a job every kernel splits its work as on
        // `Parallel.threads` workers, so each model has the same bits as when trained alone.
        let trainingProgress = JobProgress(jobs: runs.count) { fraction in
            progress("train " + runs.map(\.0).joined(separator: ", "), 0.02 + trainShare * fraction)
        }
        let outcomes = try Parallel.jobs(runs.count) { i in
            let (name, entanglement, seed) = runs[i]
            let start = Date()
            let (model, cached) = try trainedModel(
                at: output.appendingPathComponent("models/\(name)"), tokenizer: tokenizer, tokenizerDir: tokenizerDir,
                data: data, sizes: sizes, seed: seed, entanglement: entanglement
            ) { trainingProgress.update(job: i, fraction: $0) }
            return (model: model, cached: cached, seconds: Date().timeIntervalSince(start))
        }
        for ((name, _, _), outcome) in zip(runs, outcomes) {
            trained[name] = outcome.model
            if outcome.cached { cachedModels.append(name) } else { trainingSeconds[name] = outcome.seconds }
        }

        let probes = try taskProbes(data: data, tokenizer: tokenizer, sizes: sizes)
        var results = DemoResults(sizes: sizes, seed: parameters.seed, entanglement: parameters.entanglement)
        results.machine = .current
        results.trainingSeconds = trainingSeconds
        results.cachedModels = cachedModels
        var stageStart = Date()
        func endStage(_ name: String) {
            results.stageSeconds[name] = Date().timeIntervalSince(stageStart)
            stageStart = Date()
        }
        func auditFraction(_ x: Double) -> Double { 0.02 + trainShare + (auditEnd - 0.02 - trainShare) * x }
        // The two models are audited side by side (`Parallel.jobs`; the same bits as one after another).
        // Each attribution is computed once: re-alignment prunes by the sentiment attribution of the audit.
        let auditProgress = JobProgress(jobs: variants.count) { fraction in
            progress("audit " + variants.map(\.0).joined(separator: ", "), auditFraction(fraction))
        }
        let audits = try Parallel.jobs(variants.count) { v in
            let model = trained[variants[v].0]!
            var modelResult = DemoResults.ModelResult()
            var sentimentAttribution: ExpertAttribution?
            for (p, probe) in probes.enumerated() {
                let batches = CorpusBatches.batches(probe.attributionSequences, batchSize: 8)
                var attribution = try Attribution.run(model: model, modelPath: variants[v].0, batches: batches)
                if probe.name == "lm" {
                    attribution.ablation = try AblationImportance.measure(
                        model: model, batches: Array(batches.prefix(4)))
                }
                var curve = try PrunabilitySweep.run(
                    model: model, attribution: attribution, metricName: probe.task.metric.name,
                    higherIsBetter: probe.task.metric.higherIsBetter,
                    parameters: .init(
                        keeps: parameters.keeps, thresholds: probe.thresholds, criteria: probe.criteria,
                        randomSeeds: sizes.seeds),
                    evaluate: probe.task.evaluate)
                curve.chanceLevel = probe.task.chanceLevel
                if probe.name == "sentiment" { sentimentAttribution = attribution }
                modelResult.tasks[probe.name] = DemoResults.TaskResult(
                    attributionShares: attribution.shares(.soft), curve: curve,
                    criterionAgreement: attribution.ablation.map { ablation in
                        Dictionary(
                            uniqueKeysWithValues: [AttributionCriterion.soft, .frequency, .reap].map { c in
                                let rhos = zip(attribution.scores(c), ablation).map { RankCorrelation.spearman($0, $1) }
                                return (c.rawValue, rhos.reduce(0, +) / Double(max(rhos.count, 1)))
                            })
                    })
                auditProgress.update(job: v, fraction: Double(p + 1) / Double(probes.count))
            }
            return (result: modelResult, sentiment: sentimentAttribution!)
        }
        var sentimentAttributions: [String: ExpertAttribution] = [:]
        for ((name, _), audit) in zip(variants, audits) {
            results.models[name] = audit.result
            sentimentAttributions[name] = audit.sentiment
        }
        endStage("audit")
        // Re-alignment (the paper's Tables 4–6): prune each model to its top-2 sentiment experts, then
        // fine-tune the survivors on labels chosen at random or by entropy, same budget, several seeds.
        let sentiment = probes.first { $0.name == "sentiment" }!
        // One pool for every run: a value, tokenized once.
        let sentimentPool = try sentiment.task.classificationPool(
            pool: EvaluationTask(
                kind: .classify, examples: .classification(data.sentimentTask, data.sentimentTrain),
                tokenizer: tokenizer, file: "sentiment-train", context: sizes.sequenceLength, batchSize: 16))
        // Every (model, strategy, seed) run fine-tunes its own copy of the pruned model, so the twelve
        // runs are independent jobs, `Parallel.threads` at a time (`Parallel.jobs`; the same bits).
        var standardPlan: PruningPlan?
        var bases: [String: MoEModel] = [:]
        for (name, _) in variants {
            // The audited model itself (its weights are those saved in models/NAME, bit for bit).
            let base = try trained[name]!.copy()
            let plan = try PruningPlan.topK(sentimentAttributions[name]!, k: 2, criterion: .soft, minimumPerLayer: 1)
            base.maskExperts(plan.keepFlags)
            if name == "standard" { standardPlan = plan }
            bases[name] = base
            results.recovery[name] = DemoResults.RecoveryResult(pruned: try sentiment.task.evaluate(base), runs: [:])
        }
        let strategies: [QueryStrategy] = [.random, .entropy]
        let realignRuns = variants.flatMap { variant in
            strategies.flatMap { strategy in (0..<sizes.seeds).map { seed in (variant.0, strategy, seed) } }
        }
        let realignProgress = JobProgress(jobs: realignRuns.count) { fraction in
            progress("realign \(realignRuns.count) runs", auditEnd + (realignEnd - auditEnd) * fraction)
        }
        let curves = try Parallel.jobs(realignRuns.count, atOnce: Parallel.threads) { i in
            let (name, strategy, seed) = realignRuns[i]
            let model = try bases[name]!.copy()  // masked like the base; trained on its own
            var p = ActiveLearningLoop.Parameters()
            p.strategy = strategy
            p.budget = sizes.realignBudget
            p.batchSize = sizes.realignBatch
            p.initialSize = sizes.realignBatch
            p.stepsPerRound = sizes.realignSteps
            p.learningRate = 1e-3
            p.candidatesPerRound = 4 * sizes.realignBudget
            // The default gated schedule: 64 pool examples held out, a round's update kept only if their
            // accuracy does not fall (`FineTuningSchedule.gated`).
            p.seed = UInt64(seed)
            let curve = try ActiveLearningLoop.run(model: model, task: sentimentPool, parameters: p).curve
            realignProgress.update(job: i, fraction: 1)
            return curve
        }
        for ((name, strategy, _), curve) in zip(realignRuns, curves) {
            results.recovery[name]!.runs[strategy.rawValue, default: []].append(curve)  // seeds in order
        }

        endStage("realign")
        // Provenance of a pruned and re-aligned derivative of the standard model, and of the control.
        if let standardPlan, let control = trained["other-seed"] {
            results.provenance = try DemoProvenance.run(
                original: output.appendingPathComponent("models/standard"), plan: standardPlan, otherSeed: control,
                otherSeedValue: otherSeed, pool: sentimentPool, sizes: sizes, output: output
            ) { progress("provenance", realignEnd + (provenanceEnd - realignEnd) * $0) }
        }

        endStage("provenance")
        // The owner's signed log, and what it says about tampered copies.
        let loraExamples = TrainingData.classification(
            data.sentimentTrain, prompt: .standard(for: data.sentimentTask), encoder: tokenizer,
            sequenceLength: sizes.sequenceLength)
        results.signedLog = try DemoSignedLog.run(
            original: output.appendingPathComponent("models/standard"), examples: loraExamples, sizes: sizes,
            output: output
        ) { progress("signed log", provenanceEnd + (0.995 - provenanceEnd) * $0) }
        endStage("signed log")
        progress("report", 0.995)
        return results
    }

    /// Loads the cached model when its settings match, otherwise trains and saves it.
    static func trainedModel(
        at dir: URL, tokenizer: Tokenizer, tokenizerDir: URL, data: DemoData, sizes: DemoSizes, seed: UInt64,
        entanglement: EntanglementRegularizer?, progress: (Double) -> Void
    ) throws -> (model: MoEModel, cached: Bool) {
        let fm = FileManager.default
        let stamp = DemoModelStamp(sizes: sizes, seed: seed, entanglement: entanglement)
        let stampURL = dir.appendingPathComponent("expertlock_demo.json")
        if let cached = try? JSONFileStyle.decode(DemoModelStamp.self, from: Data(contentsOf: stampURL)),
            cached == stamp
        {
            return (try ModelLoader.load(directory: dir, residency: .resident), true)
        }
        var config = ModelConfig.preset(
            "tiny", vocabSize: tokenizer.vocabSize, bosTokenId: tokenizer.bosTokenId, eosTokenId: tokenizer.eosTokenId)!
        config.hiddenSize = sizes.hiddenSize
        config.intermediateSize = sizes.intermediateSize
        config.moeIntermediateSize = sizes.intermediateSize
        config.numHiddenLayers = sizes.layers
        config.headDim = sizes.hiddenSize / config.numAttentionHeads
        let model = try MoEModel.randomlyInitialized(config: config, seed: seed)
        var parameters = Training.Parameters()
        parameters.steps = sizes.trainingSteps
        parameters.batchSize = sizes.batchSize
        parameters.sequenceLength = sizes.sequenceLength
        parameters.learningRate = 3e-3
        parameters.warmupSteps = max(1, sizes.trainingSteps / 20)
        parameters.seed = seed
        parameters.entanglement = entanglement
        let examples = data.trainingExamples(tokenizer: tokenizer, sequenceLength: sizes.sequenceLength)
        try Training.train(model: model, examples: examples, parameters: parameters) { p in
            progress(Double(p.step) / Double(p.steps))
            return .more
        }
        try? fm.removeItem(at: dir)
        try OutputDirectory.write(to: dir, overwrite: true) { tmp in
            try model.save(to: tmp, dtype: .f32)
            try OutputDirectory.copyCompanionFiles(from: tokenizerDir, to: tmp)
            try AtomicFile.write(
                try JSONFileStyle.encoder(pretty: false).encode(stamp),
                to: tmp.appendingPathComponent("expertlock_demo.json"))
        }
        return (model, false)
    }

    static func taskProbes(data: DemoData, tokenizer: Tokenizer, sizes: DemoSizes) throws -> [TaskProbe] {
        let length = sizes.sequenceLength
        let validIds = Array(tokenizer.encode(data.validDocuments.joined(separator: "\n\n")).prefix(sizes.evalTokens))
        let lm = TaskProbe(
            name: "lm",
            task: try EvaluationTask(
                kind: .perplexity, examples: .ids(validIds), tokenizer: tokenizer, file: "valid", context: length,
                batchSize: 8),
            criteria: [.soft, .frequency, .reap], thresholds: [0.05, 0.1])
        func classification(_ name: String, _ task: ClassificationTask, _ dev: [ClassificationExample]) throws
            -> TaskProbe
        {
            TaskProbe(
                name: name,
                task: try EvaluationTask(
                    kind: .classify, examples: .classification(task, dev), tokenizer: tokenizer, file: name,
                    context: length, batchSize: 16),
                criteria: [.soft, .reap], thresholds: [])
        }
        let summaries = TaskProbe(
            name: "summarization",
            task: try EvaluationTask(
                kind: .summarize, examples: .summarization(data.summariesDev), tokenizer: tokenizer,
                file: "summaries", context: length * 2, batchSize: 1, maxNewTokens: 24),
            criteria: [.soft], thresholds: [])
        return [
            lm, try classification("sentiment", data.sentimentTask, data.sentimentDev),
            try classification("entailment", data.entailmentTask, data.entailmentDev), summaries,
        ]
    }
}

/// What a cached demo model was trained with; a mismatch retrains.
struct DemoModelStamp: Codable, Equatable {
    var sizes: DemoSizes
    var seed: UInt64
    var entanglement: EntanglementRegularizer?
}
