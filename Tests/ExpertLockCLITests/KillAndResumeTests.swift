import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `attribute` and `sweep` killed with SIGKILL at random moments, then continued with `--resume`
/// until they finish: the result must equal an uninterrupted run byte for byte (attribution sums
/// are fixed-point integers; sweep points are pure functions of the plan), and no state or
/// temporary file may be left under the output's name.
@Suite(.enabled(if: CLIRunner.isAvailable), .serialized)
struct KillAndResumeTests {
    /// Runs `arguments`, killing each run after a random delay in (0, 1.2 × `duration`) and
    /// continuing with `--resume`, until a run exits by itself. The first run is killed a random
    /// (0, 0.3 × `duration`) after `state` appears, so at least one kill lands mid-run whatever
    /// the machine's load. Returns the kills that landed.
    static func runKilledAtRandom(_ arguments: [String], duration: TimeInterval, seed: UInt64, state: URL) throws -> Int
    {
        var rng = seed
        func uniform() -> Double {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(rng >> 11) / Double(1 << 53)
        }
        var kills = 0
        for attempt in 0..<12 {
            let process = try CLIRunner.start(arguments + (attempt == 0 ? [] : ["--resume"]))
            if attempt == 0 {
                let started = Date().addingTimeInterval(120)
                while process.isRunning && !FileManager.default.fileExists(atPath: state.path) && Date() < started {
                    usleep(500)
                }
            }
            let deadline = Date().addingTimeInterval(duration * (attempt == 0 ? 0.3 : 1.2) * uniform())
            while process.isRunning && Date() < deadline { usleep(1_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                if process.terminationReason == .uncaughtSignal { kills += 1 }
                continue
            }
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw CocoaError(
                    .fileWriteUnknown, userInfo: ["status": process.terminationStatus, "attempt": attempt])
            }
            return kills
        }
        // Still not done after 12 runs: one last run without a kill.
        let process = try CLIRunner.start(arguments + ["--resume"])
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return kills
    }

    static func timed(_ arguments: [String]) throws -> TimeInterval {
        let start = Date()
        let run = try CLIRunner.run(arguments)
        #expect(run.status == 0, "\(arguments.joined(separator: " ")): \(run.stderr)")
        return Date().timeIntervalSince(start)
    }

    static func workspace() throws -> (dir: URL, model: URL, ids: URL) {
        let dir = try CLIRunner.temporaryDirectory()
        let model = CLIRunner.modelFixture("qwen2_moe_bf16_norm_tied")
        let ids = dir.appendingPathComponent("ids.txt")
        try Data((0..<3000).map { String(($0 * 7 + $0 / 13) % 48) }.joined(separator: " ").utf8).write(to: ids)
        return (dir, model, ids)
    }

    /// Files left beside the outputs: states and temporary files or folders.
    static func leftovers(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
            $0.hasSuffix("state") || $0.contains(".tmp-")
        }
    }

    @Test func attributeKilledAtRandomThenResumedEqualsOneRun() throws {
        let (dir, model, ids) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func arguments(_ out: String) -> [String] {
            [
                "attribute", "--model", model.path, "--ids", ids.path, "--context", "16", "--batch", "1", "--out",
                dir.appendingPathComponent(out).path,
            ]
        }
        let duration = try Self.timed(arguments("straight.json"))
        var kills = 0
        for seed: UInt64 in [1, 2] {
            let out = "killed-\(seed).json"
            kills += try Self.runKilledAtRandom(
                arguments(out), duration: duration, seed: seed, state: dir.appendingPathComponent(".\(out).state"))
            let a = try Data(contentsOf: dir.appendingPathComponent("straight.json"))
            let b = try Data(contentsOf: dir.appendingPathComponent(out))
            #expect(a == b, "seed \(seed): the resumed attribution differs from the uninterrupted one")
        }
        #expect(kills >= 2, "every first run should have been killed mid-way")
        let left = try Self.leftovers(dir)
        #expect(left.isEmpty, "\(left)")
        // A state for other data is refused (exit 2) with the state file named.
        let state = dir.appendingPathComponent(".other.json.state")
        let first = try CLIRunner.start(arguments("other.json"))
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: state.path) && first.isRunning && Date() < deadline {
            usleep(1_000)
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        var other = arguments("other.json") + ["--resume"]
        other[other.firstIndex(of: "--context")! + 1] = "8"
        let refused = try CLIRunner.run(other)
        #expect(refused.status == 2 && refused.stderr.contains(".other.json.state"), "\(refused.stderr)")
        // --resume needs --out.
        let noOut = try CLIRunner.run(["attribute", "--model", model.path, "--ids", ids.path, "--resume"])
        #expect(noOut.status == 2 && noOut.stderr.contains("--out"))
    }

    @Test func sweepKilledAtRandomThenResumedEqualsOneRun() throws {
        let (dir, model, ids) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func arguments(_ out: String) -> [String] {
            [
                "sweep", "--model", model.path, "--ids", ids.path, "--context", "32", "--limit", "40", "--keep",
                "4,3,2,1",
                "--seeds", "3", "--out", dir.appendingPathComponent(out).path,
            ]
        }
        let duration = try Self.timed(arguments("straight"))
        var kills = 0
        for seed: UInt64 in [1, 2] {
            let out = "killed-\(seed)"
            kills += try Self.runKilledAtRandom(
                arguments(out), duration: duration, seed: seed, state: dir.appendingPathComponent(".\(out).sweep-state")
            )
            for file in ["curve.json", "curve.csv", "table.md"] {
                let a = try Data(contentsOf: dir.appendingPathComponent("straight/\(file)"))
                let b = try Data(contentsOf: dir.appendingPathComponent("\(out)/\(file)"))
                #expect(a == b, "seed \(seed): \(file) of the resumed sweep differs from the uninterrupted one")
            }
        }
        #expect(kills >= 2, "every first run should have been killed mid-way")
        let left = try Self.leftovers(dir)
        #expect(left.isEmpty, "\(left)")
        // A finished sweep's folder is not overwritten by a new run without --overwrite.
        let again = try CLIRunner.run(arguments("straight"))
        #expect(again.status == 2 && again.stderr.contains("--overwrite"))
    }

    /// A kill that falls after the output is in place but before the state is deleted leaves both
    /// (this once failed `sweepKilledAtRandomThenResumedEqualsOneRun`: the resumed run refused its own
    /// output). Made here on purpose: a run killed once its state exists, then the finished output
    /// put in place. --resume must finish (status 0) with the same files and no state left; a run
    /// without --resume still refuses the folder.
    @Test(arguments: ["sweep", "attribute"])
    func killBetweenOutputAndStateRemovalResumes(command: String) throws {
        let (dir, model, ids) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        func arguments(_ out: String) -> [String] {
            let common = ["--model", model.path, "--ids", ids.path, "--out", dir.appendingPathComponent(out).path]
            return command == "sweep"
                ? ["sweep", "--context", "32", "--limit", "40", "--keep", "4,3,2,1", "--seeds", "3"] + common
                : ["attribute", "--context", "16", "--batch", "1"] + common
        }
        let straight = try CLIRunner.run(arguments("straight"))
        #expect(straight.status == 0, "\(straight.stderr)")
        let killed = dir.appendingPathComponent("killed")
        let state = dir.appendingPathComponent(command == "sweep" ? ".killed.sweep-state" : ".killed.state")
        let first = try CLIRunner.start(arguments("killed"))
        let deadline = Date().addingTimeInterval(60)
        while !fm.fileExists(atPath: state.path) && first.isRunning && Date() < deadline { usleep(200) }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        try #require(fm.fileExists(atPath: state.path), "the run finished before its state could be caught")
        try fm.copyItem(at: dir.appendingPathComponent("straight"), to: killed)
        let refused = try CLIRunner.run(arguments("killed"))
        #expect(refused.status == 2 && refused.stderr.contains("--overwrite"), "\(refused.stderr)")
        let resumed = try CLIRunner.run(arguments("killed") + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(!fm.fileExists(atPath: state.path))
        let files = command == "sweep" ? ["curve.json", "curve.csv", "table.md"] : [""]
        for file in files {
            let a = try Data(contentsOf: dir.appendingPathComponent("straight").appendingPathComponent(file))
            let b = try Data(contentsOf: killed.appendingPathComponent(file))
            #expect(a == b, "\(file) differs")
        }
    }

    /// The other side of that window: a kill after the state is deleted leaves only the finished
    /// output. --resume with the same arguments recognises the run's own result (its fingerprint
    /// is inside) and reports it unchanged (status 0); other arguments, or no --resume, are refused.
    @Test(arguments: ["sweep", "attribute"])
    func resumeAfterTheStateWasDeletedReportsTheFinishedRun(command: String) throws {
        let (dir, model, ids) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func arguments(context: String) -> [String] {
            let common = [
                "--model", model.path, "--ids", ids.path, "--out", dir.appendingPathComponent("out").path, "--json",
            ]
            return command == "sweep"
                ? ["sweep", "--context", context, "--limit", "40", "--keep", "4,2", "--seeds", "1"] + common
                : ["attribute", "--context", context, "--batch", "1"] + common
        }
        let finished = try CLIRunner.run(arguments(context: "16"))
        #expect(finished.status == 0, "\(finished.stderr)")
        let before = try InputIntegrityTests.snapshot(dir)
        let resumed = try CLIRunner.run(arguments(context: "16") + ["--resume"])
        #expect(resumed.status == 0 && resumed.stderr.contains("nothing to resume"), "\(resumed.stderr)")
        #expect(resumed.stdout == finished.stdout)
        #expect(try InputIntegrityTests.snapshot(dir) == before)
        let other = try CLIRunner.run(arguments(context: "8") + ["--resume"])
        #expect(other.status == 2 && other.stderr.contains("--overwrite"), "\(other.stderr)")
        #expect(try CLIRunner.run(arguments(context: "16")).status == 2)
    }
}
