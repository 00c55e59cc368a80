import Foundation
import Testing

/// `--stream-layers` gives the files and figures of the ordinary run, and refuses what cannot stream.
@Suite(.enabled(if: CLIRunner.isAvailable))
struct StreamLayersCommandTests {
    static func idsFile(in work: URL) throws -> URL {
        let ids = work.appendingPathComponent("ids.txt")
        try Data((0..<150).map { String(($0 * 11) % 48) }.joined(separator: " ").utf8).write(to: ids)
        return ids
    }

    @Test func attributionFilesAreIdentical() throws {
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let model = CLIRunner.modelFixture("qwen2_moe_bf16_norm_tied").path
        let ids = try Self.idsFile(in: work).path
        let plain = work.appendingPathComponent("plain.json").path
        let streamed = work.appendingPathComponent("streamed.json").path
        let common = ["attribute", "--model", model, "--ids", ids, "--context", "20", "--batch", "3"]
        let a = try CLIRunner.run(common + ["--out", plain])
        let b = try CLIRunner.run(common + ["--out", streamed, "--stream-layers", "--stream-activations-mb", "0"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(b.stderr.contains("peak RSS"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: plain)) == Data(contentsOf: URL(fileURLWithPath: streamed)))
    }

    @Test func perplexityIsTheSame() throws {
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let model = CLIRunner.modelFixture("mixtral_bf16_tied_mqa").path
        let ids = try Self.idsFile(in: work).path
        let common = [
            "eval", "--model", model, "--task", "perplexity", "--ids", ids, "--context", "24", "--stride", "16",
            "--json",
        ]
        func figure(_ extra: [String]) throws -> (Double, Int) {
            let run = try CLIRunner.run(common + extra)
            #expect(run.status == 0, "\(run.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
            #expect(object["peak_rss_mb"] is Int)
            return (object["perplexity"] as? Double ?? .nan, object["tokens"] as? Int ?? -1)
        }
        let (plain, plainTokens) = try figure([])
        let (streamed, streamedTokens) = try figure(["--stream-layers"])
        #expect(plainTokens == streamedTokens)
        #expect(abs(plain - streamed) <= 1e-5 * plain, "\(plain) vs \(streamed)")
    }

    @Test func unsupportedCombinationsAreInputErrors() throws {
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let model = CLIRunner.modelFixture("mixtral_f32_gqa2").path
        let ids = try Self.idsFile(in: work).path
        let data = work.appendingPathComponent("s.jsonl")
        try Data(#"{"document": "a b", "summary": "a"}"#.utf8).write(to: data)
        for arguments in [
            ["attribute", "--model", model, "--ids", ids, "--criterion", "ablation", "--stream-layers"],
            ["eval", "--model", model, "--task", "summarize", "--data", data.path, "--stream-layers"],
        ] {
            let run = try CLIRunner.run(arguments)
            #expect(run.status == 2, "\(arguments.joined(separator: " ")): \(run.stderr)")
            #expect(run.stderr.contains("--stream-layers"))
        }
    }
}
