import Foundation
import MoEModels
import Testing

/// Qwen3-Next on the command line: `train` (every weight, so the backward runs through Gated DeltaNet, gated
/// attention and the zero-centred norms) and `realign` on a checkpoint transformers 5.25 wrote, and the
/// trained folder loads back with the same family.
@Suite(.enabled(if: CLIRunner.isAvailable)) struct HybridFamilyCommandTests {
    /// 260 tokens: the byte-level encoder's ids fit.
    static let fixture = CLIRunner.packageRoot.appendingPathComponent(
        "Tests/MoEModelsTests/Fixtures/families/qwen3_next_bf16_noshared_conv3")

    @Test func trainsEveryWeightOfAQwen3NextCheckpoint() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ids = (0..<200).map { ($0 * 7 + $0 / 5) % 31 }
        try Data(("[" + ids.map(String.init).joined(separator: ",") + "]").utf8).write(
            to: dir.appendingPathComponent("ids.json"))
        let out = dir.appendingPathComponent("trained")
        let run = try CLIRunner.run([
            "train", "--model", Self.fixture.path, "--trainable", "all", "--ids",
            dir.appendingPathComponent("ids.json").path,
            "--steps", "4", "--batch", "2", "--seq", "16", "--lr", "1e-3", "--json", "--out", out.path,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((json["final_loss"] as? Double).map { $0.isFinite && $0 > 0 } == true)
        let trained = try ModelLoader.load(directory: out)
        #expect(trained.family.rawValue == "qwen3_next")
        let before = try ModelLoader.load(directory: Self.fixture)
        let name = "model.layers.1.linear_attn.A_log"
        let a = try #require(before.parameters.first { $0.name == name })
        let b = try #require(trained.parameters.first { $0.name == name })
        #expect(try a.tensor().data != b.tensor().data, "the linear-attention decay trained")
    }

    @Test func realignsAQwen3NextCheckpoint() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var text = "sentence\tlabel\n"
        for i in 0..<24 {
            text += (i % 2 == 0 ? "good great fine" : "bad awful poor") + " \(i)\t\(i % 2 == 0 ? 1 : 0)\n"
        }
        try Data(text.utf8).write(to: dir.appendingPathComponent("pool.tsv"))
        try Data(text.utf8).write(to: dir.appendingPathComponent("dev.tsv"))
        let run = try CLIRunner.run([
            "realign", "--model", Self.fixture.path, "--tokenizer", "bytes", "--pool",
            dir.appendingPathComponent("pool.tsv").path, "--eval-data", dir.appendingPathComponent("dev.tsv").path,
            "--validation", "4", "--budget", "6", "--batch", "2", "--initial", "2", "--steps", "2", "--train-batch",
            "2", "--seq", "32",
            "--seed", "5", "--strategy", "entropy", "--trainable", "all", "--json", "--out",
            dir.appendingPathComponent("run").path,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((json["curve"] as? [[String: Any]])?.count == 4)  // labelled 0, 2, 4, 6
        #expect((json["final"] as? Double).map { (0...1).contains($0) } == true)
    }
}
