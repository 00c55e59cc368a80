import Foundation
import Testing

/// `--shard I/N`: three shards run as separate processes (at the same time) and merged give the
/// bytes of one run, for `attribute` and for perplexity `eval`; an incomplete set is refused.
@Suite(.enabled(if: CLIRunner.isAvailable))
struct ShardCommandTests {
    static func idsFile(in work: URL, count: Int = 230) throws -> String {
        let ids = work.appendingPathComponent("ids.txt")
        try Data((0..<count).map { String(($0 * 17 + $0 / 7) % 48) }.joined(separator: " ").utf8).write(to: ids)
        return ids.path
    }

    /// Runs the argument lists as concurrent processes; every one must succeed.
    static func runConcurrently(_ runs: [[String]]) throws {
        let processes = try runs.map { try CLIRunner.start($0) }
        for (process, arguments) in zip(processes, runs) {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(arguments.joined(separator: " "))")
        }
    }

    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test(arguments: ["qwen2_moe_bf16_norm_tied", "mixtral_f32_gqa2"])
    func threeAttributeShardsMergeToOneRunByteForByte(_ name: String) throws {
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let common = [
            "attribute", "--model", CLIRunner.modelFixture(name).path, "--ids", try Self.idsFile(in: work),
            "--context", "20", "--batch", "2",
        ]
        let one = work.appendingPathComponent("one.json").path
        let shards = (0..<3).map { work.appendingPathComponent("shard\($0).json").path }
        try Self.runConcurrently(
            [common + ["--out", one]] + (0..<3).map { common + ["--shard", "\($0)/3", "--out", shards[$0]] })
        let merged = work.appendingPathComponent("merged.json").path
        let run = try CLIRunner.run(["attribute", "--merge"] + shards.reversed() + ["--out", merged])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Self.bytes(merged) == Self.bytes(one))
        // Each shard is a real slice: fewer tokens than the whole, and they add up.
        let tokens = try shards.map {
            (try JSONSerialization.jsonObject(with: Self.bytes($0)) as? [String: Any])?["tokens"] as? Int ?? 0
        }
        #expect(tokens.allSatisfy { $0 > 0 } && tokens.reduce(0, +) == 230)
    }

    @Test func threePerplexityShardsMergeToOneRunByteForByte() throws {
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let common = [
            "eval", "--model", CLIRunner.modelFixture("mixtral_bf16_tied_mqa").path, "--task", "perplexity",
            "--ids", try Self.idsFile(in: work), "--context", "24", "--stride", "16", "--batch", "2",
        ]
        let one = work.appendingPathComponent("one.json").path
        let shards = (0..<3).map { work.appendingPathComponent("ppl\($0).json").path }
        try Self.runConcurrently(
            [common + ["--out", one]] + (0..<3).map { common + ["--shard", "\($0)/3", "--out", shards[$0]] })
        let merged = work.appendingPathComponent("merged.json").path
        let run = try CLIRunner.run([
            "eval", "--task", "perplexity", "--merge", shards[2], shards[0], shards[1], "--out", merged,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Self.bytes(merged) == Self.bytes(one))
        // The file's perplexity is the ordinary run's, bit for bit.
        let plain = try CLIRunner.run(common + ["--json"])
        let a = try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any] ?? [:]
        let b = try JSONSerialization.jsonObject(with: Self.bytes(one)) as? [String: Any] ?? [:]
        let (x, y) = (a["perplexity"] as? Double ?? .nan, b["perplexity"] as? Double ?? -1)
        #expect(x.bitPattern == y.bitPattern, "\(x) vs \(y)")
        #expect(a["tokens"] as? Int == b["tokens"] as? Int)
    }

    @Test func incompleteOrMixedShardSetsExit2() throws {
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let ids = try Self.idsFile(in: work)
        let model = CLIRunner.modelFixture("mixtral_f32_gqa2").path
        let common = ["attribute", "--model", model, "--ids", ids, "--context", "20"]
        let files = (0..<3).map { work.appendingPathComponent("s\($0).json").path }
        let other = work.appendingPathComponent("other.json").path
        try Self.runConcurrently(
            (0..<3).map { common + ["--shard", "\($0)/3", "--out", files[$0]] }
                + [common + ["--context", "10", "--shard", "2/3", "--out", other]])
        for (set, reason) in [
            ([files[0], files[1]], "missing"), ([files[0], files[1], files[1], files[2]], "twice"),
            ([files[0], files[1], other], "different runs"),
        ] {
            let run = try CLIRunner.run(["attribute", "--merge"] + set + ["--json"])
            #expect(run.status == 2, "\(run.stderr)")
            #expect(run.stderr.contains(reason), "\(run.stderr)")
        }
        for bad in ["3/3", "1/0", "a/b", "-1/2"] {
            let run = try CLIRunner.run(common + ["--shard", bad])
            #expect(run.status == 2, "\(bad): \(run.stderr)")
        }
    }
}
