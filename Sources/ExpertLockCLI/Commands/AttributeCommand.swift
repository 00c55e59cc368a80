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

    @OptionGroup var modelPath: OptionalModelPathOption
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var taskOption: TaskOption
    @OptionGroup var longContext: ContextOptions
    @OptionGroup var forwardBatch: ForwardBatchOption
    @OptionGroup var criterionOption: CriterionOption
    @Option(
        parsing: .unconditional, help: "With --criterion ablation: sequences used for each masked-expert pass.",
        transform: OptionRange.int(atLeast: 1))
    var ablationSequences = 16
    @OptionGroup var mergeFiles: MergeFilesOption
    @OptionGroup var tracesOption: TracesOption
    @OptionGroup var shardOption: ShardOption
    @OptionGroup var outputFile: OutputFileOptions
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var streaming: StreamingOptions
    @OptionGroup var resumeOption: ResumeOption
    @OptionGroup var saveEveryOption: SaveEveryOption
    @OptionGroup var output: OutputOptions

    var out: String? { outputFile.out }
    var model: String? { modelPath.model }
    var criterion: AttributionCriterion? { criterionOption.criterion }
    var merge: [String] { mergeFiles.merge }
    var traces: [String] { tracesOption.traces }
    var data: String? { dataOptions.data }
    var task: TaskName { taskOption.task ?? .perplexity }
    var ids: String? { dataOptions.ids }
    var format: DataFormat { dataOptions.format }
    var limit: Int? { dataOptions.limit }
    var shard: String? { shardOption.shard }
    var saveEvery: Int { saveEveryOption.saveEvery ?? 1 }
    var context: Int? { longContext.context }
    var batch: Int { forwardBatch.batch ?? 4 }
    var overwrite: Bool { outputFile.overwrite }
    var resume: Bool { resumeOption.resume }

    /// What a run gives: the attribution, the file's JSON object, and whether an earlier run of
    /// the same attribution had already written it (a kill fell after the file, before the state went).
    struct Outcome {
        var attribution: ExpertAttribution
        var object: [String: Any]
        var finishedBefore = false
    }

    func run() async throws {
        try await runReportingErrors(output: out) {
            if !traces.isEmpty { return try runTraces() }
            let criterion = self.criterion ?? .soft
            let shard = try self.shard.map(Shard.init(parsing:))
            if shard != nil && criterion == .ablation {
                throw ArgumentInputError(
                    "--shard: measured ablation drops do not add across shards (use another --criterion)")
            }
            if resume && out == nil { throw ArgumentInputError("--resume needs --out (the state is saved beside it)") }
            // The file carries its run fingerprint: a merge of finished files has none to recognise.
            let output = try out.map {
                try ResumableOutput(
                    $0, layout: .atOnce(stateSuffix: ".state"), inputs: [model, data, ids] + merge, resume: resume,
                    overwrite: overwrite, recognisable: merge.isEmpty)
            }
            output?.removeStaleTemporaries()
            let outcome: Outcome
            if !merge.isEmpty {
                outcome = try mergeShards()
            } else {
                guard let model else { throw ArgumentInputError("attribute needs --model (or --merge FILES)") }
                if SwitchTransformersModel.isSwitchCheckpoint(URL(fileURLWithPath: model)) {
                    return try runEncoderDecoder(model: model, criterion: criterion)
                }
                outcome = try attribute(model: model, criterion: criterion, shard: shard, output: output)
            }
            if let output, !outcome.finishedBefore {
                try output.writeFile(
                    try JSONSerialization.data(withJSONObject: outcome.object, options: [.sortedKeys, .prettyPrinted]))
            }
            try printResult(outcome)
        }
    }

    /// `--merge`: the shards' files added up; all N shards of one run give that run's file.
    func mergeShards() throws -> Outcome {
        guard merge.count >= 2 else { throw ArgumentInputError("--merge needs at least two files") }
        let mergedRun = try ShardFiles.completeRun(merge)
        var merged = try ExpertAttribution.read(from: URL(fileURLWithPath: merge[0]))
        for file in merge.dropFirst() {
            merged = try merged.merged(with: try ExpertAttribution.read(from: URL(fileURLWithPath: file)))
        }
        var object = merged.jsonObject()
        if let mergedRun { object["run_fingerprint"] = mergedRun }  // all N shards: one run's file
        return Outcome(attribution: merged, object: object)
    }

    /// One pass of the model over the corpus (resumable with --out, streamed with --stream-layers).
    func attribute(model: String, criterion: AttributionCriterion, shard: Shard?, output: ResumableOutput?) throws
        -> Outcome
    {
        let options = try ModelOptions.parse(["--model", model])
        let context = try longContext.resolved(default: 512, model: model)
        if streaming.streamLayers && criterion == .ablation {
            throw ArgumentInputError(
                "--criterion ablation runs the model once per expert; it does not stream (drop --stream-layers)")
        }
        let loaded = precision.apply(to: try streaming.streamLayers ? streaming.load(model) : options.load())
        let sequences = try TaskCorpus.sequences(
            model: options, task: task, data: data, ids: ids, format: format, context: context, limit: limit)
        let allBatches = CorpusBatches.batches(sequences, batchSize: batch)
        // A shard is a slice of the whole run's batches: each batch is the one a single run
        // forms, so its statistics are the same bits.
        let batches = shard.map { Array(allBatches[$0.range(of: allBatches.count)]) } ?? allBatches
        let modelIdentity = ModelFolderIdentity.fingerprint(of: URL(fileURLWithPath: model))
        // In streamed files too: the two paths write the same file.
        let runFingerprint =
            out == nil && shard == nil
            ? nil
            : AttributionResumeState.fingerprint(
                // A bf16 run's statistics differ from f32's, so does its fingerprint (f32 runs keep theirs).
                modelPath: model + (precision.precision == .f32 ? "" : "\u{0}precision=bf16"),
                modelIdentity: modelIdentity, signature: ModelSignature(model: loaded),
                criterion: criterion, batches: allBatches)
        if let output,
            try output.finishedRun(matches: {
                let existing = (try? JSONSerialization.jsonObject(with: Data(contentsOf: output.url))) as? [String: Any]
                return runFingerprint != nil && existing?["run_fingerprint"] as? String == runFingerprint
                    && existing?["shard"] as? String == shard?.description
            })
        {
            Console.progress("\(output.path): an earlier run of this attribution finished it; nothing to resume")
            let existing = try JSONSerialization.jsonObject(with: Data(contentsOf: output.url)) as? [String: Any] ?? [:]
            return Outcome(
                attribution: try ExpertAttribution.read(from: output.url), object: existing, finishedBefore: true)
        }
        var result = try pass(
            loaded, model: model, batches: batches, criterion: criterion, output: output,
            fingerprint: runFingerprint.map { fp in shard.map { "\(fp) shard \($0)" } ?? fp })
        Console.progress("peak RSS: \(PeakMemory.residentBytes >> 20) MB")
        if criterion == .ablation {
            let subset = CorpusBatches.batches(Array(sequences.prefix(ablationSequences)), batchSize: batch)
            let ablationProgress = ProgressLine("ablation")
            result.ablation = try AblationImportance.measure(model: loaded, batches: subset) { done, total in
                ablationProgress.update(done: done, total: total, tokens: Int64(done))
                return true
            }
        }
        result.modelFingerprint = modelIdentity
        var object = result.jsonObject()
        if let ablation = result.ablation {
            var agreement: [String: Double] = [:]
            for c in [AttributionCriterion.soft, .frequency, .reap] {
                let rhos = zip(result.scores(c), ablation).map { RankCorrelation.spearman($0, $1) }
                agreement[c.rawValue] = rhos.reduce(0, +) / Double(max(rhos.count, 1))
            }
            object["criterion_agreement_spearman"] = agreement
        }
        if let runFingerprint { object["run_fingerprint"] = runFingerprint }
        if let shard { object["shard"] = shard.description }
        return Outcome(attribution: result, object: object)
    }

    /// The forward pass itself: streamed layer by layer, resumable from the state beside --out,
    /// or plain.
    func pass(
        _ loaded: MoEModel, model: String, batches: [TokenBatch], criterion: AttributionCriterion,
        output: ResumableOutput?, fingerprint: String?
    ) throws -> ExpertAttribution {
        let progress = ProgressLine("attribute")
        let report: (Int, Int, Int64) -> Bool = { done, total, tokens in
            progress.update(done: done, total: total, tokens: tokens)
            return true
        }
        if streaming.streamLayers {
            guard !resume else {
                throw ArgumentInputError("--resume: a --stream-layers pass cannot be resumed; run it again")
            }
            return try Attribution.runStreaming(
                model: loaded, modelPath: model, batches: batches, criterion: criterion,
                parameters: streaming.parameters, progress: streaming.report("attribute"))
        }
        guard let output, let stateURL = output.state else {
            return try Attribution.run(
                model: loaded, modelPath: model, batches: batches, criterion: criterion, progress: report)
        }
        if let note = output.missingStateNote { Console.progress(note) }
        if resume, let saved = try? AttributionResumeState.read(stateURL) {
            progress.resumed(done: saved.batchesDone, tokens: saved.partial.tokens)
        }
        InterruptHint.install(command: "attribute", what: "the attribution so far")
        return try Attribution.runResumable(
            model: loaded, modelPath: model, batches: batches, criterion: criterion, stateURL: stateURL,
            resume: resume, saveEvery: saveEvery, fingerprint: fingerprint, progress: report)
    }

    func printResult(_ outcome: Outcome) throws {
        if output.json { return try Console.printJSON(outcome.object) }
        let attribution = outcome.attribution
        Console.progress("tokens: \(attribution.tokens)")
        for (l, layer) in attribution.shares(attribution.criterion).enumerated() {
            let s = layer.map { String(format: "%.3f", $0) }.joined(separator: " ")
            print("layer \(attribution.signature.sparseLayers[l]): \(s)")
        }
        if let out { print("wrote \(out)") }
    }
}

/// The task whose data a command reads (the library's `TaskKind`).
typealias TaskName = TaskKind
extension TaskKind: ExpressibleByArgument {
    /// Also `lm`, the name `train` gives the language-modeling task.
    public init?(argument: String) {
        self.init(rawValue: argument == "lm" ? TaskKind.perplexity.rawValue : argument)
    }
}

extension DataFormat: ExpressibleByArgument {}
extension AttributionCriterion: ExpressibleByArgument {}
