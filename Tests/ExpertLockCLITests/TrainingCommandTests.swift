import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `expertlock train` end to end, including a run killed with SIGKILL and resumed.
@Suite struct TrainingCommandTests {
    /// A folder with an ids file of a repetitive token stream.
    static func workspace() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("train-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let ids = (0..<400).map { ($0 * 7 + $0 / 5) % 31 }
        try Data(("[" + ids.map(String.init).joined(separator: ",") + "]").utf8).write(
            to: dir.appendingPathComponent("ids.json"))
        return dir
    }

    static func arguments(_ dir: URL, out: String, steps: Int) -> [String] {
        [
            "train", "--config", "tiny", "--ids", dir.appendingPathComponent("ids.json").path, "--steps", "\(steps)",
            "--batch", "4", "--seq", "16", "--save-every", "5", "--seed", "3", "--out",
            dir.appendingPathComponent(out).path,
        ]
    }

    @Test(.enabled(if: CLIRunner.isAvailable)) func trainsAndReportsJSON() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIRunner.run(Self.arguments(dir, out: "model", steps: 10) + ["--json", "--log-every", "5"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect((json["final_loss"] as? Double).map { $0 > 0 && $0 < 10 } == true)
        #expect((json["tokens_per_s"] as? Double).map { $0 > 0 } == true)
        #expect(json["steps"] as? Int == 10)
        // Each step's own wall time (benchmarks compare steps without the set-up and the final save).
        let stepSeconds = try #require(json["step_seconds"] as? [Double])
        #expect(stepSeconds.count == 10 && stepSeconds.allSatisfy { $0 > 0 })
        #expect(stepSeconds.reduce(0, +) <= (json["seconds"] as? Double ?? 0))
        #expect(result.stderr.contains("step 5/10") && result.stderr.contains("tok/s"))
        for name in ["config.json", "model.safetensors", "trainer_state.json", "checkpoint-10/optimizer.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model/\(name)").path), "\(name)")
        }
        // An existing folder is refused (exit 2) unless --overwrite.
        let again = try CLIRunner.run(Self.arguments(dir, out: "model", steps: 10))
        #expect(again.status == 2 && again.stderr.contains("--overwrite"))
        #expect(try CLIRunner.run(Self.arguments(dir, out: "model", steps: 10) + ["--overwrite"]).status == 0)
        let missing = try CLIRunner.run([
            "train", "--config", "tiny", "--ids", "/nonexistent/ids", "--out", dir.appendingPathComponent("x").path,
        ])
        #expect(missing.status == 2 && missing.stderr.contains("/nonexistent/ids"))
    }

    /// --eval-ids measures held-out perplexity at every --eval-every step and after the last one;
    /// on a repetitive stream the held-out perplexity falls as the model learns it.
    @Test(.enabled(if: CLIRunner.isAvailable)) func measuresHeldOutPerplexityDuringTraining() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let heldOut = (0..<120).map { ($0 * 7 + $0 / 5) % 31 }
        let heldOutURL = dir.appendingPathComponent("heldout.json")
        try Data(("[" + heldOut.map(String.init).joined(separator: ",") + "]").utf8).write(to: heldOutURL)
        let result = try CLIRunner.run(
            Self.arguments(dir, out: "model", steps: 24)
                + ["--json", "--lr", "0.01", "--eval-ids", heldOutURL.path, "--eval-every", "8"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let history = try #require(json["eval_history"] as? [[String: Any]])
        #expect(history.compactMap { $0["step"] as? Int } == [8, 16, 24])
        let perplexities = history.compactMap { $0["perplexity"] as? Double }
        #expect(perplexities.count == 3 && perplexities.allSatisfy { $0.isFinite && $0 > 1 })
        #expect(perplexities.last! < perplexities.first!, "\(perplexities)")
        #expect(result.stderr.contains("held-out perplexity"))
        // A held-out file that is not there is an input error naming it.
        let missing = try CLIRunner.run(
            Self.arguments(dir, out: "other", steps: 2) + ["--eval-ids", "/nonexistent/heldout.json"])
        #expect(missing.status == 2 && missing.stderr.contains("/nonexistent/heldout.json"))
    }

    @Test(.enabled(if: CLIRunner.isAvailable)) func sigkillThenResumeGivesTheSameModel() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let steps = 60
        let straight = try CLIRunner.run(Self.arguments(dir, out: "straight", steps: steps))
        #expect(straight.status == 0, "\(straight.stderr)")

        let process = try CLIRunner.start(Self.arguments(dir, out: "killed", steps: steps))
        let checkpoint = dir.appendingPathComponent("killed/checkpoint-20/trainer_state.json").path
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint) && process.isRunning && Date() < deadline {
            usleep(2_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run finished before it could be killed")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("killed/model.safetensors").path))

        let resumed = try CLIRunner.run(Self.arguments(dir, out: "killed", steps: steps) + ["--resume", "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any])
        #expect((json["start_step"] as? Int).map { $0 >= 20 && $0 < steps } == true)
        let a = try Data(contentsOf: dir.appendingPathComponent("straight/model.safetensors"))
        let b = try Data(contentsOf: dir.appendingPathComponent("killed/model.safetensors"))
        #expect(a == b, "resumed model differs from the uninterrupted one")
    }

    /// A learning rate of 1e30 blows the weights up after one step: the next step's gradient norm
    /// (or loss) is not finite. Training stops with a message naming the step and the last good
    /// checkpoint, which is kept intact (and no final model is written).
    @Test(.enabled(if: CLIRunner.isAvailable)) func nonFiniteTrainingStopsAndKeepsTheLastCheckpoint() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIRunner.run([
            "train", "--config", "tiny", "--ids", dir.appendingPathComponent("ids.json").path, "--steps", "6",
            "--batch", "2", "--seq", "16", "--save-every", "1", "--warmup", "0", "--lr", "1e30", "--out",
            dir.appendingPathComponent("blown").path,
        ])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(
            result.stderr.contains("not finite at step 2") && result.stderr.contains("checkpoint-1"), "\(result.stderr)"
        )
        let checkpoint = dir.appendingPathComponent("blown/checkpoint-1")
        for name in ["trainer_state.json", "model.safetensors", "optimizer.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent(name).path), "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("blown/model.safetensors").path))
    }
}
