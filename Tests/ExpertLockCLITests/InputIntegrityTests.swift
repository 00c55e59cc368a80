import Foundation
import Testing

/// Every command that reads a model leaves the model's files byte-identical (and adds none), even
/// when it writes a derived checkpoint or fails.
@Suite(.enabled(if: CLIRunner.isAvailable))
struct InputIntegrityTests {
    /// Every file under `dir` (sub-folders included) by relative path, with its bytes.
    static func snapshot(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let paths = try #require(FileManager.default.subpathsOfDirectory(atPath: dir.path) as [String]?)
        for path in paths {
            var isDirectory: ObjCBool = false
            let url = dir.appendingPathComponent(path)
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { continue }
            out[path] = isDirectory.boolValue ? Data("<folder>".utf8) : try Data(contentsOf: url)
        }
        return out
    }

    @Test func commandsDoNotTouchTheInputModel() throws {
        let work = try CLIRunner.temporaryDirectory()
        let model = work.appendingPathComponent("model")
        try FileManager.default.copyItem(at: CLIRunner.modelFixture("qwen2_moe_bf16_norm_tied"), to: model)
        let ids = work.appendingPathComponent("ids.txt")
        try Data((0..<200).map { String(($0 * 7) % 48) }.joined(separator: " ").utf8).write(to: ids)
        let before = try Self.snapshot(model)
        let attribution = work.appendingPathComponent("a.json").path
        let runs: [(arguments: [String], status: Int32)] = [
            (["forward", "--model", model.path, "--ids", ids.path, "--json"], 0),
            (["attribute", "--model", model.path, "--ids", ids.path, "--context", "32", "--out", attribution], 0),
            (
                [
                    "attribute", "--model", model.path, "--ids", ids.path, "--context", "32", "--criterion", "ablation",
                    "--json",
                ], 0
            ),
            (
                [
                    "prune", "--model", model.path, "--attribution", attribution, "--keep", "2", "--out",
                    work.appendingPathComponent("p1").path,
                ], 0
            ),
            (
                [
                    "prune", "--model", model.path, "--drop", "1", "--mode", "mask", "--out",
                    work.appendingPathComponent("p2").path,
                ], 0
            ),
            (
                [
                    "sweep", "--model", model.path, "--ids", ids.path, "--context", "32", "--keep", "4,2,1", "--seeds",
                    "1",
                    "--out", work.appendingPathComponent("s").path,
                ], 0
            ),
            // Failing runs must not touch it either, and the input is never an output, even with --overwrite.
            (
                [
                    "prune", "--model", model.path, "--attribution", attribution, "--keep", "9", "--out",
                    work.appendingPathComponent("p3").path,
                ], 2
            ),
            (["prune", "--model", model.path, "--drop", "1", "--out", model.path], 2),
            (["prune", "--model", model.path, "--drop", "1", "--out", model.path + "/", "--overwrite"], 2),
        ]
        for (arguments, status) in runs {
            let run = try CLIRunner.run(arguments)
            #expect(run.status == status, "\(arguments.joined(separator: " ")): \(run.stderr)")
        }
        #expect(try Self.snapshot(model) == before)
    }

    /// The commands not covered above, on a tiny byte-level model (re-alignment needs a vocabulary
    /// of bytes): each reads the model and must leave every file of it, and of the locked copy
    /// `log verify` reads, byte-identical. With `forward`, `attribute`, `prune` and `sweep` above,
    /// this is every command that reads a model.
    @Test func everyOtherModelReadingCommandLeavesItsInputsUntouched() throws {
        let dir = try RealignCommandTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("model")
        // A tokenizer.json for `tokenize` (which reads only that file of the folder).
        try FileManager.default.copyItem(
            at: CLIRunner.packageRoot.appendingPathComponent(
                "Tests/MoEModelsTests/Fixtures/tokenizers/wordlevel/tokenizer.json"),
            to: model.appendingPathComponent("tokenizer.json"))
        let ids = dir.appendingPathComponent("ids.txt")
        try Data((0..<300).map { String(($0 * 7) % 200) }.joined(separator: " ").utf8).write(to: ids)
        let text = dir.appendingPathComponent("text.txt")
        try Data("hello world".utf8).write(to: text)
        let key = dir.appendingPathComponent("keys/owner")
        #expect(try CLIRunner.run(["keygen", "--out", key.path]).status == 0)
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let locked = dir.appendingPathComponent("locked")
        #expect(
            try CLIRunner.run(["lock", "--model", model.path, "--key", key.path, "--out", locked.path]).status == 0)
        let pruned = path("pruned")
        #expect(try CLIRunner.run(["prune", "--model", model.path, "--drop", "0", "--out", pruned]).status == 0)
        let before = try Self.snapshot(model)
        let lockedBefore = try Self.snapshot(locked)
        let runs: [(arguments: [String], status: Int32)] = [
            (
                [
                    "eval", "--model", model.path, "--task", "perplexity", "--ids", ids.path, "--context", "32",
                    "--json",
                ], 0
            ),
            (["tokenize", "--model", model.path, "--text", text.path], 0),
            (
                [
                    "train", "--model", model.path, "--ids", ids.path, "--steps", "1", "--batch", "2", "--seq", "16",
                    "--out", path("continued"),
                ], 0
            ),
            (
                [
                    "train", "--model", locked.path, "--ids", ids.path, "--steps", "1", "--batch", "2", "--seq", "16",
                    "--trainable", "lora", "--key", key.path, "--out", path("updated"),
                ], 0
            ),
            (
                [
                    "realign", "--model", model.path, "--tokenizer", "bytes", "--pool", path("pool.tsv"), "--eval-data",
                    path("dev.tsv"), "--validation", "4", "--budget", "4", "--batch", "2", "--initial", "2", "--steps",
                    "1", "--seq", "48",
                    "--out", path("realigned"),
                ], 0
            ),
            (["lock", "--model", model.path, "--key", key.path, "--out", path("locked2")], 0),
            (["log", "verify", "--model", locked.path, "--public-key", key.path + ".pub", "--json"], 0),
            (["provenance", "--original", model.path, "--suspect", pruned, "--json"], 0),
            (["attribute", "--model", model.path, "--ids", ids.path, "--context", "32", "--out", path("a.json")], 0),
            (
                [
                    "attribute", "--model", model.path, "--ids", ids.path, "--context", "32", "--out", path("a.json"),
                    "--resume", "--overwrite",
                ], 0
            ),
            // Outputs inside the input, and failing runs, leave it untouched too.
            (
                [
                    "train", "--model", model.path, "--ids", ids.path, "--steps", "1", "--out", model.path,
                    "--overwrite",
                ], 2
            ),
            (["lock", "--model", model.path, "--key", key.path, "--out", model.path, "--overwrite"], 2),
            (
                ["sweep", "--model", model.path, "--ids", ids.path, "--keep", "2", "--out", model.path, "--overwrite"],
                2
            ),
            // An output inside the model folder would change it; one holding it would delete it.
            (["train", "--model", model.path, "--ids", ids.path, "--steps", "1", "--out", path("model/sub")], 2),
            (["prune", "--model", model.path, "--drop", "0", "--out", path("model/pruned")], 2),
            (["attribute", "--model", model.path, "--ids", ids.path, "--out", path("model/a.json")], 2),
            (["attribute", "--model", model.path, "--ids", ids.path, "--out", ids.path, "--overwrite"], 2),
            (["lock", "--model", model.path, "--key", key.path, "--out", dir.path, "--overwrite"], 2),
            (["sweep", "--model", model.path, "--ids", ids.path, "--keep", "2", "--out", dir.path, "--overwrite"], 2),
            (["train", "--config", "tiny", "--ids", ids.path, "--steps", "1", "--out", dir.path, "--overwrite"], 2),
        ]
        for (arguments, status) in runs {
            let run = try CLIRunner.run(arguments)
            #expect(run.status == status, "\(arguments.joined(separator: " ")): \(run.stderr)")
            // After each command, so a change names the command and the files.
            for (folder, expected) in [(model, before), (locked, lockedBefore)] {
                let now = try Self.snapshot(folder)
                let changed = Set(now.keys).union(expected.keys).filter { now[$0] != expected[$0] }.sorted()
                #expect(
                    changed.isEmpty,
                    "\(arguments.prefix(2).joined(separator: " ")) changed \(folder.lastPathComponent)/\(changed)")
            }
        }
    }

    @Test func existingOutputIsRefusedWithoutOverwrite() throws {
        let work = try CLIRunner.temporaryDirectory()
        let out = work.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: out.appendingPathComponent("precious.txt"))
        let model = CLIRunner.modelFixture("olmoe_f32_mha").path
        let refused = try CLIRunner.run(["prune", "--model", model, "--drop", "0", "--out", out.path])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("--overwrite"))
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("precious.txt").path))
        let replaced = try CLIRunner.run(["prune", "--model", model, "--drop", "0", "--out", out.path, "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("config.json").path))
        // No temporary folders left beside the output.
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix(".") }.isEmpty)
    }
}
