import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

/// `expertlock audit`: the paper's whole study on the user's own checkpoint, one report in which
/// every finding carries its interval (AuditPipeline in the library does the work).
struct AuditCommand: AsyncParsableCommand, ActiveLearningCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Audit a checkpoint: attribution → sweep → prune → re-align → provenance, with intervals.",
        discussion: """
            --task classify. --data is the attacker's pool (attribution on its first --attribution-examples rows, \
            active learning over all of it), --eval-data the held-out set (every row by default). Writes --out/report/ \
            (README.md, prunability.svg, recovery.svg, results.json); --out/stages/ and --out/realign/ hold what is \
            measured as it completes, so a killed audit continues with --resume. Progress and ETA go to stderr; \
            --json prints one object with the report paths and every finding. --defense DIR (repeatable) audits \
            a defended model the same way (same tokenizer, data and settings, in --out/defenses/NAME/) and adds a \
            table comparing, for the audited model and each defense, the best attacker's area, drop at k, recovery \
            and AUROC before and after pruning.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var taskOption: TaskOption
    @Option(help: "Attacker's data: the unlabeled pool with the oracle's labels (GLUE .tsv or .jsonl).") var data:
        String
    @OptionGroup var activeLearning: ActiveLearningOptions<Defaults>
    @OptionGroup var keepList: KeepListOption<Defaults>
    @Option(help: "Random expert subsets per k.") var randomSubsets = 10
    @Option(help: "Experts per layer the attacker keeps (default: a quarter).") var pruneK: Int?
    @Option(help: "Pool rows the attacker attributes on.") var attributionExamples = 512
    @Option(help: "A defended model folder to attack the same way and compare with (repeatable; same tokenizer).")
    var defense: [String] = []
    @OptionGroup var outputFolder: OutputFolderOptions
    @OptionGroup var resumeOption: ResumeOption
    @OptionGroup var output: OutputOptions

    /// The audit's re-alignment defaults: a quick study, several strategies and seeds.
    enum Defaults: ActiveLearningDefaults, KeepListDefaults {
        static let keeps = [6, 4, 2, 1]
        static let budget = 96
        static let batch = 16
        static let steps = 10
        static let lr: Float = 1e-3
        static let seq = 128
        static let seeds = 3
        static let strategies: [QueryStrategy] = [.random, .entropy]
        static let trainable = TrainableSubset.experts
    }

    var keep: CommaList<Int> { keepList.keep }
    var out: String { outputFolder.out }
    var task: TaskName { taskOption.task ?? .classify }
    var initial: Int { activeLearning.initial ?? 16 }
    var overwrite: Bool { outputFolder.overwrite }
    var resume: Bool { resumeOption.resume }

    func validate() throws {
        if !strategy.items.contains(.random) {
            throw ValidationError("--strategy: random must be one of them (the baseline)")
        }
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
        if task != .classify { throw ValidationError("--task: audit supports classify for now") }
        if seeds < 1 || randomSubsets < 1 || budget < 1 || batch < 1 || initial < 0 || steps < 1 || resamples < 10 {
            throw ValidationError(
                "--seeds, --random-subsets, --budget, --batch, --steps must be ≥ 1, --initial ≥ 0, "
                    + "--resamples ≥ 10")
        }
    }

    func run() async throws {
        try await runReportingErrors {
            let destination = try ResumableOutput(
                out, layout: .inPlace, inputs: [modelOptions.model, data, evalData] + defense, resume: resume,
                overwrite: overwrite)
            let parameters = try makeParameters()
            let inputs = try makeInputs()
            let progress = AuditProgress(parts: 1 + defense.count)
            let (results, files) = try destination.run {
                var results = try AuditPipeline.run(
                    inputs, parameters: parameters, output: destination.url, resume: resume, progress: progress.report)
                if !defense.isEmpty {
                    try auditDefenses(&results, inputs: inputs, parameters: parameters, progress: progress)
                }
                return (results, try AuditReport.write(results, to: destination.url.appendingPathComponent("report")))
            }
            if output.json {
                let encoder = JSONEncoder()
                encoder.nonConformingFloatEncodingStrategy = .convertToString(
                    positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
                let findings = try JSONSerialization.jsonObject(with: encoder.encode(results.findings))
                try Console.printJSON([
                    "report": files.map(\.path), "findings": findings,
                    "seconds": Date().timeIntervalSince(progress.start),
                ])
            } else {
                for finding in results.findings { print("[\(finding.verdict.rawValue)] \(finding.statement)") }
                print("report: \(files[0].path)")
            }
        }
    }

    /// Each --defense model attacked the same way in --out/defenses/I-NAME, and the table comparing them.
    func auditDefenses(
        _ results: inout AuditPipeline.Results, inputs: AuditPipeline.Inputs, parameters: AuditPipeline.Parameters,
        progress: AuditProgress
    ) throws {
        var rows = [AuditDefenseRow(model: modelOptions.url.lastPathComponent, results: results, baseline: nil)]
        for (i, path) in defense.enumerated() {
            progress.part = Double(i + 1)
            let url = URL(fileURLWithPath: path)
            let name = url.lastPathComponent
            var defended = inputs
            defended.modelDirectory = url
            defended.fingerprint += "|defense=" + path
            let folder = URL(fileURLWithPath: out).appendingPathComponent("defenses").appendingPathComponent(
                "\(i)-\(name)")
            let r = try AuditPipeline.run(
                defended, parameters: parameters, output: folder, resume: resume
            ) { stage, fraction in progress.report("defense \(name): \(stage)", fraction) }
            try AuditReport.write(r, to: folder.appendingPathComponent("report"))
            rows.append(AuditDefenseRow(model: name, results: r, baseline: results))
            results.findings.append(rows[i + 1].finding(against: rows[0]))
        }
        results.defenses = rows
    }

    func makeParameters() throws -> AuditPipeline.Parameters {
        var p = AuditPipeline.Parameters()
        p.keeps = keep.items
        p.randomSubsets = randomSubsets
        p.pruneK = pruneK ?? 0
        p.attributionExamples = attributionExamples
        p.strategies = strategy.items
        p.realignSeeds = seeds
        p.realign.budget = budget
        p.realign.batchSize = batch
        p.realign.initialSize = initial
        p.realign.candidatesPerRound = candidates
        p.realign.stepsPerRound = steps
        p.realign.learningRate = lr
        p.realign.schedule = schedule
        p.realign.validationSize = validation
        p.maxLength = seq
        p.resamples = resamples
        return p
    }

    func makeInputs() throws -> AuditPipeline.Inputs {
        let tokenizer = try modelOptions.tokenizer()
        let (poolSet, _) = try DatasetLoader.load(URL(fileURLWithPath: data), format: .auto, limit: poolLimit)
        let (evalSet, _) = try DatasetLoader.load(URL(fileURLWithPath: evalData), format: .auto, limit: evalLimit)
        guard case .classification(let classes, let pool) = poolSet else {
            throw ArgumentInputError("\(data): holds no classification examples (text and label)")
        }
        guard case .classification(_, let evaluation) = evalSet else {
            throw ArgumentInputError("\(evalData): holds no classification examples (text and label)")
        }
        var f = [modelOptions.model, data, evalData, "\(poolLimit ?? -1)", "\(evalLimit ?? -1)"]
        for path in [data, evalData] {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            f.append("\((attributes?[.size] as? Int) ?? -1)")
        }
        return AuditPipeline.Inputs(
            modelDirectory: modelOptions.url, tokenizer: tokenizer, task: classes, pool: pool, evaluation: evaluation,
            fingerprint: f.joined(separator: "|"))
    }
}

extension FineTuningSchedule: ExpressibleByArgument {}

/// The audit's one progress line on stderr: the fraction done over the audited model and its
/// defenses, elapsed time and ETA, at most every 5 s (1 s when the stage changes).
final class AuditProgress {
    let start = Date()
    let parts: Double
    var part = 0.0
    private var lastPrint = Date.distantPast
    private var lastStage = ""

    init(parts: Int) { self.parts = Double(parts) }

    func report(_ stage: String, _ partFraction: Double) {
        let fraction = (part + partFraction) / parts
        let now = Date()
        guard stage != lastStage && now.timeIntervalSince(lastPrint) >= 1 || now.timeIntervalSince(lastPrint) >= 5
        else { return }
        lastStage = stage
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let eta = fraction > 0.02 ? elapsed / fraction * (1 - fraction) : .nan
        Console.progress(
            String(
                format: "audit %3.0f%%  elapsed %.0fs  ETA %@  %@", 100 * fraction, elapsed,
                eta.isFinite ? String(format: "%.0fs", eta) : "?", stage))
    }
}
