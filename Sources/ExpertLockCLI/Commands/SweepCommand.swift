import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `expertlock sweep`: the prunability curve — quality against experts kept, ranked and random.
struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Prunability curve: the task metric after keeping k experts per layer (ranked by attribution, and at random).",
        discussion: """
            Writes curve.json, curve.csv, table.md and curve.svg into --out. Attribution comes from --attribution FILE \
            (then --data is not needed), or is computed on --data. The metric is measured on --eval-data (default: --data).

            Progress is saved after every point; a killed sweep continues with --resume and writes the same curve.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "perplexity (metric: perplexity), classify (accuracy) or summarize (ROUGE-L F×100).") var task: TaskName = .perplexity
    @Option(help: "Data format: auto, text, glue, jsonl.") var format: DataFormat = .auto
    @Option(
        parsing: .unconditional, help: "Summaries: most tokens generated per example.",
        transform: OptionRange.int(atLeast: 1))
    var maxNewTokens = 48
    @Option(help: "Attribution data (task data the attacker has).") var data: String?
    @Option(help: "Evaluation data (default: --data).") var evalData: String?
    @Option(help: "Token ids for attribution and evaluation instead of text.") var ids: String?
    @Option(help: "An attribution file instead of computing one on --data.") var attribution: String?
    @Option(help: "Experts kept per layer, comma-separated.") var keep = "8,6,4,2,1"
    @Option(help: "Thresholds τ on the per-layer share, comma-separated.") var thresholds = ""
    @Option(help: "Attribution criteria, comma-separated (soft, frequency, reap).") var criteria = "soft,frequency,reap"
    @Option(
        help: "Also merge to each k by these methods (hc-smoe, reap-aligned, comma-separated): merge vs removal on one plot.")
    var merge = ""
    @Option(parsing: .unconditional, help: "Random-pruning seeds (baseline).", transform: OptionRange.int(atLeast: 0))
    var seeds = 3
    @Option(
        parsing: .unconditional,
        help: "Seed of the first random subset (the others follow); give each model and task its own.",
        transform: OptionRange.int(atLeast: 0))
    var randomSeed = 0
    @Option(
        parsing: .unconditional,
        help: "Tokens per sequence / perplexity window (default 256, at most max_position_embeddings).",
        transform: OptionRange.int(atLeast: 2))
    var context: Int?
    @OptionGroup var longContext: LongContextOption
    @Option(parsing: .unconditional, help: "Sequences per forward pass.", transform: OptionRange.int(atLeast: 1))
    var batch = 4
    @Option(
        parsing: .unconditional, help: "Use at most N sequences for attribution and evaluation.",
        transform: OptionRange.int(atLeast: 1))
    var limit: Int?
    @Option(help: "Output folder.") var out: String
    @Flag(help: "Replace an existing output folder.") var overwrite = false
    @Flag(help: "Continue a killed sweep at its next point (state saved beside --out as .OUT.sweep-state).") var resume = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors(output: out) {
            try refuseOutputOverlappingInputs(out, inputs: [modelOptions.model, data, evalData, ids, attribution])
            if SwitchTransformersModel.isSwitchCheckpoint(modelOptions.url) { return try runEncoderDecoder() }
            let outURL = URL(fileURLWithPath: out)
            let stateURL = SweepResumeState.url(forOutput: outURL)
            // A kill after the finished output is in place and its state deleted leaves only the
            // output: `--resume` then recognises it by the run marker inside (checked below, once the
            // fingerprint is known) instead of refusing its own result.
            let maybeFinished = OutputDirectory.mayBeFinished(outURL, overwrite: overwrite, resumingFrom: resume ? stateURL : nil)
            let replace = maybeFinished
                ? false : try OutputDirectory.mayReplace(outURL, overwrite: overwrite, resumingFrom: resume ? stateURL : nil)
            let model = try modelOptions.load()
            let identity = ModelFolderIdentity.fingerprint(of: modelOptions.url)
            let counts = model.moeBlocks.map(\.expertCount)
            let referenceK = max(1, (counts.min() ?? 1) / 4)
            let fewest = counts.min() ?? 0
            let requested = try Self.integers(keep, option: "--keep")
            let keeps = requested.filter { $0 <= fewest }
            let skipped = requested.filter { $0 > fewest }
            if !skipped.isEmpty {
                Console.progress(
                    "note: --keep \(skipped.map(String.init).joined(separator: ",")) skipped: the smallest sparse layer has \(fewest) experts")
            }
            let taus = try OptionRange.doubles(
                thresholds, option: "--thresholds", in: 0...1,
                why: " (a threshold is on a layer's share, which sums to 1)")
            let context = try longContext.context(context, default: 256, model: modelOptions.model)
            let criteriaList = try criteria.split(separator: ",").map { part -> AttributionCriterion in
                guard let c = AttributionCriterion(rawValue: part.trimmingCharacters(in: .whitespaces)), c != .ablation else {
                    throw ArgumentInputError("--criteria: '\(part)' is not soft, frequency or reap")
                }
                return c
            }
            let merges = try merge.split(separator: ",").map { part -> ExpertMerging.Method in
                guard let m = ExpertMerging.Method(rawValue: part.trimmingCharacters(in: .whitespaces)) else {
                    throw ArgumentInputError("--merge: '\(part)' is not hc-smoe or reap-aligned")
                }
                return m
            }
            if !merges.isEmpty && data == nil && ids == nil {
                throw ArgumentInputError("--merge calibrates on --data or --ids")
            }
            let metric = try TaskCorpus.metric(
                model: modelOptions, task: task, data: evalData ?? data, ids: evalData == nil ? ids : nil, format: format,
                context: context, batch: batch, limit: limit, maxNewTokens: maxNewTokens)
            let mergeSetting: [String] = merges.isEmpty ? [] : ["merge=" + merges.map(\.rawValue).joined(separator: ",")]
            let fingerprint = SweepResumeState.fingerprint(
                settings: [
                    modelOptions.model, identity, task.rawValue,
                    format.rawValue, "\(maxNewTokens)", keeps.map(String.init).joined(separator: ","),
                    taus.map { "\($0)" }.joined(separator: ","), criteriaList.map(\.rawValue).joined(separator: ","),
                    "\(seeds)" + (randomSeed == 0 ? "" : "@\(randomSeed)"),
                    "\(context)", "\(batch)", "\(limit ?? -1)", data ?? "-", evalData ?? "-", ids ?? "-", attribution ?? "-",
                ] + mergeSetting + (modelOptions.precisionOptions.precision == .f32 ? [] : ["precision=bf16"]),  // f32 runs keep theirs
                files: [data, evalData, ids, attribution].compactMap { $0 }.map { URL(fileURLWithPath: $0) })
            let marker = outURL.appendingPathComponent(SweepResumeState.runMarkerName)
            let finished: PrunabilityCurve?
            if maybeFinished {
                guard (try? String(contentsOf: marker, encoding: .utf8)) == fingerprint else { throw OutputError.exists(out) }
                finished = try JSONFileStyle.decode(
                    PrunabilityCurve.self, from: Data(contentsOf: outURL.appendingPathComponent("curve.json")))
                Console.progress("\(out): an earlier run of this sweep finished it; nothing to resume")
            } else {
                finished = nil
            }
            if resume && finished == nil {
                AtomicFile.removeStaleTemporaries(of: stateURL)
                OutputDirectory.removeStaleTemporaries(of: outURL)
            }
            if finished == nil { ResumeNote.missingState(stateURL, resume: resume) }
            let saved = resume && finished == nil ? try SweepResumeState.read(stateURL) : nil
            InterruptHint.install(command: "sweep", what: "every finished point")
            if let saved, saved.fingerprint != fingerprint {
                throw PruningError.badSweepState(file: stateURL.path, reason: "written for other data or options")
            }
            let curve: PrunabilityCurve
            if let finished {
                curve = finished
            } else {
                let ranking: ExpertAttribution
                if let saved {
                    ranking = saved.attribution
                } else if let attribution {
                    ranking = try ExpertAttribution.read(from: URL(fileURLWithPath: attribution))
                    try ranking.checkBelongs(
                        to: model, directory: modelOptions.url, file: attribution, identity: identity)
                } else {
                    // Read only here: with --attribution FILE (or a saved state) no attribution data is needed.
                    let attributionSequences = try TaskCorpus.sequences(
                        model: modelOptions, task: task, data: data, ids: ids, format: format, context: context, limit: limit)
                    let p = ProgressLine("attribute")
                    ranking = try Attribution.run(
                        model: model, modelPath: modelOptions.model, batches: CorpusBatches.batches(attributionSequences, batchSize: batch)
                    ) { done, total, tokens in
                        p.update(done: done, total: total, tokens: tokens)
                        return true
                    }
                }
                if saved == nil {
                    try SweepResumeState(fingerprint: fingerprint, attribution: ranking, progress: .init()).write(to: stateURL)
                }
                // Merging calibrates on the attribution data (expert outputs and REAP saliencies).
                let calibration = merges.isEmpty ? nil : try MergeCalibration.run(
                    model: model, batches: CorpusBatches.batches(
                        try TaskCorpus.sequences(
                            model: modelOptions, task: task, data: data, ids: ids, format: format, context: context,
                            limit: limit), batchSize: batch))
                let progress = ProgressLine("sweep", unit: "points")
                if let saved {
                    progress.resumed(done: saved.progress.points.count, tokens: Int64(saved.progress.points.count))
                }
                let computed = try PrunabilitySweep.run(
                    model: model, attribution: ranking, metricName: metric.name, higherIsBetter: metric.higherIsBetter,
                    parameters: .init(keeps: keeps, thresholds: taus, criteria: criteriaList, randomSeeds: seeds,
                        firstRandomSeed: UInt64(randomSeed), merges: merges),
                    evaluate: metric.evaluate,
                    progress: { done, total in
                        progress.update(done: done, total: total, tokens: Int64(done))
                        return true
                    },
                    resume: saved?.progress,
                    save: { try SweepResumeState(fingerprint: fingerprint, attribution: ranking, progress: $0).write(to: stateURL) },
                    calibration: calibration)
                try OutputDirectory.write(
                    to: outURL, overwrite: replace,
                    inputs: [modelOptions.model, data, evalData, ids, attribution].compactMap { $0 }.map { URL(fileURLWithPath: $0) }
                ) { dir in
                    try AtomicFile.write(
                        try JSONFileStyle.encoder().encode(computed), to: dir.appendingPathComponent("curve.json"))
                    try AtomicFile.write(computed.csv(), to: dir.appendingPathComponent("curve.csv"))
                    try AtomicFile.write(
                        computed.markdownTable() + "\n" + computed.resistanceMarkdown(referenceK: referenceK),
                        to: dir.appendingPathComponent("table.md"))
                    try AtomicFile.write(
                        computed.svg(title: "Prunability: \(computed.metricName) vs experts kept"),
                        to: dir.appendingPathComponent("curve.svg"))
                    try AtomicFile.write(Data(fingerprint.utf8), to: dir.appendingPathComponent(SweepResumeState.runMarkerName))
                }
                try? FileManager.default.removeItem(at: stateURL)
                curve = computed
            }
            let resistance = curve.resistance(referenceK: referenceK)
            if output.json {
                try Console.printJSON([
                    "full": curve.full, "metric": curve.metricName, "out": out, "reference_k": referenceK,
                    "resistance": resistance,
                    "curve": curve.points.map { p -> [String: Any] in
                        ["k": p.k ?? NSNull(), "tau": p.tau ?? NSNull(), "strategy": p.strategy, "seed": p.seed ?? NSNull(), "metric": p.metric]
                    },
                ])
            } else {
                print(curve.markdownTable())
                print(curve.resistanceMarkdown(referenceK: referenceK))
                print("wrote \(out) (curve.json, curve.csv, table.md, curve.svg)")
            }
        }
    }

    static func integers(_ list: String, option: String) throws -> [Int] {
        try list.split(separator: ",").map { part in
            guard let v = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw ArgumentInputError("\(option): '\(part)' is not an integer")
            }
            return v
        }
    }
}
