import Foundation
import Testing

/// The rules of the CLI contract (CLI.md) that hold across commands: exit code 2 for bad
/// arguments as for bad input files, options that mean the same in every command, and outputs
/// that a failed `--overwrite` run does not lose.
@Suite(.enabled(if: CLIRunner.executable != nil))
struct CLIContractTests {
    /// A folder with a word-level tokenizer and a tiny model trained on the same text for one
    /// step (`model/` holds config.json, the weights and tokenizer.json), plus that text as
    /// `text.txt` and as JSONL `{"text"}` records in `text.jsonl`.
    static func workspace() throws -> URL {
        let dir = try CLIRunner.temporaryDirectory()
        let words = ["the", "expert", "router", "keeps", "two", "of", "eight", "tokens", "pass", "layer"]
        var state: UInt64 = 3
        var lines: [String] = []
        for _ in 0..<40 {
            let line = (0..<12).map { _ -> String in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return words[Int((state >> 33) % UInt64(words.count))]
            }
            lines.append(line.joined(separator: " "))
        }
        let text = lines.joined(separator: "\n\n")
        try Data(text.utf8).write(to: dir.appendingPathComponent("text.txt"))
        let records = lines.map { line -> String in
            let data = try! JSONSerialization.data(withJSONObject: ["text": line])
            return String(decoding: data, as: UTF8.self)
        }
        try Data(records.joined(separator: "\n").utf8).write(to: dir.appendingPathComponent("text.jsonl"))
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        for arguments in [
            ["train-tokenizer", "--data", path("text.txt"), "--model", "wordlevel", "--vocab-size", "32", "--out", path("tok")],
            ["train", "--config", "tiny", "--tokenizer", path("tok"), "--data", path("text.txt"), "--steps", "1", "--batch", "2",
             "--seq", "16", "--out", path("model")],
        ] {
            let run = try CLIRunner.run(arguments)
            guard run.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["stderr": run.stderr]) }
        }
        return dir
    }

    /// ArgumentParser exits with 64 on its own; the contract says 2, with the message and usage on stderr.
    @Test func badArgumentsExitWithTwo() throws {
        for arguments in [
            ["rouge", "--bogus"], ["eval", "--model", "m", "--task", "nope"], ["train", "--out", "x"],
            ["attribute", "--model", "m", "--format", "bogus"], ["no-such-command"],
        ] {
            let run = try CLIRunner.run(arguments)
            #expect(run.status == 2, "\(arguments.joined(separator: " ")): \(run.status)")
            #expect(run.stderr.contains("Error") && run.stderr.contains("Usage"), "\(run.stderr)")
            #expect(run.stdout.isEmpty)
        }
        let help = try CLIRunner.run(["sweep", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE"))
    }

    /// Options that make no sense together, or a value a command cannot honour, are refused
    /// instead of ignored.
    @Test func unsupportedCombinationsAreRefused() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let attribution = path("a.json")
        #expect(try CLIRunner.run(["attribute", "--model", path("model"), "--data", path("text.txt"), "--context", "16",
                                   "--out", attribution]).status == 0)
        let global = try CLIRunner.run(["prune", "--model", path("model"), "--attribution", attribution, "--threshold", "0.1",
                                        "--scope", "global", "--out", path("p")])
        #expect(global.status == 2 && global.stderr.contains("--scope global"), "\(global.stderr)")
        let mapped = try CLIRunner.run(["realign", "--model", path("model"), "--residency", "mapped", "--pool", path("text.txt"),
                                        "--eval-data", path("text.txt"), "--out", path("r")])
        #expect(mapped.status == 2 && mapped.stderr.contains("resident"), "\(mapped.stderr)")
        let folder = try CLIRunner.run(["tokenize", "--model", path("model"), "--text", path("tok")])
        #expect(folder.status == 2 && folder.stderr.contains("cannot be read"), "\(folder.stderr)")
        let inside = try CLIRunner.run(["realign", "--model", path("model"), "--pool", path("text.txt"), "--eval-data",
                                        path("text.txt"), "--out", path("model/realigned")])
        #expect(inside.status == 2 && inside.stderr.contains("is an input"), "\(inside.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("model/realigned")))
    }

    /// `attribute` and `sweep` read `--task perplexity` data as `eval` does: JSONL `{"text"}`
    /// records are documents, not text with JSON syntax in it. The same documents as plain text
    /// give the same attribution.
    @Test func perplexityDataFormatsAgree() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        for (data, out) in [("text.txt", "plain.json"), ("text.jsonl", "records.json")] {
            let run = try CLIRunner.run(["attribute", "--model", path("model"), "--data", path(data), "--context", "16",
                                         "--out", path(out)])
            #expect(run.status == 0, "\(run.stderr)")
        }
        func statistics(_ name: String) throws -> Any? {
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(name))) as? [String: Any]
            return [object?["tokens"], object?["layers"]]  // tokens seen, per-layer expert statistics
        }
        let plain = try #require(try statistics("plain.json") as? NSObject)
        let records = try #require(try statistics("records.json") as? NSObject)
        #expect(plain == records)
    }

    /// `sweep --attribution FILE --eval-data FILE` needs no attribution data (`--data`).
    @Test func sweepWithAnAttributionFileNeedsNoData() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        #expect(try CLIRunner.run(["attribute", "--model", path("model"), "--data", path("text.txt"), "--context", "16",
                                   "--out", path("a.json")]).status == 0)
        let run = try CLIRunner.run(["sweep", "--model", path("model"), "--attribution", path("a.json"), "--eval-data",
                                     path("text.txt"), "--context", "16", "--keep", "9,2,1", "--seeds", "1",
                                     "--criteria", "soft", "--out", path("s"), "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("--keep 9 skipped"), "\(run.stderr)")  // the tiny model has 8 experts
        let curve = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((curve["curve"] as? [Any])?.isEmpty == false)
    }

    /// `train --overwrite` builds its output in place: a run that fails keeps the old output, and
    /// a run that finishes replaces it and leaves nothing beside it. `--task perplexity` is `lm`.
    @Test func failedOverwriteKeepsTheOldOutput() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let ids = path("ids.txt")
        try Data((0..<200).map { String(($0 * 7) % 32) }.joined(separator: " ").utf8).write(to: URL(fileURLWithPath: ids))
        try Data("1 2 x".utf8).write(to: URL(fileURLWithPath: path("bad-ids.txt")))
        let base = ["train", "--config", "tiny", "--ids", ids, "--task", "perplexity", "--steps", "1", "--batch", "2", "--seq", "16"]
        #expect(try CLIRunner.run(base + ["--out", path("out")]).status == 0)
        let before = try InputIntegrityTests.snapshot(dir.appendingPathComponent("out"))
        let failed = try CLIRunner.run(base + ["--eval-ids", path("bad-ids.txt"), "--out", path("out"), "--overwrite"])
        #expect(failed.status == 2, "\(failed.stderr)")
        #expect(try InputIntegrityTests.snapshot(dir.appendingPathComponent("out")) == before)
        #expect(try CLIRunner.run(base + ["--seed", "9", "--out", path("out"), "--overwrite"]).status == 0)
        #expect(try InputIntegrityTests.snapshot(dir.appendingPathComponent("out")) != before)
        let hidden = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        #expect(hidden.isEmpty, "\(hidden)")
    }
}
