import Foundation
import Testing

/// Every command that reads a model leaves the model's files byte-identical (and adds none), even
/// when it writes a derived checkpoint or fails.
@Suite(.enabled(if: CLIRunner.executable != nil))
struct InputIntegrityTests {
    static func snapshot(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            out[name] = try Data(contentsOf: dir.appendingPathComponent(name))
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
            (["attribute", "--model", model.path, "--ids", ids.path, "--context", "32", "--criterion", "ablation", "--json"], 0),
            (["prune", "--model", model.path, "--attribution", attribution, "--keep", "2", "--out", work.appendingPathComponent("p1").path], 0),
            (["prune", "--model", model.path, "--drop", "1", "--mode", "mask", "--out", work.appendingPathComponent("p2").path], 0),
            (["sweep", "--model", model.path, "--ids", ids.path, "--context", "32", "--keep", "4,2,1", "--seeds", "1",
              "--out", work.appendingPathComponent("s").path], 0),
            // Failing runs must not touch it either, and the input is never an output, even with --overwrite.
            (["prune", "--model", model.path, "--attribution", attribution, "--keep", "9", "--out", work.appendingPathComponent("p3").path], 2),
            (["prune", "--model", model.path, "--drop", "1", "--out", model.path], 2),
            (["prune", "--model", model.path, "--drop", "1", "--out", model.path + "/", "--overwrite"], 2),
        ]
        for (arguments, status) in runs {
            let run = try CLIRunner.run(arguments)
            #expect(run.status == status, "\(arguments.joined(separator: " ")): \(run.stderr)")
        }
        #expect(try Self.snapshot(model) == before)
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
