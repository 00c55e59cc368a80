import Foundation
import Testing

/// `attribute --traces` on traces made by scripts/fixtures/make_trace_fixtures.py from transformers'
/// router logits: the engines' encodings give the frequency `attribute` computes on the same tokens,
/// the logits dump its soft mass; malformed traces exit 2 naming the file and the request.
@Suite(.enabled(if: CLIRunner.isAvailable))
struct TraceAttributionCommandTests {
    static let cases = ["mixtral_f32_gqa2", "qwen2_moe_f32_shared_dense"]

    static func fixture(_ name: String, _ file: String) -> String {
        CLIRunner.packageRoot.appendingPathComponent("Tests/ExpertLockTests/Fixtures/traces/\(name)/\(file)").path
    }

    static func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
    }

    /// [layer][expert] of one statistic.
    static func table(_ object: [String: Any], _ key: String) -> [[Double]] {
        (object["layers"] as? [[String: Any]] ?? []).map { layer in
            (layer["experts"] as? [[String: Any]] ?? []).map { ($0[key] as? NSNumber)?.doubleValue ?? .nan }
        }
    }

    /// `attribute --ids` over the fixture's requests (one sequence per request).
    static func modelRun(_ name: String, in work: URL) throws -> [String: Any] {
        let context = (try json(fixture(name, "case.json"))["context"] as? Int) ?? 0
        let out = work.appendingPathComponent("model.json").path
        let run = try CLIRunner.run([
            "attribute", "--model", CLIRunner.modelFixture(name).path, "--ids", fixture(name, "ids.json"),
            "--context", String(context), "--batch", "1", "--out", out,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        return try json(out)
    }

    @Test(arguments: cases)
    func engineTracesGiveTheFrequencyOfTheSameTokens(_ name: String) throws {
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let reference = try Self.modelRun(name, in: work)
        for (file, kind) in [
            ("vllm.jsonl", "vllm"), ("vllm-npy.json", "vllm"), ("sglang.jsonl", "sglang"),
            ("dump.safetensors", "router_logits"),
        ] {
            let out = work.appendingPathComponent("\(file).attr.json").path
            let run = try CLIRunner.run([
                "attribute", "--model", CLIRunner.modelFixture(name).path, "--traces", Self.fixture(name, file),
                "--out", out,
            ])
            #expect(run.status == 0, "\(file): \(run.stderr)")
            let traced = try Self.json(out)
            #expect(traced["tokens"] as? Int == reference["tokens"] as? Int, "\(file)")
            #expect(Self.table(traced, "frequency") == Self.table(reference, "frequency"), "\(file)")
            let source = traced["source"] as? [String: Any]
            #expect(source?["kinds"] as? [String] == [kind])
            #expect(source?["requests"] as? Int == 3)
            let criteria = source?["criteria"] as? [String]
            #expect(criteria == (kind == "router_logits" ? ["soft", "frequency"] : ["frequency"]), "\(file)")
            #expect(traced["criterion"] as? String == (kind == "router_logits" ? "soft" : "frequency"))
        }
    }

    @Test(arguments: cases)
    func routerLogitsGiveTheSoftMassWithin1e6(_ name: String) throws {
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let reference = try Self.modelRun(name, in: work)
        let out = work.appendingPathComponent("dump.json").path
        let run = try CLIRunner.run([
            "attribute", "--model", CLIRunner.modelFixture(name).path, "--traces",
            Self.fixture(name, "dump.safetensors"),
            "--out", out,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let traced = try Self.json(out)
        let tokens = Double(reference["tokens"] as? Int ?? 1)
        for key in ["soft_mass", "share"] {
            let a = Self.table(traced, key)
            let b = Self.table(reference, key)
            #expect(a.count == b.count && a.count > 0)
            for (rowA, rowB) in zip(a, b) {
                #expect(rowA.count == rowB.count)
                for (x, y) in zip(rowA, rowB) {
                    // soft mass per token (a probability), and shares: within 1e-6.
                    let scale = key == "soft_mass" ? tokens : 1
                    #expect(abs(x - y) / scale <= 1e-6, "\(key): \(x) vs \(y)")
                }
            }
        }
    }

    @Test func aTraceFileMergesWithAModelRunAndKeepsOnlyWhatBothSupport() throws {
        let name = "mixtral_f32_gqa2"
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        _ = try Self.modelRun(name, in: work)
        let traced = work.appendingPathComponent("t.json").path
        let merged = work.appendingPathComponent("m.json").path
        let model = CLIRunner.modelFixture(name).path
        #expect(
            try CLIRunner.run([
                "attribute", "--model", model, "--traces", Self.fixture(name, "sglang.jsonl"), "--out", traced,
            ]).status == 0)
        let run = try CLIRunner.run([
            "attribute", "--merge", work.appendingPathComponent("model.json").path, traced, "--out", merged,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try Self.json(merged)
        let source = object["source"] as? [String: Any]
        #expect(source?["kinds"] as? [String] == ["model", "sglang"])
        #expect(source?["criteria"] as? [String] == ["frequency"])
        #expect(object["criterion"] as? String == "frequency")
        #expect(Self.table(object, "soft_mass").flatMap { $0 }.allSatisfy { $0 == 0 })
        let single = Self.table(try Self.json(traced), "frequency")
        #expect(Self.table(object, "frequency") == single.map { $0.map { $0 * 2 } })
    }

    @Test func pruneRanksATraceFileByWhatItSupports() throws {
        let name = "mixtral_f32_gqa2"
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let model = CLIRunner.modelFixture(name).path
        let traced = work.appendingPathComponent("t.json").path
        let made = try CLIRunner.run([
            "attribute", "--model", model, "--traces", Self.fixture(name, "vllm.jsonl"), "--out", traced,
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let common = ["prune", "--model", model, "--attribution", traced, "--keep", "2", "--mode", "mask"]
        let soft = try CLIRunner.run(common + ["--criterion", "soft", "--out", work.appendingPathComponent("a").path])
        #expect(soft.status == 2)
        #expect(soft.stderr.contains("routing traces") && soft.stderr.contains("frequency"), "\(soft.stderr)")
        let byFrequency = try CLIRunner.run(common + ["--out", work.appendingPathComponent("b").path])
        #expect(byFrequency.status == 0, "\(byFrequency.stderr)")
    }

    @Test func softMassFromIdsAloneIsRefused() throws {
        let name = "mixtral_f32_gqa2"
        let run = try CLIRunner.run([
            "attribute", "--model", CLIRunner.modelFixture(name).path, "--traces", Self.fixture(name, "vllm.jsonl"),
            "--criterion", "soft",
        ])
        #expect(run.status == 2)
        #expect(run.stderr.contains("router logits"), "\(run.stderr)")
    }

    /// Each malformed form exits 2 with one line naming the file and the request.
    @Test func malformedTracesExit2NamingTheFileAndTheRequest() throws {
        let name = "mixtral_f32_gqa2"
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let vllm = try String(contentsOfFile: Self.fixture(name, "vllm.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let sglang = try String(contentsOfFile: Self.fixture(name, "sglang.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        func record(_ line: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
        }
        func line(_ object: [String: Any]) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        var oneLayerMissing = try record(vllm[1])
        oneLayerMissing["prompt_routed_experts"] = (oneLayerMissing["prompt_routed_experts"] as? [[[Int]]] ?? []).map {
            [$0[0]]
        }
        var outOfRange = try record(vllm[1])
        var rows = outOfRange["prompt_routed_experts"] as? [[[Int]]] ?? []
        rows[2][1][0] = 4  // 4 experts: ids 0...3
        outOfRange["prompt_routed_experts"] = rows
        var truncated = try record(sglang[1])
        var meta = truncated["meta_info"] as? [String: Any] ?? [:]
        let encoded = meta["routed_experts"] as? String ?? ""
        meta["routed_experts"] = String(encoded.prefix(encoded.count - 5))
        truncated["meta_info"] = meta
        var shortByOneToken = try record(sglang[1])
        var meta2 = shortByOneToken["meta_info"] as? [String: Any] ?? [:]
        let bytes = Data(base64Encoded: meta2["routed_experts"] as? String ?? "") ?? Data()
        meta2["routed_experts"] = bytes.dropLast(8).base64EncodedString()  // one token is 2 layers × 2 × 4 bytes
        shortByOneToken["meta_info"] = meta2
        let cases: [(String, String, String, String)] = [
            ("layers.jsonl", vllm[0] + "\n" + (try line(oneLayerMissing)), "cmpl-1", "1 layers where the model has 2"),
            ("range.jsonl", try line(outOfRange), "cmpl-1", "expert id 4 out of range"),
            ("truncated.jsonl", sglang[0] + "\n" + (try line(truncated)), "sgl-1", "base64"),
            ("short.jsonl", try line(shortByOneToken), "sgl-1", "not a whole number of tokens"),
            ("notjson.jsonl", "{\"id\": 1", "line 1", "not a JSON object"),
        ]
        for (file, text, request, reason) in cases {
            let path = work.appendingPathComponent(file).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let run = try CLIRunner.run(["attribute", "--model", CLIRunner.modelFixture(name).path, "--traces", path])
            #expect(run.status == 2, "\(file): \(run.stderr)")
            let message = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(
                message.contains(path) && message.contains(request) && message.contains(reason), "\(file): \(message)")
        }
        // A dump of another model's layer count.
        let other = try CLIRunner.run([
            "attribute", "--model", CLIRunner.modelFixture("mixtral_bf16_tied_mqa").path,
            "--traces", Self.fixture(name, "dump.safetensors"),
        ])
        #expect(other.status == 2)
        #expect(other.stderr.contains("dump.safetensors") && other.stderr.contains("request 0"), "\(other.stderr)")
    }
}
