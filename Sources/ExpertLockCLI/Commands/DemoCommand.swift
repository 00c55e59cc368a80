import ArgumentParser
import ExpertLock
import ExpertLockDemo
import Foundation

/// `expertlock demo`: the whole audit on the built-in corpus and a model trained right here.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train a standard and an entangled MoE on the built-in corpus, audit both, write a report.",
        discussion: """
            Trained models are cached in --out/models, so a rerun skips training. The report is --out/report/README.md \
            with SVG plots and results.json. --quick is the smoke test (a smaller corpus and model, a few minutes).
            """)

    @Option(help: "Output folder (models, tokenizer, report).") var out = "demo-out"
    @Flag(help: "Smaller corpus, model and sweeps (the CI smoke test).") var quick = false
    @OptionGroup var seedOption: SeedOption
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors(output: out) {
            let start = Date()
            var parameters = DemoPipeline.Parameters(quick: quick)
            parameters.seed = seedOption.seed
            let outURL = URL(fileURLWithPath: out)
            var lastStage = ""
            var lastPrint = Date.distantPast
            var results = try DemoPipeline.run(output: outURL, parameters: parameters) { stage, fraction in
                let now = Date()
                guard stage != lastStage || now.timeIntervalSince(lastPrint) > 2 else { return }
                lastStage = stage
                lastPrint = now
                let elapsed = now.timeIntervalSince(start)
                let eta = fraction > 0.01 ? elapsed / fraction * (1 - fraction) : 0
                Console.progress(
                    String(format: "demo: %@ — %.0f%%, %.0fs elapsed, ETA %.0fs", stage, 100 * fraction, elapsed, eta))
            }
            results.totalSeconds = Date().timeIntervalSince(start)
            let files = try DemoReport.write(results, to: outURL.appendingPathComponent("report"))
            let headline = Self.headline(results)
            if output.json { return try Console.printJSON(["report": files.map(\.path), "headline": headline]) }
            var summary = HumanSummary("demo: report in \(outURL.appendingPathComponent("report/README.md").path)")
            for key in headline.keys.sorted() {
                let value = headline[key]!
                if let number = value as? Double {
                    summary.add(
                        key, key.hasPrefix("seconds") ? HumanSummary.seconds(number) : HumanSummary.number(number))
                } else {
                    summary.add(key, "\(value)")
                }
            }
            summary.note("headline tables and findings: \(outURL.appendingPathComponent("report/excerpt.md").path)")
            print(summary.render(), terminator: "")
        }
    }

    /// The figures a reader checks first: each model's full metric and soft-ranked area, the stage
    /// times, the provenance verdicts and the signed-log checks.
    static func headline(_ results: DemoResults) -> [String: Any] {
        var headline: [String: Any] = ["seconds": results.totalSeconds]
        for (name, model) in results.models {
            for (task, result) in model.tasks {
                headline["\(name).\(task).full"] = result.curve.full
                headline["\(name).\(task).area_soft"] = result.curve.normalizedArea("soft") ?? NSNull()
            }
        }
        for (name, seconds) in results.stageSeconds { headline["seconds.\(name)"] = seconds }
        if let provenance = results.provenance {
            for suspect in provenance.suspects {
                headline["provenance.\(suspect.name).verdict"] = suspect.report.verdict.rawValue
                headline["provenance.\(suspect.name).correct"] = suspect.correct
            }
        }
        if let log = results.signedLog {
            headline["signed_log.checks"] = log.checks.count
            headline["signed_log.as_expected"] = log.checks.filter(\.passed).count
        }
        return headline
    }
}
