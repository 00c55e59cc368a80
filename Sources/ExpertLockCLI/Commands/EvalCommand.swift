import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `expertlock eval`: a model's task metric: perplexity, classification accuracy through the LM,
/// or summarization ROUGE (docs: CLI.md).
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model: perplexity, classification accuracy through the LM, or summarization ROUGE.",
        discussion: """
            perplexity: the text of --data (or the ids of --ids) as one sequence, in windows of --context \
            tokens every --stride tokens (Hugging Face recipe). classify: GLUE TSV (SST-2, MNLI, QNLI) or \
            JSONL {"text","label"}; each label's score is the log-likelihood of its verbalizer after the \
            prompt (lm-evaluation-harness style; --template for your own). summarize: JSONL \
            {"document","summary"}; greedy decoding until EOS or a newline, ROUGE-1/2/L F-measure ×100.
            With --json prints perplexity {"perplexity","nll","tokens"}, classify {"accuracy","examples"}, \
            summarize {"rouge1","rouge2","rougeL","examples"}, each with "tokens_per_s", "seconds" and \
            "peak_rss_bytes" (and "peak_rss_mb"). --stream-layers (perplexity, classify) evaluates a checkpoint \
            larger than memory \
            layer by layer with the same result.
            Shards (perplexity): --shard I/N (I from 0) scores the I-th of N contiguous slices of the window \
            batches and --out writes their exact partial sums; eval --task perplexity --merge FILES --out F \
            adds them in batch order: F equals the --out file of one run byte for byte (docs/SHARDS.md).
            """)

    /// The library's task kinds (perplexity, classify, summarize), as every command names them.
    typealias Task = TaskKind

    @OptionGroup var modelPath: OptionalModelPathOption
    @OptionGroup var tokenizerOptions: TokenizerOptions
    @OptionGroup var taskOption: TaskOption
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var longContext: ContextOptions
    @Option(
        parsing: .unconditional, help: "Perplexity window stride (default: --context).",
        transform: OptionRange.int(atLeast: 1))
    var stride: Int?
    @Flag(help: "Skip malformed data rows (counted on stderr) instead of failing.") var skipBad = false
    @OptionGroup var templateOption: TemplateOption
    @OptionGroup var generation: GenerationOption
    @OptionGroup var forwardBatch: ForwardBatchOption
    @OptionGroup var stemmerOption: StemmerOption
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var shardOption: ShardOption
    @OptionGroup var outputFile: OutputFileOptions
    @OptionGroup var mergeFiles: MergeFilesOption
    @OptionGroup var streaming: StreamingOptions
    @OptionGroup var output: OutputOptions

    /// Perplexity: the result with its exact per-batch partial sums (for --merge).
    var out: String? { outputFile.out }
    var model: String? { modelPath.model }
    var merge: [String] { mergeFiles.merge }
    var stemmer: Bool { stemmerOption.stemmer ?? true }
    var data: String? { dataOptions.data }
    /// --task (required: `validate()` refuses a run without it).
    var task: Task { taskOption.task ?? .perplexity }

    func validate() throws {
        if taskOption.task == nil { throw ValidationError("Missing expected argument '--task <task>'") }
    }
    var ids: String? { dataOptions.ids }
    var limit: Int? { dataOptions.limit }
    var template: String? { templateOption.template }
    var maxNewTokens: Int { generation.maxNewTokens ?? 64 }
    var shard: String? { shardOption.shard }
    var context: Int? { longContext.context }
    var batch: Int? { forwardBatch.batch }
    var overwrite: Bool { outputFile.overwrite }
    var tokenizer: String? { tokenizerOptions.tokenizer }

    func run() async throws {
        try await runReportingErrors {
            if !merge.isEmpty { return try runMerge() }
            try validateOptions()
            guard let model else { throw ArgumentInputError("eval needs --model (or --merge FILES)") }
            let started = Date()
            let context = try longContext.resolved(default: task == .summarize ? 1024 : 512, model: model)
            let loaded = precision.apply(
                to: try streaming.streamLayers
                    ? streaming.load(model) : ModelLoader.load(directory: URL(fileURLWithPath: model)))
            var result: [String: Any]
            switch task {
            case .perplexity where out != nil || shard != nil:
                result = try evaluatePerplexityShard(loaded, context: context)
            case .perplexity: result = try evaluatePerplexity(loaded, context: context)
            case .classify: result = try evaluateClassification(loaded, context: context)
            case .summarize: result = try evaluateSummarization(loaded, context: context)
            }
            result["seconds"] = Date().timeIntervalSince(started)
            result["peak_rss_bytes"] = PeakMemory.residentBytes  // the name `bench` uses
            result["peak_rss_mb"] = PeakMemory.residentBytes >> 20
            if output.json {
                try Console.printJSON(result)
            } else {
                print(Self.summary(result, task: task, model: model, data: data ?? ids ?? "").render(), terminator: "")
            }
        }
    }

    func validateOptions() throws {
        guard let model else { throw ArgumentInputError("eval needs --model (or --merge FILES)") }
        if task != .perplexity && (shard != nil || out != nil) {
            throw ArgumentInputError("--shard and --out work with --task perplexity")
        }
        if streaming.streamLayers && (shard != nil || out != nil) {
            throw ArgumentInputError("--shard and --out do not work with --stream-layers yet")
        }
        if let out { try refuseOutputOverlappingInputs(out, inputs: [model, data, ids, tokenizer]) }
        if task == .perplexity {
            guard (data == nil) != (ids == nil) else {
                throw ArgumentInputError("perplexity needs one of --data or --ids")
            }
        } else {
            guard data != nil else { throw ArgumentInputError("--task \(task.rawValue) needs --data") }
            guard ids == nil else { throw ArgumentInputError("--ids only works with --task perplexity") }
        }
        if streaming.streamLayers && task == .summarize {
            throw ArgumentInputError(
                "--stream-layers works with --task perplexity and classify (summarize decodes token by token)")
        }
    }

    var dataFormat: DataFormat { dataOptions.format }

    func loadTokenizer() throws -> Tokenizer {
        try tokenizerOptions.tokenizer(model: URL(fileURLWithPath: model ?? ""))
    }

    func loadDataset() throws -> Dataset {
        let url = URL(fileURLWithPath: data ?? "")
        let (dataset, skipped) = try DatasetLoader.load(url, format: dataFormat, skipBad: skipBad, limit: limit)
        if skipped > 0 { Console.progress("skipped \(skipped) malformed row(s) of \(url.path)") }
        return dataset
    }

    // MARK: - Tasks

    /// The token ids perplexity is measured on (`--ids`, or `--data` tokenized), cut to `--limit`, checked.
    func perplexityIds(vocabSize: Int) throws -> [Int] {
        var tokenIds: [Int]
        if let ids {
            tokenIds = try TokenIdsFile.read(ids)
        } else {
            let url = URL(fileURLWithPath: data ?? "")
            let text = try TaskCorpus.perplexityText(url, format: dataFormat, skipBad: skipBad, limit: limit)
            let tokenizer = try loadTokenizer()
            Console.progress("tokenizing \(url.lastPathComponent)…")
            tokenIds = tokenizer.encode(text)
        }
        if let limit { tokenIds = Array(tokenIds.prefix(limit)) }
        let source = ids ?? data ?? ""
        try TaskCorpus.requireScorable(tokenIds, file: source, vocabSize: vocabSize, fromIds: ids != nil)
        return tokenIds
    }

    func evaluatePerplexity(_ model: MoEModel, context: Int) throws -> [String: Any] {
        let tokenIds = try perplexityIds(vocabSize: model.config.vocabSize)
        let parameters = Perplexity.Parameters(context: context, stride: stride, batchSize: batch ?? 4)
        let meter = ProgressLine("perplexity", unit: "windows")
        var processed = 0
        let result =
            streaming.streamLayers
            ? try Perplexity.evaluateStreaming(
                model: model, ids: tokenIds, parameters: parameters, streaming: streaming.parameters,
                progress: streaming.report("perplexity"))
            : try Perplexity.evaluate(model: model, ids: tokenIds, parameters: parameters) { done, total, _ in
                meter.update(done, of: total)
                return true
            }
        // Tokens through the model: every window's length.
        let stride = parameters.stride ?? parameters.context
        for window in Perplexity.windows(count: tokenIds.count, context: parameters.context, stride: stride) {
            processed += window.end - window.begin
        }
        return [
            "perplexity": result.perplexity, "nll": result.nll, "tokens": result.tokens,
            "tokens_per_s": Double(processed) / meter.elapsed,
        ]
    }

    func evaluateClassification(_ model: MoEModel, context: Int) throws -> [String: Any] {
        let path = data ?? ""
        guard case .classification(let classificationTask, let examples) = try loadDataset() else {
            throw ArgumentInputError(
                "\(path): --task classify needs a GLUE TSV file or JSONL records with \"text\" and \"label\"")
        }
        guard examples.contains(where: { $0.label != nil }) else { throw EvaluationError.missingLabels(file: path) }
        var promptTemplate: PromptTemplate?
        if let template {
            let loaded = try PromptTemplate.load(from: URL(fileURLWithPath: template))
            try loaded.validate(for: classificationTask, file: template)
            promptTemplate = loaded
        }
        let tokenizer = try loadTokenizer()
        let meter = ProgressLine("classify", unit: "examples")
        let result =
            streaming.streamLayers
            ? try Classification.evaluateStreaming(
                model: model, tokenizer: tokenizer, examples: examples, task: classificationTask,
                template: promptTemplate, maxLength: context, batchSize: batch ?? 8,
                streaming: streaming.parameters, progress: streaming.report("classify"))
            : try Classification.evaluate(
                model: model, tokenizer: tokenizer, examples: examples, task: classificationTask,
                template: promptTemplate, maxLength: context, batchSize: batch ?? 8
            ) { done, total in
                meter.update(done, of: total)
                return true
            }
        return [
            "accuracy": result.accuracy, "examples": result.examples, "labeled": result.labeled,
            "task": classificationTask.name.rawValue, "tokens_per_s": Double(result.tokens) / meter.elapsed,
        ]
    }

    func evaluateSummarization(_ model: MoEModel, context: Int) throws -> [String: Any] {
        let path = data ?? ""
        guard case .summarization(let examples) = try loadDataset() else {
            throw ArgumentInputError("\(path): --task summarize needs JSONL records with \"document\" and \"summary\"")
        }
        guard !examples.isEmpty else { throw TaskError.noExamples }
        let tokenizer = try loadTokenizer()
        let meter = ProgressLine("summarize", unit: "examples")
        let result = try Summarization.evaluate(
            model: model, tokenizer: tokenizer, examples: examples, maxNewTokens: maxNewTokens,
            maxLength: context, useStemmer: stemmer
        ) { done, total in
            meter.update(done, of: total)
            return true
        }
        return [
            "rouge1": result.rouge1, "rouge2": result.rouge2, "rougeL": result.rougeL, "examples": result.examples,
            "tokens_per_s": Double(result.generatedTokens) / meter.elapsed,
        ]
    }
}
