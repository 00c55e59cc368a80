import Foundation
import Testing

/// What a first real user hit (issue 23), through the built binary: each test is one numbered item
/// of the issue and fails on the build the issue was filed against.
@Suite(.enabled(if: CLIRunner.isAvailable))
struct FirstUserCommandTests {
    /// The CLI contract workspace, plus `other/`: a model of the same shape from another seed.
    static func workspace() throws -> URL {
        let dir = try CLIContractTests.workspace()
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let train = try CLIRunner.run([
            "train", "--config", "tiny", "--tokenizer", path("tok"), "--data", path("text.txt"), "--steps", "1",
            "--batch", "2", "--seq", "16", "--seed", "7", "--out", path("other"),
        ])
        guard train.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["stderr": train.stderr]) }
        let attribute = try CLIRunner.run([
            "attribute", "--model", path("model"), "--data", path("text.txt"), "--context", "16", "--out",
            path("a.json"),
        ])
        guard attribute.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["stderr": attribute.stderr]) }
        return dir
    }

    /// Item 1: an attribution (or a plan) of another model of the same shape is refused by
    /// `prune` and `sweep --attribution`, naming the file; the model's own is accepted.
    @Test func anArtefactOfAnotherModelIsRefused() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let foreign = try CLIRunner.run([
            "prune", "--model", path("other"), "--attribution", path("a.json"), "--keep", "2", "--out", path("p-other"),
        ])
        #expect(foreign.status == 2, "\(foreign.stderr)")
        #expect(
            foreign.stderr.contains(path("a.json")) && foreign.stderr.contains("another model"), "\(foreign.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("p-other")))
        let sweep = try CLIRunner.run([
            "sweep", "--model", path("other"), "--attribution", path("a.json"), "--eval-data", path("text.txt"),
            "--context", "16", "--keep", "2", "--seeds", "1", "--criteria", "soft", "--out", path("s-other"),
        ])
        #expect(sweep.status == 2 && sweep.stderr.contains("another model"), "\(sweep.stderr)")
        let own = try CLIRunner.run([
            "prune", "--model", path("model"), "--attribution", path("a.json"), "--keep", "2", "--out", path("p"),
        ])
        #expect(own.status == 0, "\(own.stderr)")
        // The plan prune wrote records the model it was made for.
        let plan = try CLIRunner.run([
            "prune", "--model", path("other"), "--plan", path("p/pruning_plan.json"), "--out", path("p-plan"),
        ])
        #expect(plan.status == 2 && plan.stderr.contains("pruning_plan.json"), "\(plan.stderr)")
    }

    /// Items 3, 4 and 8: ranges declared with the options. A negative value reaches the range
    /// check (not "Missing value"), a negative threshold is refused, and a context beyond the
    /// model's positions is refused with the reason unless --allow-long-context.
    @Test func optionRangesAreChecked() throws {
        let dir = try CLIContractTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let limit = try CLIRunner.run([
            "eval", "--model", path("model"), "--task", "perplexity", "--data", path("text.txt"), "--limit", "-5",
        ])
        #expect(limit.status == 2)
        #expect(limit.stderr.contains("--limit") && limit.stderr.contains("at least 1"), "\(limit.stderr)")
        #expect(!limit.stderr.contains("Missing value"), "\(limit.stderr)")
        let attribute = try CLIRunner.run([
            "attribute", "--model", path("model"), "--data", path("text.txt"), "--context", "16", "--out",
            path("a.json"),
        ])
        #expect(attribute.status == 0, "\(attribute.stderr)")
        for threshold in ["--threshold=-0.1", "--threshold=1.5"] {
            let run = try CLIRunner.run([
                "prune", "--model", path("model"), "--attribution", path("a.json"), threshold, "--out", path("p"),
            ])
            #expect(run.status == 2 && run.stderr.contains("out of range"), "\(threshold): \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: path("p")))
        let long = try CLIRunner.run([
            "eval", "--model", path("model"), "--task", "perplexity", "--data", path("text.txt"), "--context", "100000",
        ])
        #expect(long.status == 2, "\(long.stderr)")
        #expect(long.stderr.contains("max_position_embeddings 2048") && long.stderr.contains("--allow-long-context"))
        let allowed = try CLIRunner.run([
            "eval", "--model", path("model"), "--task", "perplexity", "--data", path("text.txt"), "--context", "100000",
            "--allow-long-context", "--json",
        ])
        #expect(allowed.status == 0, "\(allowed.stderr)")
    }

    /// Item 6: `lock` copies the weights (or clones them copy-on-write); writing into the locked
    /// copy leaves the input model as it was.
    @Test func lockNeverSharesTheInputsBytes() throws {
        let dir = try CLIContractTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        #expect(try CLIRunner.run(["keygen", "--out", path("owner.key")]).status == 0)
        let lock = try CLIRunner.run([
            "lock", "--model", path("model"), "--key", path("owner.key"), "--out", path("locked"),
        ])
        #expect(lock.status == 0, "\(lock.stderr)")
        let original = path("model/model.safetensors"), locked = path("locked/model.safetensors")
        let before = try Data(contentsOf: URL(fileURLWithPath: original))
        func inode(_ p: String) throws -> Int? {
            try FileManager.default.attributesOfItem(atPath: p)[.systemFileNumber] as? Int
        }
        #expect(try inode(original) != inode(locked))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: locked))
        try handle.seek(toOffset: UInt64(before.count - 1))
        try handle.write(contentsOf: Data([before.last! ^ 0xFF]))
        try handle.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: original)) == before)
    }

    /// Item 7: an output that cannot be written exits with 2 and names the user's path and the
    /// cause; no temporary name, no Foundation error domain.
    @Test func anUnwritableOutputNamesThePathAndCause() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let blocked = path("text.txt") + "/pruned"  // below a file: no user can create it, root included
        let prune = try CLIRunner.run([
            "prune", "--model", path("model"), "--attribution", path("a.json"), "--keep", "2", "--out", blocked,
        ])
        #expect(prune.status == 2, "\(prune.stderr)")
        #expect(prune.stderr.contains(blocked) && prune.stderr.contains("not a folder"), "\(prune.stderr)")
        let missing = "/proc/expertlock-\(UUID().uuidString)/a.json"  // /proc takes no new folders
        let attribute = try CLIRunner.run([
            "attribute", "--model", path("model"), "--data", path("text.txt"), "--context", "16", "--out", missing,
        ])
        #expect(attribute.status == 2, "\(attribute.stderr)")
        let lastLine = attribute.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastLine.contains(missing) && lastLine.contains("cannot write"), "\(attribute.stderr)")
        for run in [prune, attribute] {
            #expect(!run.stderr.contains(".tmp-") && !run.stderr.contains(".state") && !run.stderr.contains("NSCocoa"))
        }
    }

    /// Items 9 and 10: another model's tokenizer and an empty text file are named, with a hint.
    @Test func tokenizerMismatchAndEmptyTextNameTheFile() throws {
        let dir = try CLIContractTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        #expect(
            try CLIRunner.run([
                "train-tokenizer", "--data", path("text.txt"), "--model", "bpe", "--vocab-size", "300", "--out",
                path("big"),
            ]).status == 0)
        let mismatch = try CLIRunner.run([
            "eval", "--model", path("model"), "--tokenizer", path("big"), "--task", "perplexity", "--data",
            path("text.txt"),
        ])
        #expect(mismatch.status == 2)
        #expect(mismatch.stderr.contains(path("big") + "/tokenizer.json") && mismatch.stderr.contains("vocab_size"))
        try Data().write(to: URL(fileURLWithPath: path("empty.txt")))
        let empty = try CLIRunner.run([
            "eval", "--model", path("model"), "--task", "perplexity", "--data", path("empty.txt"),
        ])
        #expect(empty.status == 2)
        #expect(empty.stderr.contains("empty.txt") && empty.stderr.contains("empty file"), "\(empty.stderr)")
    }

    /// Item 12: `--model DIR/config.json` is the folder.
    @Test func aConfigPathNamesItsFolder() throws {
        let dir = try CLIContractTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let run = try CLIRunner.run([
            "eval", "--model", path("model/config.json"), "--task", "perplexity", "--data", path("text.txt"),
            "--context", "16", "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
    }

    /// Items 13 and 18: the sweep's headline resistance is a table in a fixed order, printed and
    /// in table.md; curve.json spells its keys in snake_case like every other file.
    @Test func sweepHeadlineIsATableAndKeysAreSnakeCase() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let run = try CLIRunner.run([
            "sweep", "--model", path("model"), "--attribution", path("a.json"), "--eval-data", path("text.txt"),
            "--context", "16", "--keep", "8,2", "--seeds", "1", "--criteria", "soft,reap", "--out", path("s"),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stdout.contains("[\""), "a dictionary literal: \(run.stdout)")
        let table = try String(contentsOfFile: path("s/table.md"), encoding: .utf8)
        let headline = "| strategy | normalised area | drop at k=2 |"
        #expect(run.stdout.contains(headline) && table.contains(headline), "\(run.stdout)")
        // Strategies in the order measured, so two runs print the same bytes.
        let order = table.split(separator: "\n")
            .filter { ["| soft |", "| reap |", "| random |"].contains(where: $0.hasPrefix) }
            .map { $0.split(separator: "|")[0].trimmingCharacters(in: .whitespaces) }
        #expect(order == ["soft", "reap", "random"], "\(table)")
        // The full row once, as "8 (full)".
        #expect(table.contains("| 8 (full) |") && !table.contains("\n| 8 |"), "\(table)")
        let curve = try String(contentsOfFile: path("s/curve.json"), encoding: .utf8)
        #expect(curve.contains("\"metric_name\"") && curve.contains("\"experts_per_layer\""), "\(curve)")
        #expect(!curve.contains("metricName") && !curve.contains("expertsKept"))
    }

    /// Item 14: `eval` without --json prints a summary for people, not `key: value` dumps.
    @Test func evalPrintsAReadableSummary() throws {
        let dir = try CLIContractTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let run = try CLIRunner.run([
            "eval", "--model", path("model"), "--task", "perplexity", "--data", path("text.txt"), "--context", "16",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stdout.contains("peak_rss_bytes") && !run.stdout.contains("tokens_per_s"), "\(run.stdout)")
        #expect(run.stdout.hasPrefix("eval perplexity:") && run.stdout.contains("  perplexity "), "\(run.stdout)")
        #expect(run.stdout.contains("peak memory") && run.stdout.contains(" MB"))
    }

    /// Item 15: a global-scope removal that leaves layers unequal says so on stderr, also without --json.
    @Test func unequalGlobalPruneWarnsOnStderr() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        // Layer 0 routes everything to experts 0 and 1, layer 1 spreads: a global budget of 3 × 2
        // keeps two experts of layer 0 and four of layer 1.
        let url = URL(fileURLWithPath: path("a.json"))
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var layers = try #require(object["layers"] as? [[String: Any]])
        var experts = try #require(layers[0]["experts"] as? [[String: Any]])
        for e in experts.indices { experts[e]["soft_mass_fixed"] = e < 2 ? 1 << 40 : 0 }
        layers[0]["experts"] = experts
        object["layers"] = layers
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let run = try CLIRunner.run([
            "prune", "--model", path("model"), "--attribution", path("a.json"), "--keep", "3", "--scope", "global",
            "--out", path("g"),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("warning") && run.stderr.contains("transformers cannot"), "\(run.stderr)")
    }

    /// Item 16: `--resume` with nothing saved says so, and Ctrl-C tells how to continue.
    @Test func resumeWithoutStateAndInterruptSaySo() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let resumed = try CLIRunner.run([
            "attribute", "--model", path("model"), "--data", path("text.txt"), "--context", "16", "--out",
            path("b.json"),
            "--resume",
        ])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("no saved state"), "\(resumed.stderr)")
        // A long sweep, interrupted once its first progress line is out.
        let big = (0..<200).map { _ in try! String(contentsOfFile: path("text.txt"), encoding: .utf8) }.joined(
            separator: "\n\n")
        try Data(big.utf8).write(to: URL(fileURLWithPath: path("big.txt")))
        let interrupted = try CLIRunner.runInterrupted(
            [
                "sweep", "--model", path("model"), "--attribution", path("a.json"), "--eval-data", path("big.txt"),
                "--context", "16", "--keep", "8,6,4,2,1", "--seeds", "3", "--out", path("s"),
            ], after: "sweep: ")
        #expect(interrupted.status == 130, "\(interrupted.stderr)")
        #expect(interrupted.stderr.contains("with --resume to continue"), "\(interrupted.stderr)")
    }

    /// Item 5 through the binary: the two halves of a key pair cannot be swapped.
    @Test func swappedKeyFilesAreRefused() throws {
        let dir = try CLIContractTests.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        #expect(try CLIRunner.run(["keygen", "--out", path("owner.key")]).status == 0)
        try FileManager.default.copyItem(atPath: path("owner.key.pub"), toPath: path("pubcopy"))
        let lock = try CLIRunner.run([
            "lock", "--model", path("model"), "--key", path("pubcopy"), "--out", path("locked"),
        ])
        #expect(lock.status == 2 && lock.stderr.contains("pubcopy") && lock.stderr.contains("is a public key"))
        #expect(
            try CLIRunner.run([
                "lock", "--model", path("model"), "--key", path("owner.key"), "--out", path("locked"),
            ]).status == 0)
        let verify = try CLIRunner.run(["log", "verify", "--model", path("locked"), "--public-key", path("owner.key")])
        #expect(verify.status == 2, "\(verify.stdout)")
        #expect(verify.stderr.contains("is a private key") && verify.stdout.isEmpty, "\(verify.stderr)")
    }
}
