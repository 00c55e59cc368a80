import Foundation
import Testing

/// The rules of the CLI contract (CLI.md) that hold across commands: exit code 2 for bad
/// arguments as for bad input files, options that mean the same in every command, and outputs
/// that a failed `--overwrite` run does not lose.
@Suite(.enabled(if: CLIRunner.isAvailable))
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
            [
                "train-tokenizer", "--data", path("text.txt"), "--model", "wordlevel", "--vocab-size", "32", "--out",
                path("tok"),
            ],
            [
                "train", "--config", "tiny", "--tokenizer", path("tok"), "--data", path("text.txt"), "--steps", "1",
                "--batch", "2",
                "--seq", "16", "--out", path("model"),
            ],
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
        #expect(
            try CLIRunner.run([
                "attribute", "--model", path("model"), "--data", path("text.txt"), "--context", "16",
                "--out", attribution,
            ]).status == 0)
        let global = try CLIRunner.run([
            "prune", "--model", path("model"), "--attribution", attribution, "--threshold", "0.1",
            "--scope", "global", "--out", path("p"),
        ])
        #expect(global.status == 2 && global.stderr.contains("--scope global"), "\(global.stderr)")
        let mapped = try CLIRunner.run([
            "realign", "--model", path("model"), "--residency", "mapped", "--pool", path("text.txt"),
            "--eval-data", path("text.txt"), "--out", path("r"),
        ])
        #expect(mapped.status == 2 && mapped.stderr.contains("resident"), "\(mapped.stderr)")
        let folder = try CLIRunner.run(["tokenize", "--model", path("model"), "--text", path("tok")])
        #expect(folder.status == 2 && folder.stderr.contains("cannot be read"), "\(folder.stderr)")
        let inside = try CLIRunner.run([
            "realign", "--model", path("model"), "--pool", path("text.txt"), "--eval-data",
            path("text.txt"), "--out", path("model/realigned"),
        ])
        #expect(inside.status == 2 && inside.stderr.contains("is an input"), "\(inside.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("model/realigned")))
        // Another model's tokenizer (217 ids for a 32-word model) is named before any token is scored.
        try FileManager.default.copyItem(atPath: path("model"), toPath: path("foreign"))
        try FileManager.default.removeItem(atPath: path("foreign/tokenizer.json"))
        try FileManager.default.copyItem(
            at: CLIRunner.packageRoot.appendingPathComponent(
                "Tests/MoEModelsTests/Fixtures/tokenizers/wordlevel/tokenizer.json"),
            to: dir.appendingPathComponent("foreign/tokenizer.json"))
        let foreign = try CLIRunner.run(["attribute", "--model", path("foreign"), "--data", path("text.txt"), "--json"])
        #expect(foreign.status == 2 && foreign.stderr.contains("vocab_size"), "\(foreign.stderr)")
        try Data(
            "{\"text\": \"the expert\", \"label\": \"positive\"}\n{\"text\": \"two tokens\", \"label\": \"positive\"}\n"
                .utf8
        )
        .write(to: dir.appendingPathComponent("one-label.jsonl"))
        let oneLabel = try CLIRunner.run([
            "eval", "--model", path("model"), "--task", "classify", "--data", path("one-label.jsonl"),
        ])
        #expect(oneLabel.status == 2 && oneLabel.stderr.contains("labelled 'positive'"), "\(oneLabel.stderr)")
        let folderData = try CLIRunner.run([
            "eval", "--model", path("model"), "--task", "classify", "--data", path("tok"),
        ])
        #expect(folderData.status == 2 && folderData.stderr.contains("is a folder"), "\(folderData.stderr)")
    }

    /// `attribute` and `sweep` read `--task perplexity` data as `eval` does: JSONL `{"text"}`
    /// records are documents, not text with JSON syntax in it. The same documents as plain text
    /// give the same attribution.
    @Test func perplexityDataFormatsAgree() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        for (data, out) in [("text.txt", "plain.json"), ("text.jsonl", "records.json")] {
            let run = try CLIRunner.run([
                "attribute", "--model", path("model"), "--data", path(data), "--context", "16",
                "--out", path(out),
            ])
            #expect(run.status == 0, "\(run.stderr)")
        }
        func statistics(_ name: String) throws -> Any? {
            let object =
                try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(name)))
                as? [String: Any]
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
        #expect(
            try CLIRunner.run([
                "attribute", "--model", path("model"), "--data", path("text.txt"), "--context", "16",
                "--out", path("a.json"),
            ]).status == 0)
        let run = try CLIRunner.run([
            "sweep", "--model", path("model"), "--attribution", path("a.json"), "--eval-data",
            path("text.txt"), "--context", "16", "--keep", "9,2,1", "--seeds", "1",
            "--criteria", "soft", "--out", path("s"), "--json",
        ])
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
        try Data((0..<200).map { String(($0 * 7) % 32) }.joined(separator: " ").utf8).write(
            to: URL(fileURLWithPath: ids))
        try Data("1 2 x".utf8).write(to: URL(fileURLWithPath: path("bad-ids.txt")))
        let base = [
            "train", "--config", "tiny", "--ids", ids, "--task", "perplexity", "--steps", "1", "--batch", "2", "--seq",
            "16",
        ]
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

    static func perplexity(_ model: String, _ data: String) throws -> Double {
        let run = try CLIRunner.run([
            "eval", "--model", model, "--task", "perplexity", "--data", data, "--context", "16", "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        return try #require(object?["nll"] as? Double)
    }

    /// A folder `train --trainable lora` wrote is the base plus its adapter: every command loads
    /// the adapted model (the merged twin scores the same), and training it further continues the
    /// adapter instead of starting a fresh one.
    @Test func savedAdaptersAreLoaded() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let lora = [
            "train", "--model", path("model"), "--data", path("text.txt"), "--trainable", "lora", "--lr", "1e-2",
            "--steps", "20", "--batch", "2", "--seq", "16",
        ]
        #expect(try CLIRunner.run(lora + ["--out", path("adapted")]).status == 0)
        #expect(try CLIRunner.run(lora + ["--merge-lora", "--out", path("merged")]).status == 0)
        #expect(FileManager.default.fileExists(atPath: path("adapted/adapter_model.safetensors")))
        let base = try Self.perplexity(path("model"), path("text.txt"))
        let adapted = try Self.perplexity(path("adapted"), path("text.txt"))
        let merged = try Self.perplexity(path("merged"), path("text.txt"))
        #expect(abs(adapted - base) > 1e-4, "base \(base), adapted \(adapted)")
        #expect(abs(adapted - merged) < 1e-4 * abs(merged), "adapted \(adapted), merged \(merged)")
        // Pruning the adapted model keeps the adapter's effect (merged into the pruned weights).
        #expect(
            try CLIRunner.run(["prune", "--model", path("adapted"), "--drop", "7", "--out", path("p-adapted")]).status
                == 0)
        #expect(
            try CLIRunner.run(["prune", "--model", path("merged"), "--drop", "7", "--out", path("p-merged")]).status
                == 0)
        let prunedAdapted = try Self.perplexity(path("p-adapted"), path("text.txt"))
        let prunedMerged = try Self.perplexity(path("p-merged"), path("text.txt"))
        #expect(abs(prunedAdapted - prunedMerged) < 1e-4 * abs(prunedMerged))
    }

    /// Pruning decisions come from the attribution file as written: its own criterion by default,
    /// no ablation ranking without ablation scores, no empty corpus, no masked expert revived.
    @Test func pruningFollowsTheAttributionAndTheMask() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func json(_ run: CLIRunner.Run) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        }
        #expect(
            try CLIRunner.run([
                "attribute", "--model", path("model"), "--data", path("text.txt"), "--context", "16",
                "--criterion", "reap", "--out", path("reap.json"),
            ]).status == 0)
        let byFile = try CLIRunner.run([
            "prune", "--model", path("model"), "--attribution", path("reap.json"), "--keep", "2",
            "--out", path("p1"), "--json",
        ])
        #expect(byFile.status == 0, "\(byFile.stderr)")
        #expect((try json(byFile)["rule"] as? String)?.contains("reap") == true, "\(byFile.stdout)")
        let ablation = try CLIRunner.run([
            "prune", "--model", path("model"), "--attribution", path("reap.json"), "--keep", "2",
            "--criterion", "ablation", "--out", path("p2"),
        ])
        #expect(ablation.status == 2 && ablation.stderr.contains("no ablation scores"), "\(ablation.stderr)")

        try Data().write(to: dir.appendingPathComponent("empty.txt"))
        let empty = try CLIRunner.run([
            "attribute", "--model", path("model"), "--data", path("empty.txt"), "--context", "16", "--json",
        ])
        #expect(empty.status == 2 && empty.stderr.contains("empty.txt"), "\(empty.stderr)")

        // Mask-prune to 4 experts, then: a plan reviving a masked expert is refused; training
        // the masked model keeps its mask.
        let masked = try CLIRunner.run([
            "prune", "--model", path("model"), "--attribution", path("reap.json"), "--keep", "4",
            "--mode", "mask", "--out", path("masked"), "--json",
        ])
        #expect(masked.status == 0, "\(masked.stderr)")
        let kept = try #require(try json(masked)["kept"] as? [[Int]])
        let gone = try #require((0..<8).first { !kept[0].contains($0) })
        let revive = try CLIRunner.run([
            "prune", "--model", path("masked"), "--drop", "\(kept[0][0])", "--out", path("p3"),
        ])
        #expect(
            revive.status == 2 && revive.stderr.contains("mask-pruned"), "kept \(kept), gone \(gone): \(revive.stderr)")
        #expect(
            try CLIRunner.run([
                "train", "--model", path("masked"), "--data", path("text.txt"), "--steps", "1", "--batch", "2",
                "--seq", "16", "--out", path("masked-trained"),
            ]).status == 0)
        let mask = try Data(contentsOf: dir.appendingPathComponent("masked-trained/expertlock_mask.json"))
        #expect(try Data(contentsOf: dir.appendingPathComponent("masked/expertlock_mask.json")) == mask)
    }

    /// An output reached through a symbolic link to an input folder is inside that input; a
    /// public key is not a signing key.
    @Test func symlinkedOutputsAndPublicKeysAreRefused() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try FileManager.default.createSymbolicLink(atPath: path("link"), withDestinationPath: path("model"))
        let before = try InputIntegrityTests.snapshot(dir.appendingPathComponent("model"))
        for arguments in [
            ["prune", "--model", path("model"), "--drop", "0", "--out", path("link/sub")],
            [
                "attribute", "--model", path("model"), "--data", path("text.txt"), "--context", "16", "--out",
                path("link/a.json"),
            ],
        ] {
            let run = try CLIRunner.run(arguments)
            #expect(run.status == 2 && run.stderr.contains("is an input"), "\(arguments[0]): \(run.stderr)")
        }
        #expect(try InputIntegrityTests.snapshot(dir.appendingPathComponent("model")) == before)
        #expect(try CLIRunner.run(["keygen", "--out", path("keys/owner")]).status == 0)
        let wrong = try CLIRunner.run([
            "lock", "--model", path("model"), "--key", path("keys/owner.pub"), "--out", path("locked"),
        ])
        #expect(wrong.status == 2 && wrong.stderr.contains("public key"), "\(wrong.stderr)")
        #expect(
            try CLIRunner.run(["lock", "--model", path("model"), "--key", path("keys/owner"), "--out", path("locked")])
                .status == 0)
    }

    /// A checkpoint with NaN weights gives an error, not a plausible figure (a NaN score loses
    /// every comparison, so classification picked class 0 and reported its share as accuracy).
    @Test func nonFiniteScoresAreAnError() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try FileManager.default.copyItem(atPath: path("model"), toPath: path("nan"))
        let weights = dir.appendingPathComponent("nan/model.safetensors")
        var data = try Data(contentsOf: weights)
        let length = Int(data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        let header = try #require(try JSONSerialization.jsonObject(with: data[8..<(8 + length)]) as? [String: Any])
        let norm = try #require(header["model.norm.weight"] as? [String: Any])
        #expect(norm["dtype"] as? String == "F32")
        let offsets = try #require(norm["data_offsets"] as? [Int])
        let nan = withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Data($0) }
        for at in stride(from: 8 + length + offsets[0], to: 8 + length + offsets[1], by: 4) {
            data.replaceSubrange(at..<(at + 4), with: nan)
        }
        try data.write(to: weights)
        try Data("sentence\tlabel\nthe expert keeps\t1\nof eight tokens\t0\n".utf8).write(
            to: dir.appendingPathComponent("dev.tsv"))
        for arguments in [
            ["eval", "--model", path("nan"), "--task", "classify", "--data", path("dev.tsv"), "--json"],
            [
                "eval", "--model", path("nan"), "--task", "perplexity", "--data", path("text.txt"), "--context", "16",
                "--json",
            ],
        ] {
            let run = try CLIRunner.run(arguments)
            #expect(
                run.status == 2 && run.stderr.contains("not finite") && run.stdout.isEmpty,
                "\(arguments[3]): \(run.stderr)")
        }
    }

    /// Shards merge only when they come from the same weights: a model and another of the same
    /// shapes (here: trained from another seed) are refused, where the signature alone agreed.
    @Test func shardsOfAnotherModelDoNotMerge() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        #expect(
            try CLIRunner.run([
                "train", "--config", "tiny", "--tokenizer", path("tok"), "--data", path("text.txt"),
                "--steps", "1", "--batch", "2", "--seq", "16", "--seed", "9", "--out", path("other"),
            ]).status == 0)
        for (model, out) in [("model", "a.json"), ("model", "b.json"), ("other", "c.json")] {
            let run = try CLIRunner.run([
                "attribute", "--model", path(model), "--data", path("text.txt"), "--context", "16",
                "--limit", "4", "--out", path(out),
            ])
            #expect(run.status == 0, "\(run.stderr)")
        }
        #expect(try CLIRunner.run(["attribute", "--merge", path("a.json"), path("b.json"), "--json"]).status == 0)
        let foreign = try CLIRunner.run(["attribute", "--merge", path("a.json"), path("c.json"), "--json"])
        #expect(foreign.status == 2 && foreign.stderr.contains("different models"), "\(foreign.stderr)")
    }

    /// Provenance reads a mask-pruned suspect as the model its routers run: the masked experts are
    /// not counted as kept.
    @Test func provenanceHonoursTheSuspectsMask() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        #expect(
            try CLIRunner.run([
                "prune", "--model", path("model"), "--drop", "0,5", "--mode", "mask", "--out",
                path("masked"),
            ]).status == 0)
        let run = try CLIRunner.run(["provenance", "--original", path("model"), "--suspect", path("masked"), "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let kept = try #require(
            (object["kept_experts"] ?? (object["report"] as? [String: Any])?["kept_experts"]) as? [[Int]])
        #expect(kept == [[1, 2, 3, 4, 6, 7], [1, 2, 3, 4, 6, 7]], "\(run.stdout.prefix(400))")
    }
}
