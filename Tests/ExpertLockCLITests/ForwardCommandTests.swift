import Foundation
import Testing

/// `expertlock forward` end to end: parity with transformers through the binary, and every kind of broken
/// checkpoint giving exit code 2 with a message that names the file and the problem.
@Suite(.enabled(if: CLIRunner.isAvailable))
struct ForwardCommandTests {
    struct Expected: Decodable {
        let ids: [Int]
        let logits: [[Double]]
        let router_logits: [[[Double]]]
    }

    static func idsFile(_ ids: [Int], in dir: URL) throws -> String {
        let url = dir.appendingPathComponent("ids.json")
        try Data("\(ids)".utf8).write(to: url)
        return url.path
    }

    @Test(arguments: [
        "mixtral_f32_gqa2", "qwen2_moe_bf16_norm_tied", "qwen3_moe_f32_headdim", "olmoe_bf16_gqa_clip_norm",
    ])
    func reproducesTransformers(_ name: String) throws {
        let model = CLIRunner.modelFixture(name)
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: model.appendingPathComponent("expected.json")))
        let dir = try CLIRunner.temporaryDirectory()
        let run = try CLIRunner.run([
            "forward", "--model", model.path, "--ids", try Self.idsFile(expected.ids, in: dir), "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let got = try JSONDecoder().decode(
            Expected.self, from: Data(("{\"ids\": [],".utf8)) + Data(run.stdout.utf8).dropFirst())
        var worst = 0.0
        for (a, b) in zip(got.logits.joined(), expected.logits.joined()) { worst = max(worst, abs(a - b)) }
        for (a, b) in zip(got.router_logits.joined().joined(), expected.router_logits.joined().joined()) {
            worst = max(worst, abs(a - b))
        }
        #expect(got.logits.count == expected.logits.count)
        #expect(got.router_logits.count == expected.router_logits.count)
        #expect(worst <= 1e-4)
    }

    /// Copies a fixture model, lets `corrupt` break it, runs forward and returns the run.
    static func runBroken(_ corrupt: (URL) throws -> Void) throws -> CLIRunner.Run {
        let dir = try CLIRunner.temporaryDirectory()
        let model = dir.appendingPathComponent("model")
        try FileManager.default.copyItem(at: CLIRunner.modelFixture("mixtral_f32_gqa2"), to: model)
        try corrupt(model)
        return try CLIRunner.run([
            "forward", "--model", model.path, "--ids", try idsFile([1, 2, 3], in: dir), "--json",
        ])
    }

    static func rewriteHeader(_ model: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = model.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
        edit(&header)
        var text = try JSONSerialization.data(withJSONObject: header)
        while text.count < n { text.append(0x20) }  // same length keeps the data section in place
        var out = Data()
        withUnsafeBytes(of: UInt64(text.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(text)
        out.append(data.subdata(in: (8 + n)..<data.count))
        try out.write(to: url)
    }

    static func firstTensor(_ header: [String: Any]) -> String {
        header.keys.filter { $0 != "__metadata__" }.sorted().first!
    }

    @Test func truncatedFile() throws {
        let run = try Self.runBroken { model in
            let url = model.appendingPathComponent("model.safetensors")
            let data = try Data(contentsOf: url)
            try data.prefix(data.count - 100).write(to: url)
        }
        #expect(run.status == 2)
        #expect(run.stderr.contains("model.safetensors"))
    }

    @Test func headerPointsPastTheEnd() throws {
        let run = try Self.runBroken { model in
            try Self.rewriteHeader(model) { h in
                let name = Self.firstTensor(h)
                var entry = h[name] as! [String: Any]
                entry["data_offsets"] = [0, 10_000_000]
                h[name] = entry
            }
        }
        #expect(run.status == 2)
        #expect(run.stderr.contains("model.safetensors"))
    }

    @Test func overlappingTensors() throws {
        let run = try Self.runBroken { model in
            try Self.rewriteHeader(model) { h in
                let names = h.keys.filter { $0 != "__metadata__" }.sorted()
                var a = h[names[0]] as! [String: Any]
                let b = h[names[1]] as! [String: Any]
                a["data_offsets"] = b["data_offsets"]
                a["shape"] = b["shape"]
                h[names[0]] = a
            }
        }
        #expect(run.status == 2)
        #expect(run.stderr.contains("model.safetensors"))
    }

    @Test func unknownDType() throws {
        let run = try Self.runBroken { model in
            try Self.rewriteHeader(model) { h in
                let name = Self.firstTensor(h)
                var entry = h[name] as! [String: Any]
                entry["dtype"] = "F7"
                h[name] = entry
            }
        }
        #expect(run.status == 2)
        #expect(run.stderr.contains("model.safetensors"))
        #expect(run.stderr.contains("F7"))
    }

    @Test func unknownModelType() throws {
        let run = try Self.runBroken { model in
            let url = model.appendingPathComponent("config.json")
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            config["model_type"] = "gpt_oss_moe"
            try JSONSerialization.data(withJSONObject: config).write(to: url)
        }
        #expect(run.status == 2)
        #expect(run.stderr.contains("config.json"))
        #expect(run.stderr.contains("gpt_oss_moe"))
    }

    @Test func badIdsFile() throws {
        let dir = try CLIRunner.temporaryDirectory()
        let ids = dir.appendingPathComponent("ids.txt")
        try Data("1 2 x".utf8).write(to: ids)
        let run = try CLIRunner.run([
            "forward", "--model", CLIRunner.modelFixture("olmoe_f32_mha").path, "--ids", ids.path,
        ])
        #expect(run.status == 2)
        #expect(run.stderr.contains("ids.txt"))
        try Data("[1, 2, 999]".utf8).write(to: ids)
        let outOfRange = try CLIRunner.run([
            "forward", "--model", CLIRunner.modelFixture("olmoe_f32_mha").path, "--ids", ids.path,
        ])
        #expect(outOfRange.status == 2)
    }
}
