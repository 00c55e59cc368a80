import Foundation
import Testing

/// `expertlock audit` end to end on a tiny model: one JSON object, a report whose findings carry
/// intervals, the "not resolvable" verdict when the shared seed set reaches the target, and a
/// resumed audit that reuses its stages.
@Suite struct AuditCommandTests {
    /// SST-2-shaped files and a tiny model with a word-level tokenizer trained on them.
    static func workspace() throws -> URL {
        let dir = try CLIRunner.temporaryDirectory()
        let positive = ["good", "great", "fine", "nice", "happy", "lovely"]
        let negative = ["bad", "awful", "poor", "sad", "ugly", "dull"]
        var state: UInt64 = 3
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        func write(_ name: String, rows: Int) throws {
            var text = "sentence\tlabel\n"
            for _ in 0..<rows {
                let label = next(2)
                text += (0..<3).map { _ in (label == 1 ? positive : negative)[next(6)] }.joined(separator: " ")
                text += "\t\(label)\n"
            }
            try Data(text.utf8).write(to: dir.appendingPathComponent(name))
        }
        try write("pool.tsv", rows: 40)
        try write("dev.tsv", rows: 16)
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        for arguments in [
            [
                "train-tokenizer", "--data", path("pool.tsv"), "--model", "wordlevel", "--vocab-size", "64", "--out",
                path("tok"),
            ],
            [
                "train", "--config", "tiny", "--tokenizer", path("tok"), "--data", path("pool.tsv"), "--task",
                "classify",
                "--steps", "1", "--batch", "2", "--seq", "24", "--out", path("model"),
            ],
        ] {
            let run = try CLIRunner.run(arguments)
            guard run.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["stderr": run.stderr]) }
        }
        return dir
    }

    /// The gated schedule's held-out split comes out of the pool: a pool too small for it and the budget is
    /// refused before any stage runs, and --validation without the gated schedule is refused.
    @Test(.enabled(if: CLIRunner.isAvailable)) func refusesAPoolTooSmallForTheHeldOutSplit() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let base = ["audit", "--model", path("model"), "--data", path("pool.tsv"), "--eval-data", path("dev.tsv")]
        let small = try CLIRunner.run(base + ["--budget", "8", "--out", path("audit")])  // 40 < 8 + 64
        #expect(small.status == 2 && small.stderr.contains("64 held out"), "\(small.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("audit/stages")))
        let misplaced = try CLIRunner.run(
            base + ["--schedule", "continued", "--validation", "8", "--out", path("audit2")])
        #expect(misplaced.status == 2 && misplaced.stderr.contains("--validation"), "\(misplaced.stderr)")
    }

    @Test(.enabled(if: CLIRunner.isAvailable)) func writesOneReportAndResumes() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let arguments = [
            "audit", "--model", path("model"), "--data", path("pool.tsv"), "--eval-data", path("dev.tsv"),
            "--keep", "2,1", "--random-subsets", "2", "--seeds", "2", "--validation", "4", "--budget", "8", "--batch",
            "4", "--initial", "4",
            "--steps", "1", "--seq", "24", "--resamples", "50", "--attribution-examples", "8", "--out", path("audit"),
            "--json",
        ]
        let first = try CLIRunner.run(arguments)
        #expect(first.status == 0, "\(first.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        let reports = try #require(object["report"] as? [String])
        #expect(
            reports.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted()
                == ["README.md", "prunability.svg", "recovery.svg", "results.json"])
        for file in reports { #expect(FileManager.default.fileExists(atPath: file)) }
        // The default gated schedule, stated with its held-out split and what it kept.
        let readme = try String(contentsOf: dir.appendingPathComponent("audit/report/README.md"), encoding: .utf8)
        #expect(readme.contains("schedule gated") && readme.contains("accuracy on 4 held-out pool examples"))
        #expect(readme.contains("rounds kept their update"))
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.count > 5)
        #expect(first.stderr.contains("ETA"))
        // Every finding but the provenance verdict carries an interval, except the two kinds that have
        // no figure to give when not resolvable: recovery without a loss, a corridor at chance.
        for finding in findings where (finding["id"] as? String) != "provenance.derivative" {
            let id = (finding["id"] as? String) ?? ""
            let withoutFigure =
                (finding["verdict"] as? String) == "not resolvable"
                && (id.hasPrefix("recovery.") || id.contains(".corridor_"))
            #expect(finding["interval"] != nil || withoutFigure, "\(id)")
        }
        // A second invocation without --resume refuses the folder; with it, reuses every stage.
        let refused = try CLIRunner.run(arguments)
        #expect(refused.status == 2)
        let resumed = try CLIRunner.run(arguments + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let again = try #require(try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any])
        #expect(NSArray(array: again["findings"] as? [Any] ?? []) == NSArray(array: findings))
    }

    /// `--defense`: a second (defended) model attacked the same way; the report gets the table with
    /// the best attacker (greedy search among the candidates), drop, recovery and AUROC per model.
    @Test(.enabled(if: CLIRunner.isAvailable)) func defenseAddsTheAttackerTable() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let train = try CLIRunner.run([
            "train", "--config", "tiny", "--tokenizer", path("tok"), "--data", path("pool.tsv"), "--task", "classify",
            "--steps", "1", "--batch", "2", "--seq", "24", "--seed", "1", "--entangle", "0.3", "--entangle-method",
            "expert-dropout", "--out", path("defended"),
        ])
        #expect(train.status == 0, "\(train.stderr)")
        let run = try CLIRunner.run([
            "audit", "--model", path("model"), "--defense", path("defended"), "--data", path("pool.tsv"),
            "--eval-data", path("dev.tsv"), "--keep", "2,1", "--random-subsets", "2", "--seeds", "1", "--validation",
            "4", "--budget", "8",
            "--batch", "4", "--initial", "4", "--steps", "1", "--seq", "24", "--resamples", "50",
            "--attribution-examples", "8", "--strategy", "random", "--out", path("audit"), "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.contains { ($0["id"] as? String) == "defense.defended.resists_best_attacker" })
        #expect(findings.contains { (($0["id"] as? String) ?? "").hasPrefix("calibration.") })
        let results = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: dir.appendingPathComponent("audit/report/results.json"))) as? [String: Any])
        let rows = try #require(results["defenses"] as? [[String: Any]])
        #expect(rows.map { $0["model"] as? String } == ["model", "defended"])
        for row in rows {
            for key in ["best_attacker", "area", "drop", "auroc_full", "auroc_pruned", "refit_accuracy_pruned"] {
                #expect(row[key] != nil, "\(key)")
            }
        }
        #expect(rows[1]["quality_cost"] != nil && rows[0]["quality_cost"] == nil)
        let strategies = Set(
            ((results["prunability"] as? [String: Any])?["rows"] as? [[String: Any]] ?? []).compactMap {
                $0["strategy"] as? String
            })
        #expect(strategies == ["soft", "frequency", "reap", "ablation", "greedy", "random"])
        let readme = try String(contentsOf: dir.appendingPathComponent("audit/report/README.md"), encoding: .utf8)
        #expect(readme.contains("## Defenses against the adaptive attacker"))
        #expect(readme.contains("## Calibration control"))
        #expect(
            FileManager.default.fileExists(atPath: path("audit/defenses/0-defended/report/README.md")))
    }
}
