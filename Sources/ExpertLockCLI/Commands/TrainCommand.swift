import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `expertlock train`: train a preset or config from scratch, or continue a model, on LM,
/// classification or summarization data (docs: CLI.md). Progress on stderr; checkpoints in --out.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train (or continue training) an MoE model.",
        discussion: """
            Start from --config (tiny, small or a config.json; random init) or --model DIR (continue). \
            Data: --data FILE \
            (text, GLUE TSV or JSONL, tokenized with --tokenizer DIR or --tokenizer bytes) or --ids FILE for \
            --task lm. \
            Checkpoints go to --out/checkpoint-<step> every --save-every steps; --resume continues the latest \
            one exactly. \
            With --json prints {"final_loss", "steps", "tokens", "tokens_per_s", ...}.
            """)

    @OptionGroup var configOption: ConfigOption
    @OptionGroup var modelPath: OptionalModelPathOption
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var vocabulary: VocabularySizeOption
    @OptionGroup var taskOption: TaskOption
    @OptionGroup var tokenizerOptions: TokenizerOptions
    @OptionGroup var fineTuning: FineTuningOptions<Defaults>
    @OptionGroup var forwardBatch: ForwardBatchOption
    @Option(parsing: .unconditional, help: "Linear warm-up steps.", transform: OptionRange.int(atLeast: 0))
    var warmup = 10
    @Option(help: "Cosine floor as a fraction of the peak learning rate.") var minLrRatio: Float = 0.1
    @OptionGroup var optimizer: OptimizerOptions<Defaults>
    @Option(help: "Gradient-norm clipping threshold (0: off).") var clip: Float = 1.0
    @Option(help: "Router z-loss coefficient (0: off).") var zCoef: Float = 0
    @OptionGroup var seedOption: SeedOption
    @Option(
        help: "Entangled-expert training strength (a defense): loss weight, or drop probability for expert-dropout.")
    var entangle: Float?
    @Option(help: "Entanglement method: output-agreement, routing-spread or expert-dropout.")
    var entangleMethod: EntanglementRegularizer.Method = .routingSpread
    @OptionGroup var lora: LoRAArguments
    @Flag(help: "Merge LoRA adapters into the weights in the final save.") var mergeLora = false
    @OptionGroup var keyOption: OwnerKeyOption
    @OptionGroup var saveEveryOption: SaveEveryOption
    @Option(help: "Checkpoints kept.") var keepCheckpoints = 1
    @Option(parsing: .unconditional, help: "Print progress every N steps.", transform: OptionRange.int(atLeast: 1))
    var logEvery = 10
    @OptionGroup var heldOut: EvalDataOption
    @Option(help: "Held-out token ids (a JSON array or whitespace-separated integers) instead of --eval-data.")
    var evalIds: String?
    @Option(
        parsing: .unconditional, help: "Measure held-out perplexity every N steps (default: 50).",
        transform: OptionRange.int(atLeast: 1))
    var evalEvery = 50
    @Option(help: "Score at most N held-out tokens (default: 20000).") var evalTokens = 20000
    @OptionGroup var outputFolder: OutputFolderOptions
    @OptionGroup var resumeOption: ResumeOption
    @OptionGroup var output: OutputOptions

    var config: String? { configOption.config }
    var model: String? { modelPath.model }
    var seed: UInt64 { seedOption.seed }
    var key: String? { keyOption.key }
    var data: String? { dataOptions.data }
    var evalData: String? { heldOut.evalData }
    /// --task: lm (or perplexity, the default), classify or summarize.
    var task: TrainingTask {
        switch taskOption.task ?? .perplexity {
        case .perplexity: .languageModeling
        case .classify: .classification
        case .summarize: .summarization
        }
    }
    var ids: String? { dataOptions.ids }
    var format: DataFormat { dataOptions.format }
    var limit: Int? { dataOptions.limit }
    /// train's defaults: a run from scratch.
    enum Defaults: FineTuningDefaults {
        static let steps = 200
        static let lr: Float = 1e-3
        static let seq = 128
        static let trainable = TrainableSubset.all
    }

    var steps: Int { fineTuning.steps }
    var batch: Int { forwardBatch.batch ?? 8 }
    var vocabSize: Int? { vocabulary.vocabSize }
    var lr: Float { fineTuning.lr }
    var seq: Int { fineTuning.seq }
    var trainable: TrainableSubset { optimizer.trainable }
    var weightDecay: Float { optimizer.weightDecay }
    var auxCoef: Float? { optimizer.auxCoef }
    var saveEvery: Int? { saveEveryOption.saveEvery }

    func validate() throws {
        if (config == nil) == (model == nil) { throw ValidationError("give exactly one of --config and --model") }
        if (data == nil) == (ids == nil) { throw ValidationError("give exactly one of --data and --ids") }
        if ids != nil && task != .languageModeling { throw ValidationError("--ids trains --task lm only") }
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
        if evalData != nil && evalIds != nil { throw ValidationError("give at most one of --eval-data and --eval-ids") }
        if evalEvery < 1 { throw ValidationError("--eval-every must be at least 1") }
        if evalTokens < 2 { throw ValidationError("--eval-tokens must be at least 2") }
    }

    var out: String { outputFolder.out }
    var overwrite: Bool { outputFolder.overwrite }
    var resume: Bool { resumeOption.resume }
    var modelURL: URL? { model.map { URL(fileURLWithPath: $0) } }

    func run() async throws {
        try await runReportingErrors(output: out) {
            let destination = try ResumableOutput(
                out, layout: .inPlace,
                inputs: [
                    model, data, ids, tokenizerOptions.inputPath, key,
                    config.flatMap { ModelConfig.presetNames.contains($0) ? nil : $0 },
                ],
                resume: resume, overwrite: overwrite)
            let encoder = try tokenizerOptions.encoder(model: modelURL)
            let (examples, idVocabulary) = try trainingExamples(encoder: encoder)
            let lock = try SelectiveRealignment.begin(
                model: modelURL, keyFile: key.map { URL(fileURLWithPath: $0) }, trainable: trainable)
            let network = try makeModel(encoder: encoder, idVocabulary: idVocabulary)
            let heldOut = try heldOutEvaluation(encoder: encoder)
            // The old output is kept aside until this run finishes (given back if it fails).
            let (result, evalHistory) = try destination.run {
                if let note = destination.missingStateNote { Console.progress(note) }
                let trained = try train(network, examples: examples, heldOut: heldOut)
                if let folder = tokenizerOptions.folder(model: modelURL) {
                    try copyTokenizerFiles(from: folder, to: destination.url)
                }
                if let lock {
                    let entry = try lock.finish(output: destination.url, examples: examples, steps: trained.0.steps)
                    Console.progress("signed update \(entry.index) (\(entry.update)) into \(UpdateLog.fileName)")
                }
                return trained
            }
            try printResult(result, examples: examples.count, evalHistory: evalHistory)
        }
    }

    /// The examples of --ids (language modeling) or --data (tokenized with the encoder), and the
    /// vocabulary the ids need.
    func trainingExamples(encoder: TextEncoder?) throws -> ([TrainingExample], idVocabulary: Int) {
        if let ids {
            let tokens = try TokenIdsFile.read(ids)
            let examples = TrainingData.languageModeling(ids: tokens, sequenceLength: seq)
            guard !examples.isEmpty else { throw ArgumentInputError("\(ids): needs at least 2 token ids") }
            return (examples, (tokens.max() ?? 0) + 1)
        }
        let file = data!
        guard let encoder else {
            throw ArgumentInputError("\(file): text data needs --tokenizer DIR (or --tokenizer bytes)")
        }
        let (dataset, _) = try DatasetLoader.load(URL(fileURLWithPath: file), format: format, limit: limit)
        return (
            try TrainingData.examples(from: dataset, task: task, encoder: encoder, sequenceLength: seq, file: file), 0
        )
    }

    /// The --model to continue, or a new model of --config initialised with --seed.
    func makeModel(encoder: TextEncoder?, idVocabulary: Int) throws -> MoEModel {
        if let modelURL { return try ModelLoader.load(directory: modelURL, residency: .resident) }
        let vocabulary = encoder?.vocabSize ?? vocabSize ?? idVocabulary
        var resolved = try ModelConfig.resolve(config!, vocabSize: vocabulary)
        if ModelConfig.presetNames.contains(config!) {
            resolved.bosTokenId = encoder?.bosTokenId
            resolved.eosTokenId = encoder?.eosTokenId
        }
        return try MoEModel.randomlyInitialized(config: resolved, seed: seed)
    }

    func parameters() throws -> Training.Parameters {
        var parameters = Training.Parameters()
        parameters.steps = steps
        parameters.batchSize = batch
        parameters.sequenceLength = seq
        parameters.learningRate = lr
        parameters.warmupSteps = warmup
        parameters.minimumLearningRateRatio = minLrRatio
        parameters.weightDecay = weightDecay
        parameters.gradientClipNorm = clip > 0 ? clip : nil
        parameters.loadBalancingCoefficient = auxCoef
        parameters.zLossCoefficient = zCoef
        parameters.seed = seed
        parameters.entanglement = entangle.map { EntanglementRegularizer(method: entangleMethod, strength: $0) }
        parameters.trainable = trainable
        parameters.lora = try lora.options(merge: mergeLora)
        parameters.saveEvery = saveEvery
        parameters.keepCheckpoints = keepCheckpoints
        return parameters
    }

    /// The training loop with its progress lines and the held-out perplexity every --eval-every steps.
    func train(_ network: MoEModel, examples: [TrainingExample], heldOut: HeldOutEvaluation?) throws
        -> (Training.Result, [HeldOutEvaluation.Point])
    {
        let parameters = try parameters()
        Console.progress(
            "training \(network.config.modelType) "
                + "(\(network.parameters.reduce(0) { $0 + $1.elementCount }) parameters) "
                + "on \(examples.count) examples, trainable: \(trainable.rawValue)")
        let destination = Training.Output(
            directory: URL(fileURLWithPath: out), configSource: modelURL?.appendingPathComponent("config.json"),
            baseModelName: model)
        var evalHistory: [HeldOutEvaluation.Point] = []
        var evalFailure: Error?
        let every = max(1, logEvery)
        if saveEvery != nil {
            InterruptHint.install(command: "train", what: "the latest checkpoint (--save-every)")
        }
        let result = try Training.train(
            model: network, examples: examples, parameters: parameters, output: destination, resume: resume
        ) { progress in
            if progress.step % every == 0 || progress.step == progress.steps {
                Console.progress(progress.description)
            }
            if let heldOut, heldOut.isDue(step: progress.step, of: progress.steps) {
                do {
                    let point = try heldOut.measure(network, step: progress.step)
                    evalHistory.append(point)
                    Console.progress(
                        "step \(point.step)/\(progress.steps)  held-out perplexity "
                            + String(format: "%.3f", point.perplexity) + " (\(point.tokens) tokens)")
                } catch {
                    evalFailure = error
                    return .stop
                }
            }
            return .more
        }
        if let evalFailure { throw evalFailure }
        return (result, evalHistory)
    }

    func printResult(_ result: Training.Result, examples: Int, evalHistory: [HeldOutEvaluation.Point]) throws {
        if output.json {
            try Console.printJSON(
                [
                    "final_loss": result.finalLoss.map { Double($0) } ?? NSNull(), "steps": result.steps,
                    "start_step": result.startStep, "tokens": result.tokens, "tokens_per_s": result.tokensPerSecond,
                    "seconds": result.seconds, "step_seconds": result.stepSeconds ?? [], "examples": examples,
                    "output": URL(fileURLWithPath: out).path,
                    "eval_history": evalHistory.map {
                        ["step": $0.step, "perplexity": $0.perplexity, "tokens": $0.tokens] as [String: Any]
                    },
                ] as [String: Any])
        } else {
            let loss = result.finalLoss.map { String(format: "%.4f", Double($0)) } ?? "-"
            print(
                "final loss \(loss) after \(result.steps) steps, \(Int(result.tokensPerSecond)) tokens/s; model in "
                    + "\(URL(fileURLWithPath: out).path)")
        }
    }

    /// The held-out set of --eval-data / --eval-ids, tokenized like the training text.
    func heldOutEvaluation(encoder: TextEncoder?) throws -> HeldOutEvaluation? {
        var tokens: [Int]
        if let evalIds {
            tokens = try TokenIdsFile.read(evalIds)
        } else if let evalData {
            guard let encoder else {
                throw ArgumentInputError("\(evalData): held-out text needs --tokenizer DIR (or --tokenizer bytes)")
            }
            let text = try TaskCorpus.perplexityText(URL(fileURLWithPath: evalData), format: .auto)
            tokens = encoder.encode(text, addSpecialTokens: true)
        } else {
            return nil
        }
        tokens = Array(tokens.prefix(evalTokens))
        do {
            return try HeldOutEvaluation(ids: tokens, context: seq, every: evalEvery)
        } catch {
            throw ArgumentInputError("\(evalData ?? evalIds ?? ""): \(error)")
        }
    }

    /// Copies the tokenizer's files next to the trained model so the folder is self-contained.
    func copyTokenizerFiles(from source: URL, to destination: URL) throws {
        guard source.standardizedFileURL != destination.standardizedFileURL else { return }
        for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
            let from = source.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: from.path) else { continue }
            try AtomicFile.write(data, to: destination.appendingPathComponent(name))
        }
    }
}

/// The tokenizer of a folder. MoEModels' `Tokenizer` is being added on another branch; once merged,
/// this becomes `extension Tokenizer: TextEncoder {}` plus `return try Tokenizer.load(directory: directory)`.
func loadTextEncoder(directory: URL) throws -> TextEncoder? {
    let file = directory.appendingPathComponent("tokenizer.json")
    guard FileManager.default.fileExists(atPath: file.path) else { return nil }
    return try Tokenizer.load(directory: directory)
}

extension TrainableSubset: ExpressibleByArgument {}
extension EntanglementRegularizer.Method: ExpressibleByArgument {}
