import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `expertlock sweep`: the prunability curve — quality against experts kept, ranked and random.
struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract:
            "Prunability curve: the task metric after keeping k experts per layer (ranked by attribution, and at "
            + "random).",
        discussion: """
            Writes curve.json, curve.csv, table.md and curve.svg into --out. Attribution comes from --attribution FILE \
            (then --data is not needed), or is computed on --data. The metric is measured on --eval-data (default: \
            --data).

            Progress is saved after every point; a killed sweep continues with --resume and writes the same curve.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var taskOption: TaskOption
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var generation: GenerationOption
    @OptionGroup var heldOut: EvalDataOption
    @OptionGroup var attributionFile: AttributionFileOption
    @OptionGroup var keepList: KeepListOption<Defaults>
    @Option(help: "Thresholds τ on the per-layer share, comma-separated.", transform: CommaList<Double>.parse)
    var thresholds = CommaList<Double>([])
    @Option(
        help: "Attribution criteria, comma-separated (soft, frequency, reap).",
        transform: CommaList<AttributionCriterion>.parse)
    var criteria = CommaList<AttributionCriterion>([.soft, .frequency, .reap])
    @Option(
        help:
            """
            Also merge to each k by these methods (hc-smoe, reap-aligned, comma-separated): merge vs removal on \
            one plot.
            """,
        transform: CommaList<ExpertMerging.Method>.parse)
    var merge = CommaList<ExpertMerging.Method>([])
    @Option(parsing: .unconditional, help: "Random-pruning seeds (baseline).", transform: OptionRange.int(atLeast: 0))
    var seeds = 3
    @Option(
        parsing: .unconditional,
        help: "Seed of the first random subset (the others follow); give each model and task its own.",
        transform: OptionRange.int(atLeast: 0))
    var randomSeed = 0
    @OptionGroup var longContext: ContextOptions
    @OptionGroup var forwardBatch: ForwardBatchOption
    @OptionGroup var outputFolder: OutputFolderOptions
    @OptionGroup var resumeOption: ResumeOption
    @OptionGroup var output: OutputOptions

    /// The sweep's default points: every k from nearly all experts of a Mixtral-sized layer down to one.
    enum Defaults: KeepListDefaults { static let keeps = [8, 6, 4, 2, 1] }

    var keep: CommaList<Int> { keepList.keep }
    var out: String { outputFolder.out }
    var data: String? { dataOptions.data }
    var task: TaskName { taskOption.task ?? .perplexity }
    var evalData: String? { heldOut.evalData }
    var ids: String? { dataOptions.ids }
    var format: DataFormat { dataOptions.format }
    var limit: Int? { dataOptions.limit }
    var maxNewTokens: Int { generation.maxNewTokens ?? 48 }
    var attribution: String? { attributionFile.attribution }
    var context: Int? { longContext.context }
    var batch: Int { forwardBatch.batch ?? 4 }
    var overwrite: Bool { outputFolder.overwrite }
    var resume: Bool { resumeOption.resume }

    func validate() throws {
        if criteria.items.contains(.ablation) {
            throw ValidationError("--criteria: ablation is not a sweep criterion (soft, frequency or reap)")
        }
        if let tau = thresholds.items.first(where: { !(0...1).contains($0) }) {
            throw ValidationError(
                "--thresholds: \(tau) is out of range: must be from 0 to 1 (a threshold is on a layer's share, which "
                    + "sums to 1)")
        }
        if !merge.items.isEmpty && data == nil && ids == nil {
            throw ValidationError("--merge calibrates on --data or --ids")
        }
    }

    func run() async throws {
        try await runReportingErrors(output: out) {
            let output = try ResumableOutput(
                out, layout: .atOnce(stateSuffix: ".sweep-state"),
                inputs: [modelOptions.model, data, evalData, ids, attribution],
                resume: resume, overwrite: overwrite)
            if SwitchTransformersModel.isSwitchCheckpoint(modelOptions.url) { return try runEncoderDecoder() }
            let model = try modelOptions.load()
            let (job, referenceK) = try makeJob(model: model)
            if !output.mayBeFinished, let note = output.missingStateNote { Console.progress(note) }
            InterruptHint.install(command: "sweep", what: "every finished point")
            let progress = ProgressLine("sweep", unit: "points")
            let (curve, finishedBefore) = try PrunabilitySweep.runResumable(
                job, output: output,
                progress: { done, total in
                    progress.update(done: done, total: total, tokens: Int64(done))
                    return true
                },
                resumed: { progress.resumed(done: $0, tokens: Int64($0)) },
                write: { try Self.write($0, referenceK: referenceK, to: $1) })
            if finishedBefore {
                Console.progress("\(out): an earlier run of this sweep finished it; nothing to resume")
            }
            try printResult(curve, referenceK: referenceK)
        }
    }

    /// What to measure: the kept counts the model allows, the metric, the ranking's source and the
    /// run fingerprint (every setting and input file: a state written for others is refused).
    func makeJob(model: MoEModel) throws -> (PrunabilitySweep.Job, referenceK: Int) {
        let identity = ModelFolderIdentity.fingerprint(of: modelOptions.url)
        let counts = model.moeBlocks.map(\.expertCount)
        let referenceK = max(1, (counts.min() ?? 1) / 4)
        let fewest = counts.min() ?? 0
        let keeps = keep.items.filter { $0 <= fewest }
        let skipped = keep.items.filter { $0 > fewest }
        if !skipped.isEmpty {
            Console.progress(
                "note: "
                    + "--keep \(skipped.map(String.init).joined(separator: ",")) skipped: the smallest sparse layer "
                    + "has "
                    + "\(fewest) experts")
        }
        let context = try longContext.resolved(default: 256, model: modelOptions.model)
        let merges = merge.items
        let evaluation = try TaskCorpus.task(
            model: modelOptions, task: task, data: evalData ?? data, ids: evalData == nil ? ids : nil, format: format,
            context: context, batch: batch, limit: limit, maxNewTokens: maxNewTokens, measured: true)
        if task == .perplexity { _ = try TaskCorpus.sequences(evaluation) }  // at least 2 tokens, named by file
        let mergeSetting: [String] = merges.isEmpty ? [] : ["merge=" + merges.map(\.rawValue).joined(separator: ",")]
        let fingerprint = SweepResumeState.fingerprint(
            settings: [
                modelOptions.model, identity, task.rawValue,
                format.rawValue, "\(maxNewTokens)", keeps.map(String.init).joined(separator: ","),
                thresholds.items.map { "\($0)" }.joined(separator: ","),
                criteria.items.map(\.rawValue).joined(separator: ","),
                "\(seeds)" + (randomSeed == 0 ? "" : "@\(randomSeed)"),
                "\(context)", "\(batch)", "\(limit ?? -1)", data ?? "-", evalData ?? "-", ids ?? "-",
                attribution ?? "-",
                    // f32 runs keep their fingerprint; bf16 ones say so.
            ] + mergeSetting + (modelOptions.precisionOptions.precision == .f32 ? [] : ["precision=bf16"]),
            files: [data, evalData, ids, attribution].compactMap { $0 }.map { URL(fileURLWithPath: $0) })
        // Read only when needed: with --attribution FILE (or a saved state) no attribution data is needed.
        let sequences = { [self] in
            try TaskCorpus.sequences(
                TaskCorpus.task(
                    model: modelOptions, task: task, data: data, ids: ids, format: format, context: context,
                    batch: batch, limit: limit))
        }
        let job = PrunabilitySweep.Job(
            model: model, metricName: evaluation.metric.name, higherIsBetter: evaluation.metric.higherIsBetter,
            parameters: .init(
                keeps: keeps, thresholds: thresholds.items, criteria: criteria.items, randomSeeds: seeds,
                firstRandomSeed: UInt64(randomSeed), merges: merges),
            evaluate: evaluation.evaluate, fingerprint: fingerprint,
            ranking: { [self] in
                if let attribution {
                    let ranking = try ExpertAttribution.read(from: URL(fileURLWithPath: attribution))
                    try ranking.checkBelongs(
                        to: model, directory: modelOptions.url, file: attribution, identity: identity)
                    return ranking
                }
                let p = ProgressLine("attribute")
                return try Attribution.run(
                    model: model, modelPath: modelOptions.model,
                    batches: CorpusBatches.batches(try sequences(), batchSize: batch)
                ) { done, total, tokens in
                    p.update(done: done, total: total, tokens: tokens)
                    return true
                }
            },
            // Merging calibrates on the attribution data (expert outputs and REAP saliencies).
            calibration: { [batch] in
                merges.isEmpty
                    ? nil
                    : try MergeCalibration.run(
                        model: model, batches: CorpusBatches.batches(try sequences(), batchSize: batch))
            })
        return (job, referenceK)
    }

    static func write(_ curve: PrunabilityCurve, referenceK: Int, to dir: URL) throws {
        try AtomicFile.write(try JSONFileStyle.encoder().encode(curve), to: dir.appendingPathComponent("curve.json"))
        try AtomicFile.write(curve.csv(), to: dir.appendingPathComponent("curve.csv"))
        try AtomicFile.write(
            curve.markdownTable() + "\n" + curve.resistanceMarkdown(referenceK: referenceK),
            to: dir.appendingPathComponent("table.md"))
        try AtomicFile.write(
            curve.svg(title: "Prunability: \(curve.metricName) vs experts kept"),
            to: dir.appendingPathComponent("curve.svg"))
    }

    func printResult(_ curve: PrunabilityCurve, referenceK: Int) throws {
        let resistance = curve.resistance(referenceK: referenceK)
        if output.json {
            try Console.printJSON([
                "full": curve.full, "metric": curve.metricName, "out": out, "reference_k": referenceK,
                "resistance": resistance,
                "curve": curve.points.map { p -> [String: Any] in
                    [
                        "k": p.k ?? NSNull(), "tau": p.tau ?? NSNull(), "strategy": p.strategy,
                        "seed": p.seed ?? NSNull(), "metric": p.metric,
                    ]
                },
            ])
        } else {
            print(curve.markdownTable())
            print(curve.resistanceMarkdown(referenceK: referenceK))
            print("wrote \(out) (curve.json, curve.csv, table.md, curve.svg)")
        }
    }
}
