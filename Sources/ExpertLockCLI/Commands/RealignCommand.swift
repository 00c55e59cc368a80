import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `expertlock realign`: active-learning re-alignment of a (pruned) model, the paper's section 3.2
/// (docs: CLI.md). One run per strategy and seed, each in its own resumable folder under --out, then
/// the Table-4-shaped summary of all of them.
struct RealignCommand: AsyncParsableCommand, ActiveLearningCommand {
    static let configuration = CommandConfiguration(
        commandName: "realign",
        abstract: "Re-align a pruned model with pool-based active learning (labels chosen by uncertainty).",
        discussion: """
            Each round scores the unlabeled --pool with the current model, labels the top --batch examples by \
            --strategy (the oracle is the pool file's labels), fine-tunes the --trainable weights for --steps steps \
            on everything labeled so far and evaluates on --eval-data, until --budget labels are spent; round 0 \
            labels --initial random examples (0: the strategy picks from the start). The default --schedule gated \
            keeps a round's update only if the metric on --validation held-out pool examples does not get worse. \
            --strategy and --seeds may name several runs (e.g. --strategy entropy,random --seeds 3). Writes into \
            --out: <strategy>-seed<S>/ per run (state-*/ for --resume, result.json, model/ unless --no-model), \
            and report.md, report.json, curve.svg. With --json prints {"curve": [{"labeled", "metric"}], "final", \
            "labeled_ids"} for a single run, and always "runs" and "report".
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var taskOption: TaskOption
    @Option(help: "Unlabeled pool with the oracle's labels (GLUE .tsv, .jsonl or text).") var pool: String
    @Option(help: "Pool layout: auto, text, glue or jsonl.") var poolFormat: DataFormat = .auto
    @Option(help: "Held-out data layout: auto, text, glue or jsonl.") var evalFormat: DataFormat = .auto
    @OptionGroup var tokenizerOptions: TokenizerOptions
    @OptionGroup var templateOption: TemplateOption
    @OptionGroup var activeLearning: ActiveLearningOptions<Defaults>
    @Option(parsing: .unconditional, help: "Examples per optimizer step.", transform: OptionRange.int(atLeast: 1))
    var trainBatch = 8
    @Option(
        parsing: .unconditional, help: "Examples per forward pass when scoring and evaluating.",
        transform: OptionRange.int(atLeast: 1))
    var scoreBatch = 8
    @OptionGroup var optimizer: OptimizerOptions<Defaults>
    @OptionGroup var lora: LoRAArguments
    @OptionGroup var seedOption: SeedOption
    @OptionGroup var saveEveryOption: SaveEveryOption
    @Option(help: "Labels-to-target: the target is this fraction of the reference.") var targetFraction = 0.95
    @Option(
        help: """
            Reference for the target: the unpruned model's folder (evaluated on --eval-data; its per-example outcomes \
            enter the intervals) or a number (default: the best random-sampling mean).
            """)
    var reference: String?
    @Flag(help: "Do not save the re-aligned models.") var noModel = false
    @OptionGroup var outputFolder: OutputFolderOptions
    @OptionGroup var resumeOption: ResumeOption
    @OptionGroup var output: OutputOptions

    /// realign's defaults: one careful run.
    enum Defaults: ActiveLearningDefaults {
        static let budget = 256
        static let batch = 32
        static let steps = 20
        static let lr: Float = 1e-4
        static let seq = 256
        static let seeds = 1
        static let strategies: [QueryStrategy] = [.entropy]
        static let trainable = TrainableSubset.experts
    }

    var out: String { outputFolder.out }
    var task: TaskName { taskOption.task ?? .classify }
    var initial: Int? { activeLearning.initial }
    var template: String? { templateOption.template }
    var seed: UInt64 { seedOption.seed }
    var trainable: TrainableSubset { optimizer.trainable }
    var weightDecay: Float { optimizer.weightDecay }
    var auxCoef: Float? { optimizer.auxCoef }
    var saveEvery: Int? { saveEveryOption.saveEvery }
    var overwrite: Bool { outputFolder.overwrite }
    var resume: Bool { resumeOption.resume }
    var tokenizer: String? { tokenizerOptions.tokenizer }

    func validate() throws {
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
        if modelOptions.residency == .mapped || modelOptions.residency == .read {
            // Re-alignment trains the model, and training needs every weight in Float32 in memory.
            throw ValidationError(
                "--residency \(modelOptions.residency.rawValue): realign trains the model, its weights must be resident"
            )
        }
        if seeds < 1 { throw ValidationError("--seeds must be at least 1") }
        if resamples < 10 { throw ValidationError("--resamples must be at least 10") }
        if !(targetFraction > 0 && targetFraction <= 1) { throw ValidationError("--target-fraction must be in (0, 1]") }
    }

    func run() async throws {
        try await runReportingErrors(output: out) {
            // --out is a working folder (--overwrite replaces it): it must neither be, hold nor sit
            // inside an input (a run writing into a model folder would change that model).
            let destination = try ResumableOutput(
                out, layout: .inPlace, inputs: [modelOptions.model, pool, evalData, tokenizer, template, reference],
                resume: resume, overwrite: overwrite)
            let strategies = strategy.items.reduce(into: [QueryStrategy]()) { if !$0.contains($1) { $0.append($1) } }
            guard !strategies.isEmpty else { throw ArgumentInputError("--strategy names no strategy") }
            // The old output is kept aside until this run finishes (given back if it fails).
            let (results, report) = try destination.run {
                if let note = destination.missingStateNote { Console.progress(note) }
                InterruptHint.install(command: "realign", what: "every finished round")
                let (results, referenceValue, referenceOutcomes) =
                    try SwitchTransformersModel.isSwitchCheckpoint(modelOptions.url)
                    ? runEncoderDecoder(strategies: strategies, out: destination.url)
                    : runDecoderOnly(strategies: strategies, out: destination.url)
                let report = RealignmentReport(
                    results: results, targetFraction: targetFraction, reference: referenceValue,
                    referenceOutcomes: referenceOutcomes, resamples: resamples)
                try writeReport(report, results: results, to: destination.url)
                return (results, report)
            }
            if output.json {
                try printJSON(results: results, report: report, out: destination.url)
            } else {
                print(report.markdown(), terminator: "")
                print("results in \(destination.url.path)")
            }
        }
    }

    func parameters(strategy: QueryStrategy, seed: UInt64) throws -> ActiveLearningLoop.Parameters {
        var p = ActiveLearningLoop.Parameters()
        p.strategy = strategy
        p.budget = budget
        p.batchSize = batch
        p.initialSize = initial ?? batch
        p.stepsPerRound = steps
        p.trainingBatchSize = trainBatch
        p.learningRate = lr
        p.weightDecay = weightDecay
        p.loadBalancingCoefficient = auxCoef
        p.trainable = trainable
        p.lora = try lora.options()
        p.candidatesPerRound = candidates
        p.seed = seed
        p.saveEvery = saveEvery
        p.schedule = schedule
        p.validationSize = validation
        return p
    }

    /// Every strategy and seed on a decoder-only model, and the reference.
    func runDecoderOnly(strategies: [QueryStrategy], out: URL) throws
        -> (results: [ActiveLearningLoop.Result], reference: Double?, outcomes: [Double]?)
    {
        let activeTask = try makeTask()
        var results: [ActiveLearningLoop.Result] = []
        for strategy in strategies {
            for s in 0..<UInt64(seeds) {
                results.append(try runOne(strategy: strategy, seed: seed + s, task: activeTask, out: out))
            }
        }
        let (reference, outcomes) = try evaluateReference(task: activeTask)
        return (results, reference, outcomes)
    }

    /// --reference as a number, or the metric (and per-example outcomes) of the model in that folder.
    func evaluateReference(task: ActiveLearningTask) throws -> (Double?, [Double]?) {
        guard let reference else { return (nil, nil) }
        if let value = Double(reference) { return (value, nil) }
        let config = URL(fileURLWithPath: reference).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: config.path) else {
            throw ArgumentInputError("--reference: '\(reference)' is neither a number nor a model folder")
        }
        Console.progress("evaluating the reference model \(reference)")
        let model = try ModelLoader.load(directory: URL(fileURLWithPath: reference), residency: .automatic)
        let (metric, outcomes) = try task.evaluateWithOutcomes(model: model)
        return (metric, outcomes)
    }

    /// One strategy and seed in `out/<strategy>-seed<S>`: skipped when its result.json exists and
    /// --resume is given, else run (or continued) there.
    func runOne(strategy: QueryStrategy, seed: UInt64, task: ActiveLearningTask, out: URL) throws
        -> ActiveLearningLoop.Result
    {
        let runURL = out.appendingPathComponent("\(strategy.rawValue)-seed\(seed)")
        let resultURL = runURL.appendingPathComponent("result.json")
        if resume, let data = FileManager.default.contents(atPath: resultURL.path),
            let done = try? JSONFileStyle.decode(ActiveLearningLoop.Result.self, from: data)
        {
            Console.progress("realign \(strategy.rawValue) seed \(seed): done earlier (\(resultURL.path))")
            return done
        }
        guard modelOptions.precisionOptions.precision == .f32 else {
            throw ArgumentInputError("--precision bf16: realign fine-tunes the model, and training computes in f32")
        }
        let model = try ModelLoader.load(directory: modelOptions.url, residency: .resident)
        Console.progress("realign \(strategy.rawValue) seed \(seed) → \(runURL.path)")
        var lastPrint = Date.distantPast
        let result = try ActiveLearningLoop.run(
            model: model, task: task, parameters: try parameters(strategy: strategy, seed: seed),
            stateDirectory: runURL, resume: resume
        ) { progress in
            let now = Date()
            if progress.phase != .trained || progress.step == progress.steps || now.timeIntervalSince(lastPrint) >= 1 {
                Console.progress(progress.description)
                lastPrint = now
            }
            return .more
        }
        if !noModel { try saveModel(model, to: runURL.appendingPathComponent("model")) }
        try AtomicFile.write(try JSONFileStyle.encoder().encode(result), to: resultURL)
        return result
    }

    /// The re-aligned model as a Hugging Face folder (F32, LoRA adapters as PEFT files), with its
    /// expert mask (`save` writes it) and the input's tokenizer files, written into place all at once.
    func saveModel(_ model: MoEModel, to url: URL) throws {
        let source = modelOptions.url
        try OutputDirectory.write(to: url, overwrite: true) { tmp in
            try model.save(to: tmp, dtype: .f32, configSource: source.appendingPathComponent("config.json"))
            try model.saveLoRA(to: tmp, baseModel: source.path)
            try OutputDirectory.copyCompanionFiles(from: source, to: tmp)
        }
    }

    func writeReport(_ report: RealignmentReport, results: [ActiveLearningLoop.Result], to out: URL) throws {
        try AtomicFile.write(try JSONFileStyle.encoder().encode(report), to: out.appendingPathComponent("report.json"))
        try AtomicFile.write(report.markdown(), to: out.appendingPathComponent("report.md"))
        try AtomicFile.write(report.svg(), to: out.appendingPathComponent("curve.svg"))
    }

    func printJSON(results: [ActiveLearningLoop.Result], report: RealignmentReport, out: URL) throws {
        func curve(_ r: ActiveLearningLoop.Result) -> [[String: Any]] {
            r.curve.map { ["labeled": $0.labeled, "metric": $0.metric] }
        }
        let runs: [[String: Any]] = results.map { r in
            [
                "strategy": r.strategy.rawValue, "seed": r.seed, "curve": curve(r), "final": r.final,
                "after_pruning": r.afterPruning, "labeled_ids": r.labeledIDs, "start_round": r.startRound,
                "output": out.appendingPathComponent("\(r.strategy.rawValue)-seed\(r.seed)").path,
            ]
        }
        let reportObject = try JSONSerialization.jsonObject(with: JSONFileStyle.encoder().encode(report))
        var object: [String: Any] = [
            "runs": runs, "report": reportObject, "metric": report.metric.name, "output": out.path,
        ]
        if let only = results.first, results.count == 1 {
            object["curve"] = curve(only)
            object["final"] = only.final
            object["labeled_ids"] = only.labeledIDs
            object["after_pruning"] = only.afterPruning
            object["strategy"] = only.strategy.rawValue
            object["seed"] = only.seed
        }
        try Console.printJSON(object)
    }
}

extension RealignCommand {
    /// The pool, the oracle and the metric of --task, tokenized with --tokenizer.
    func makeTask() throws -> ActiveLearningTask {
        let encoder: TextEncoder
        var huggingFace: Tokenizer?
        if tokenizer == "bytes" {
            encoder = ByteTextEncoder()
        } else {
            let folder = tokenizer.map { URL(fileURLWithPath: $0) } ?? modelOptions.url
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path) else {
                throw ArgumentInputError(
                    "\(folder.path): no tokenizer.json (pass --tokenizer DIR, or --tokenizer bytes for a byte-level "
                        + "model)"
                )
            }
            let loaded = try Tokenizer.load(directory: folder)
            huggingFace = loaded
            encoder = loaded
        }
        let config = try ModelConfig.load(from: modelOptions.url.appendingPathComponent("config.json"))
        guard encoder.vocabSize <= config.vocabSize else {
            throw ArgumentInputError(
                "the tokenizer has \(encoder.vocabSize) tokens but the model's vocab_size is \(config.vocabSize)")
        }
        let poolURL = URL(fileURLWithPath: pool)
        let evalURL = URL(fileURLWithPath: evalData)
        let (poolSet, _) = try DatasetLoader.load(poolURL, format: poolFormat, limit: poolLimit)
        func heldOut() throws -> Dataset { try DatasetLoader.load(evalURL, format: evalFormat, limit: evalLimit).0 }
        switch task {
        case .classify:
            guard case .classification(let classes, let items) = poolSet else {
                throw RealignmentError.unusableData(
                    file: pool, reason: "holds no classification examples (text and label)")
            }
            guard case .classification(_, let evaluation) = try heldOut() else {
                throw RealignmentError.unusableData(
                    file: evalData, reason: "holds no classification examples (text and label)")
            }
            let prompt = try template.map { file in
                let loaded = try PromptTemplate.load(from: URL(fileURLWithPath: file))
                try loaded.validate(for: classes, file: file)
                return loaded
            }
            if let huggingFace {
                return try ClassificationPool(
                    pool: items, evaluation: evaluation, task: classes, tokenizer: huggingFace, template: prompt,
                    maxLength: seq, batchSize: scoreBatch, poolFile: pool, evaluationFile: evalData)
            }
            return try ClassificationPool(
                pool: items, evaluation: evaluation, task: classes, encoder: encoder,
                prompt: prompt.map { ClassificationPrompt(template: $0.template, verbalizers: $0.verbalizers) },
                maxLength: seq, batchSize: scoreBatch, poolFile: pool, evaluationFile: evalData)
        case .perplexity:
            let format = evalFormat == .auto ? DatasetLoader.detectFormat(of: evalURL) : evalFormat
            let text =
                format == .text && evalLimit == nil
                ? try PlainTextReader.wholeText(of: evalURL) : Self.texts(of: try heldOut()).joined(separator: "\n\n")
            return try LanguageModelingPool(
                documents: Self.texts(of: poolSet), evaluationText: text, encoder: encoder, maxLength: seq,
                batchSize: scoreBatch, poolFile: pool, evaluationFile: evalData)
        case .summarize:
            guard case .summarization(let items) = poolSet else {
                throw RealignmentError.unusableData(
                    file: pool, reason: "holds no summarization examples (document and summary)")
            }
            guard case .summarization(let evaluation) = try heldOut() else {
                throw RealignmentError.unusableData(
                    file: evalData, reason: "holds no summarization examples (document and summary)")
            }
            return try SummarizationPool(
                pool: items, evaluation: evaluation, encoder: encoder, maxLength: seq, batchSize: scoreBatch,
                poolFile: pool, evaluationFile: evalData)
        }
    }

    /// The texts of any data file, as language-modelling documents.
    static func texts(of dataset: Dataset) -> [String] {
        switch dataset {
        case .text(let documents): documents.map(\.text)
        case .classification(_, let items):
            items.map { [$0.text, $0.textPair].compactMap { $0 }.joined(separator: "\n") }
        case .summarization(let items): items.map { $0.document + "\n" + $0.summary }
        }
    }
}
