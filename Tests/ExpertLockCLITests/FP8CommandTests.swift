import Foundation
import MoEModels
import Testing

/// FP8 checkpoints on the command line: `prune` keeps the FP8 bytes, scales and `quantization_config`, and an
/// FP8 weight without its scale is bad input (exit 2, one line naming the file and the tensor).
@Suite(.enabled(if: CLIRunner.isAvailable)) struct FP8CommandTests {
    static let fixture = CLIRunner.packageRoot.appendingPathComponent(
        "Tests/MoEModelsTests/Fixtures/families/deepseek_v3_fp8_block32_groups_yarn")

    @Test func pruneWritesTheKeptFP8BytesUnchanged() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("pruned")
        let run = try CLIRunner.run(["prune", "--model", Self.fixture.path, "--drop", "1,7", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        let before = try SafeTensorsCheckpoint(directory: Self.fixture)
        let after = try SafeTensorsCheckpoint(directory: out)
        // Expert 2 of the original is expert 1 of the copy (experts 0, 2, 3, 4, 5, 6 kept).
        for suffix in ["weight", "weight_scale_inv"] {
            let old = "model.layers.1.mlp.experts.2.up_proj.\(suffix)"
            let new = "model.layers.1.mlp.experts.1.up_proj.\(suffix)"
            #expect(after.info(new)?.dtype == before.info(old)?.dtype)
            #expect(
                try after.file(containing: new)!.storedTensor(new).bytes
                    == before.file(containing: old)!.storedTensor(old).bytes)
        }
        #expect(after.info("model.layers.1.mlp.experts.6.up_proj.weight") == nil)
        let config = try String(contentsOf: out.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(config.contains("\"quant_method\": \"fp8\""))
    }

    @Test func fp8WeightWithoutItsScaleIsBadInput() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: Self.fixture.appendingPathComponent("config.json"), to: model.appendingPathComponent("config.json"))
        let source = try SafeTensorsCheckpoint(directory: Self.fixture)
        let victim = "model.layers.0.self_attn.o_proj.weight"
        let tensors = try source.tensorNames.filter { $0 != victim + "_scale_inv" }
            .map { try source.file(containing: $0)!.storedTensor($0) }
        try SafeTensorsWriter.write(tensors, to: model.appendingPathComponent("model.safetensors"))
        let ids = dir.appendingPathComponent("ids.json")
        try Data("[1, 2, 3]".utf8).write(to: ids)
        let run = try CLIRunner.run(["forward", "--model", model.path, "--ids", ids.path])
        #expect(run.status == 2)
        let lines = run.stderr.split(separator: "\n")
        #expect(
            lines.count == 1 && run.stderr.contains("model.safetensors") && run.stderr.contains(victim), "\(run.stderr)"
        )
    }
}
