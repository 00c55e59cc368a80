import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `expertlock attribute`: expert attribution over a corpus (CLI.md schema), or the merge of shards.
struct AttributeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attribute",
        abstract: "Score every expert over a corpus: soft routing mass, top-k frequency, REAP, measured ablation.",
        discussion: """
            One forward pass over the corpus accumulates per-layer, per-expert sums (memory stays one batch).

            Shards merge exactly: expertlock attribute --merge a.json b.json --out all.json. --shard I/N \
            (I from 0) attributes the I-th of N contiguous slices of the batches; merging the N files gives \
            one run's file byte for byte (docs/SHARDS.md: Slurm, Kubernetes, Ray).

            --traces FILE... attributes from serving engines' routing traces instead of running the model \
            (vLLM --enable-return-routed-experts, SGLang return_routed_experts, a transformers router-logits \
            .safetensors dump; docs/TRACES.md): --model then needs only config.json. Expert ids give \
            frequency; router logits also soft mass. The file says so in "source".

            --stream-layers attributes a checkpoint larger than memory: every batch goes through layer l \
            before layer l+1 is read, so one layer's weights are in memory at a time; the result is the same.

            With --out the statistics are saved as the run goes; a killed run continues with --resume and \
            gives the same file bit for bit (not with --stream-layers, whose pass is not resumable).
            """)

    @Option(help: "Hugging Face model folder.", transform: ModelPath.folder)
    var model: String?
    @Option(help: "Data file (text, GLUE TSV or JSONL).") var data: String?
    @Option(help: "Token ids instead of --data: a JSON array or whitespace-separated integers.") var ids: String?
    @Option(help: "perplexity (language modeling text), classify or summarize.") var task: TaskName = .perplexity
    @Option(help: "Data format: auto, text, glue, jsonl.") var format: DataFormat = .auto
    @Option(
        parsing: .unconditional,
        help: "Tokens per sequence for text corpora (default 512, at most max_position_embeddings).",
        transform: OptionRange.int(atLeast: 2))
    var context: Int?
    @OptionGroup var longContext: LongContextOption
    @Option(parsing: .unconditional, help: "Sequences per forward pass.", transform: OptionRange.int(atLeast: 1))
    var batch = 4
    @Option(
        parsing: .unconditional, help: "Use at most N examples (text: N sequences).",
        transform: OptionRange.int(atLeast: 1))
    var limit: Int?
    @Option(
        help: """
            Ranking written to the file: soft, frequency, reap or ablation (default: soft; with --traces the first \
            the traces support).
            """)
    var criterion: AttributionCriterion?
    @Option(
        parsing: .unconditional, help: "With --criterion ablation: sequences used for each masked-expert pass.",
        transform: OptionRange.int(atLeast: 1))
    var ablationSequences = 16
    @Option(parsing: .upToNextOption, help: "Attribution files to merge (instead of running a model).") var merge: [String] = []
    @Option(
        parsing: .upToNextOption,
        help: "Routing traces to attribute instead of the model (vLLM/SGLang JSON(L), router-logits .safetensors).")
    var traces: [String] = []
    @Option(help: "Only shard I of N (I from 0): a contiguous slice of the batches (of the requests with --traces).")
    var shard: String?
    @Option(help: "Output attribution file.") var out: String?
    @Flag(help: "Replace an existing output file.") var overwrite = false
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var streaming: StreamingOptions
    @Flag(help: "Continue a killed run from the state saved beside --out (.OUT.state).") var resume = false
    @Option(
        parsing: .unconditional, help: "With --out: save the statistics every N batches, for --resume.",
        transform: OptionRange.int(atLeast: 1))
    var saveEvery = 1
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors(output: out) {
            if !traces.isEmpty { return try runTraces() }
            let criterion = self.criterion ?? .soft
            let shard = try self.shard.map(Shard.init(parsing:))
            if shard != nil && criterion == .ablation {
                throw ArgumentInputError(
                    "--shard: measured ablation drops do not add across shards (use another --criterion)")
            }
            let attribution: ExpertAttribution
            if resume && out == nil { throw ArgumentInputError("--resume needs --out (the state is saved beside it)") }
            if let out { try refuseOutputOverlappingInputs(out, inputs: [model, data, ids] + merge) }
            // A kill after the finished file is in place and its state deleted leaves only the file:
            // `--resume` recognises it by its `run_fingerprint` (checked once the batches are known)
            // instead of refusing its own result.
            let outURL = out.map { URL(fileURLWithPath: $0) }
            let state = outURL.flatMap { resume ? AttributionResumeState.url(forOutput: $0) : nil }
            let maybeFinished =
                merge.isEmpty && outURL.map { OutputDirectory.mayBeFinished($0, overwrite: overwrite, resumingFrom: state) } == true
            let replace = maybeFinished
                ? false : try outURL.map { try OutputDirectory.mayReplace($0, overwrite: overwrite, resumingFrom: state) } ?? overwrite
            var runFingerprint: String?
            var finished: [String: Any]?
            var mergedRun: String?
            if let out, resume { AtomicFile.removeStaleTemporaries(of: URL(fileURLWithPath: out)) }
            if !merge.isEmpty {
                guard merge.count >= 2 else { throw ArgumentInputError("--merge needs at least two files") }
                mergedRun = try ShardFiles.completeRun(merge)
                var merged = try ExpertAttribution.read(from: URL(fileURLWithPath: merge[0]))
                for file in merge.dropFirst() {
                    merged = try merged.merged(with: try ExpertAttribution.read(from: URL(fileURLWithPath: file)))
                }
                attribution = merged
            } else {
                guard let model else { throw ArgumentInputError("attribute needs --model (or --merge FILES)") }
                if SwitchTransformersModel.isSwitchCheckpoint(URL(fileURLWithPath: model)) {
                    return try runEncoderDecoder(model: model, criterion: criterion)
                }
                let options = try ModelOptions.parse(["--model", model])
                let context = try longContext.context(context, default: 512, model: model)
                if streaming.streamLayers && criterion == .ablation {
                    throw ArgumentInputError("--criterion ablation runs the model once per expert; it does not stream (drop --stream-layers)")
                }
                let loaded = precision.apply(to: try streaming.streamLayers ? streaming.load(model) : options.load())
                let sequences = try TaskCorpus.sequences(
                    model: options, task: task, data: data, ids: ids, format: format, context: context, limit: limit)
                let allBatches = CorpusBatches.batches(sequences, batchSize: batch)
                // A shard is a slice of the whole run's batches: each batch is the one a single run
                // forms, so its statistics are the same bits.
                let batches = shard.map { Array(allBatches[$0.range(of: allBatches.count)]) } ?? allBatches
                let modelIdentity = ModelFolderIdentity.fingerprint(of: URL(fileURLWithPath: model))
                if out != nil || shard != nil {  // in streamed files too: the two paths write the same file
                    runFingerprint = AttributionResumeState.fingerprint(
                        // A bf16 run's statistics differ from f32's, so does its fingerprint (f32 runs keep theirs).
                        modelPath: model + (precision.precision == .f32 ? "" : "\u{0}precision=bf16"),
                        modelIdentity: modelIdentity, signature: ModelSignature(model: loaded),
                        criterion: criterion, batches: allBatches)
                }
                if maybeFinished, let out {
                    let existing = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))))
                        as? [String: Any]
                    guard let existing, let runFingerprint, existing["run_fingerprint"] as? String == runFingerprint,
                          existing["shard"] as? String == shard?.description
                    else {
                        throw OutputError.exists(out)
                    }
                    Console.progress("\(out): an earlier run of this attribution finished it; nothing to resume")
                    finished = existing
                }
                let progress = ProgressLine("attribute")
                if let out, !streaming.streamLayers, finished == nil {
                    let stateURL = AttributionResumeState.url(forOutput: URL(fileURLWithPath: out))
                    ResumeNote.missingState(stateURL, resume: resume)
                    if resume, let saved = try? AttributionResumeState.read(stateURL) {
                        progress.resumed(done: saved.batchesDone, tokens: saved.partial.tokens)
                    }
                    InterruptHint.install(command: "attribute", what: "the attribution so far")
                }
                let report: (Int, Int, Int64) -> Bool = { done, total, tokens in
                    progress.update(done: done, total: total, tokens: tokens)
                    return true
                }
                var result: ExpertAttribution
                if finished != nil {
                    result = try ExpertAttribution.read(from: URL(fileURLWithPath: out!))
                } else if streaming.streamLayers {
                    guard !resume else {
                        throw ArgumentInputError("--resume: a --stream-layers pass cannot be resumed; run it again")
                    }
                    result = try Attribution.runStreaming(
                        model: loaded, modelPath: model, batches: batches, criterion: criterion,
                        parameters: streaming.parameters, progress: streaming.report("attribute"))
                } else if let out {
                    result = try Attribution.runResumable(
                        model: loaded, modelPath: model, batches: batches, criterion: criterion,
                        stateURL: AttributionResumeState.url(forOutput: URL(fileURLWithPath: out)), resume: resume,
                        saveEvery: saveEvery,
                        fingerprint: runFingerprint.map { fp in shard.map { "\(fp) shard \($0)" } ?? fp },
                        progress: report)
                } else {
                    result = try Attribution.run(
                        model: loaded, modelPath: model, batches: batches, criterion: criterion, progress: report)
                }
                Console.progress("peak RSS: \(PeakMemory.residentBytes >> 20) MB")
                if criterion == .ablation && finished == nil {
                    let subset = CorpusBatches.batches(Array(sequences.prefix(ablationSequences)), batchSize: batch)
                    let ablationProgress = ProgressLine("ablation")
                    result.ablation = try AblationImportance.measure(model: loaded, batches: subset) { done, total in
                        ablationProgress.update(done: done, total: total, tokens: Int64(done))
                        return true
                    }
                }
                if finished == nil { result.modelFingerprint = modelIdentity }
                attribution = result
            }
            var object = finished ?? attribution.jsonObject()
            if finished == nil, let ablation = attribution.ablation {
                var agreement: [String: Double] = [:]
                for c in [AttributionCriterion.soft, .frequency, .reap] {
                    let rhos = zip(attribution.scores(c), ablation).map { RankCorrelation.spearman($0, $1) }
                    agreement[c.rawValue] = rhos.reduce(0, +) / Double(max(rhos.count, 1))
                }
                object["criterion_agreement_spearman"] = agreement
            }
            if finished == nil, let runFingerprint { object["run_fingerprint"] = runFingerprint }
            if finished == nil, let shard { object["shard"] = shard.description }
            if let mergedRun { object["run_fingerprint"] = mergedRun }  // all N shards: one run's file
            if let out, finished == nil {
                let url = URL(fileURLWithPath: out)
                if FileManager.default.fileExists(atPath: url.path) && !replace { throw OutputError.exists(out) }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
                try AtomicFile.write(data, to: url)
                try? FileManager.default.removeItem(at: AttributionResumeState.url(forOutput: url))
            }
            if output.json {
                try Console.printJSON(object)
            } else {
                Console.progress("tokens: \(attribution.tokens)")
                for (l, layer) in attribution.shares(attribution.criterion).enumerated() {
                    let s = layer.map { String(format: "%.3f", $0) }.joined(separator: " ")
                    print("layer \(attribution.signature.sparseLayers[l]): \(s)")
                }
                if let out { print("wrote \(out)") }
            }
        }
    }
}

/// The task whose data a command reads.
enum TaskName: String, ExpressibleByArgument, CaseIterable {
    case perplexity, classify, summarize
}

extension DataFormat: ExpressibleByArgument {}
extension AttributionCriterion: ExpressibleByArgument {}
