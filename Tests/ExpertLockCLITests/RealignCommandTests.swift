import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `expertlock realign` end to end on a tiny byte-level model: the JSON contract, budget accounting,
/// the output-folder rules, and a run killed with SIGKILL in the middle of a round and resumed.
@Suite struct RealignCommandTests {
    /// A workspace with SST-2-shaped pool and dev files (three sentiment words per sentence) and a
    /// tiny model trained for one step on them with the byte encoder.
    static func workspace() throws -> URL {
        let dir = try CLIRunner.temporaryDirectory()
        let positive = ["good", "great", "fine", "nice", "happy", "lovely"]
        let negative = ["bad", "awful", "poor", "sad", "ugly", "dull"]
        var state: UInt64 = 7
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        func write(_ name: String, rows: Int) throws {
            var text = "sentence\tlabel\n"
            for _ in 0..<rows {
                let label = next(2)
                let words = (0..<3).map { _ in (label == 1 ? positive : negative)[next(6)] }
                text += words.joined(separator: " ") + "\t\(label)\n"
            }
            try Data(text.utf8).write(to: dir.appendingPathComponent(name))
        }
        try write("pool.tsv", rows: 48)
        try write("dev.tsv", rows: 12)
        let trained = try CLIRunner.run([
            "train", "--config", "tiny", "--tokenizer", "bytes", "--data", dir.appendingPathComponent("pool.tsv").path,
            "--task", "classify", "--steps", "1", "--batch", "2", "--seq", "48", "--out",
            dir.appendingPathComponent("model").path,
        ])
        guard trained.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["stderr": trained.stderr]) }
        return dir
    }

    static func arguments(_ dir: URL, out: String, strategy: String = "entropy") -> [String] {
        [
            "realign", "--model", dir.appendingPathComponent("model").path, "--tokenizer", "bytes", "--pool",
            dir.appendingPathComponent("pool.tsv").path, "--eval-data", dir.appendingPathComponent("dev.tsv").path,
            "--validation", "4", "--budget", "14", "--batch", "4", "--initial", "2", "--steps", "5", "--train-batch",
            "4", "--lr", "3e-3",
            "--seq", "48", "--seed", "5", "--strategy", strategy, "--out", dir.appendingPathComponent(out).path,
        ]
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(.enabled(if: CLIRunner.isAvailable)) func reportsTheLearningCurveAsJSON() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIRunner.run(Self.arguments(dir, out: "run") + ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try Self.json(result.stdout)
        let curve = try #require(json["curve"] as? [[String: Any]])
        #expect(curve.map { $0["labeled"] as? Int } == [0, 2, 6, 10, 14])
        #expect(curve.allSatisfy { ($0["metric"] as? Double).map { (0...1).contains($0) } == true })
        #expect((json["final"] as? Double) == (curve.last?["metric"] as? Double))
        let ids = try #require(json["labeled_ids"] as? [Int])
        #expect(ids.count == 14 && Set(ids).count == 14 && ids.allSatisfy { (0..<48).contains($0) })
        #expect(result.stderr.contains("ETA") && result.stderr.contains("round 4/4 done"))
        for name in [
            "report.md", "report.json", "curve.svg", "entropy-seed5/result.json", "entropy-seed5/model/config.json",
        ] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/\(name)").path), "\(name)")
        }
        // An existing folder is refused unless --overwrite or --resume; a finished run resumes to its result.
        let again = try CLIRunner.run(Self.arguments(dir, out: "run"))
        #expect(again.status == 2 && again.stderr.contains("--overwrite"))
        let resumed = try CLIRunner.run(Self.arguments(dir, out: "run") + ["--resume", "--json"])
        #expect(resumed.status == 0)
        #expect(try Self.json(resumed.stdout)["labeled_ids"] as? [Int] == ids)
        // Bad input: exit 2 with a message naming the problem.
        let bad = try CLIRunner.run(Self.arguments(dir, out: "x", strategy: "nll"))
        #expect(bad.status == 2 && bad.stderr.contains("nll"))
        let unknown = try CLIRunner.run(Self.arguments(dir, out: "y", strategy: "guess"))
        #expect(unknown.status == 2 && unknown.stderr.contains("guess"))
        var missing = Self.arguments(dir, out: "z")
        missing[missing.firstIndex(of: "--pool")! + 1] = "/nonexistent/pool.tsv"
        let noPool = try CLIRunner.run(missing)
        #expect(noPool.status == 2 && noPool.stderr.contains("/nonexistent/pool.tsv"))
    }

    static func snapshot(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            out[name] = try Data(contentsOf: dir.appendingPathComponent(name))
        }
        return out
    }

    /// A mask-mode pruned model (expertlock_mask.json) re-aligns; the re-aligned model keeps the mask;
    /// the input folder stays byte-identical and can be neither the output nor inside it.
    @Test(.enabled(if: CLIRunner.isAvailable)) func realignsAMaskedModelAndLeavesTheInputUntouched() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let masked = dir.appendingPathComponent("masked")
        let pruned = try CLIRunner.run([
            "prune", "--model", dir.appendingPathComponent("model").path, "--drop", "0,1,2,3,4,5", "--mode", "mask",
            "--out", masked.path,
        ])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        let before = try Self.snapshot(masked)
        func arguments(out: String) -> [String] {
            var a = Self.arguments(dir, out: out)
            a[a.firstIndex(of: "--model")! + 1] = masked.path
            return a
        }
        let result = try CLIRunner.run(
            arguments(out: "run") + ["--validation", "4", "--budget", "6", "--trainable", "experts+router"])
        #expect(result.status == 0, "\(result.stderr)")
        let mask = dir.appendingPathComponent("run/entropy-seed5/model/expertlock_mask.json")
        #expect(FileManager.default.contents(atPath: mask.path) == before["expertlock_mask.json"])
        for out in ["masked", "."] {
            let refused = try CLIRunner.run(arguments(out: out) + ["--overwrite"])
            #expect(refused.status == 2 && refused.stderr.contains("input"), "\(refused.stderr)")
        }
        #expect(try Self.snapshot(masked) == before)
    }

    /// Language modelling (perplexity, lower is better) and summarization pools through the CLI.
    @Test(.enabled(if: CLIRunner.isAvailable)) func textTasks() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"]
        let documents = (0..<12).map { i in (0..<8).map { words[(i * 3 + $0 * 7) % words.count] }.joined(separator: " ")
        }
        try Data(documents.joined(separator: "\n\n").utf8).write(to: dir.appendingPathComponent("pool.txt"))
        let summaries = documents.enumerated().map { i, d in
            "{\"id\": \(i), \"document\": "
                + "\"\(d)\", \"summary\": \"\(d.split(separator: " ").prefix(2).joined(separator: " "))\"}"
        }
        try Data(summaries.joined(separator: "\n").utf8).write(to: dir.appendingPathComponent("pairs.jsonl"))
        for (task, pool, strategy) in [("perplexity", "pool.txt", "nll"), ("summarize", "pairs.jsonl", "entropy")] {
            let path = dir.appendingPathComponent(pool).path
            let run = try CLIRunner.run([
                "realign", "--model", dir.appendingPathComponent("model").path, "--tokenizer", "bytes", "--task", task,
                "--pool", path, "--eval-data", path, "--eval-limit", "3", "--validation", "4", "--budget", "4",
                "--batch", "2", "--initial",
                "2", "--steps", "2", "--seq", "64", "--strategy", strategy, "--no-model", "--json", "--out",
                dir.appendingPathComponent("out-\(task)").path,
            ])
            #expect(run.status == 0, "\(task): \(run.stderr)")
            let json = try Self.json(run.stdout)
            #expect(json["metric"] as? String == (task == "perplexity" ? "perplexity" : "summary_perplexity"))
            #expect((json["final"] as? Double).map { $0 > 1 && $0.isFinite } == true)
            #expect((json["labeled_ids"] as? [Int]).map { Set($0).count == 4 } == true)
        }
    }

    /// The (round, step) of the latest saved state of a run folder, if any.
    static func savedPosition(_ run: URL) -> (round: Int, step: Int)? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: run.path)) ?? []
        for name in names.sorted().reversed() where name.hasPrefix("state-") {
            guard
                let data = FileManager.default.contents(atPath: run.appendingPathComponent("\(name)/state.json").path),
                let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                let round = object["round"] as? Int, let step = object["step_in_round"] as? Int
            else { continue }
            return (round, step)
        }
        return nil
    }

    @Test(.enabled(if: CLIRunner.isAvailable)) func sigkillMidRoundThenResumeEqualsTheUninterruptedRun() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Mid-round saves need the continued schedule (a gated round runs whole).
        func continued(_ arguments: [String]) -> [String] {
            var arguments = arguments
            let at = arguments.firstIndex(of: "--validation")!
            arguments.replaceSubrange(at...(at + 1), with: ["--schedule", "continued"])
            return arguments
        }
        let straight = try CLIRunner.run(continued(Self.arguments(dir, out: "straight")) + ["--json"])
        #expect(straight.status == 0, "\(straight.stderr)")
        let expected = try Self.json(straight.stdout)

        let process = try CLIRunner.start(continued(Self.arguments(dir, out: "killed")) + ["--save-every", "1"])
        let run = dir.appendingPathComponent("killed/entropy-seed5")
        let deadline = Date().addingTimeInterval(300)
        while process.isRunning && Date() < deadline {
            if let position = Self.savedPosition(run), position.round >= 2, position.step >= 2 { break }
            usleep(1_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run finished before it could be killed")
        let position = try #require(Self.savedPosition(run))
        #expect(position.step > 0, "the kill should land in the middle of a round")
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("result.json").path))

        let resumed = try CLIRunner.run(
            continued(Self.arguments(dir, out: "killed")) + ["--save-every", "1", "--resume", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let json = try Self.json(resumed.stdout)
        let runs = try #require(json["runs"] as? [[String: Any]])
        #expect((runs.first?["start_round"] as? Int).map { $0 >= 2 } == true)
        let ids = try #require(json["labeled_ids"] as? [Int])
        #expect(ids == expected["labeled_ids"] as? [Int])
        #expect(ids.count == 14 && Set(ids).count == 14, "a labeled example was lost or duplicated")
        #expect(json["final"] as? Double == expected["final"] as? Double)
        let curve = (json["curve"] as? [[String: Any]])?.map { $0["metric"] as? Double }
        #expect(curve == (expected["curve"] as? [[String: Any]])?.map { $0["metric"] as? Double })
        let a = try Data(contentsOf: dir.appendingPathComponent("straight/entropy-seed5/model/model.safetensors"))
        let b = try Data(contentsOf: dir.appendingPathComponent("killed/entropy-seed5/model/model.safetensors"))
        #expect(a == b, "the resumed model differs from the uninterrupted one")
    }
}
