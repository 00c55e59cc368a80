import Foundation
import Testing

/// `trace` writes engine-style traces that `attribute --traces` reads back to the model run's
/// frequencies, and `monitor` scores the clients of a traffic file.
@Suite(.enabled(if: CLIRunner.isAvailable))
struct MonitorCommandTests {
    /// Requests of two kinds of client: "mixed" ones over many token ranges, a "probe" on one range.
    static func requests(in work: URL) throws -> URL {
        var lines: [String] = []
        var state: UInt64 = 7
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
        for client in 0..<6 {
            for r in 0..<12 {
                let base = client < 5 ? next() % 40 : 44
                let ids = (0..<16).map { _ in (base + next() % 4) % 48 }
                let name = "\(client < 5 ? "mixed" : "probe")-\(client)"
                lines.append(#"{"client": "\#(name)", "id": "r\#(client)-\#(r)", "ids": \#(ids)}"#)
            }
        }
        let url = work.appendingPathComponent("requests.jsonl")
        try Data(lines.joined(separator: "\n").utf8).write(to: url)
        return url
    }

    @Test(arguments: ["vllm", "sglang"])
    func tracesOfTheTraceCommandAttributeLikeTheModel(_ format: String) throws {
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let model = CLIRunner.modelFixture("qwen2_moe_bf16_norm_tied").path
        let requests = try Self.requests(in: work)
        let traces = work.appendingPathComponent("traces.jsonl").path
        let run = try CLIRunner.run([
            "trace", "--model", model, "--requests", requests.path, "--format", format,
            "--batch", "5", "--out", traces,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        // The same ids, one request per sequence, attributed by the model itself.
        let text = try String(contentsOf: requests, encoding: .utf8)
        let ids = text.split(separator: "\n").flatMap { line -> [Int] in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["ids"] as? [Int] ?? []
        }
        let idsFile = work.appendingPathComponent("ids.json")
        try JSONSerialization.data(withJSONObject: ids).write(to: idsFile)
        let a = try CLIRunner.run(["attribute", "--model", model, "--ids", idsFile.path, "--context", "16", "--json"])
        let b = try CLIRunner.run(["attribute", "--model", model, "--traces", traces, "--json"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        func frequencies(_ run: CLIRunner.Run) -> [[Int]] {
            let object = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) as? [String: Any] ?? [:]
            return (object["layers"] as? [[String: Any]] ?? []).map {
                ($0["experts"] as? [[String: Any]] ?? []).map { $0["frequency"] as? Int ?? -1 }
            }
        }
        #expect(!frequencies(a).isEmpty && frequencies(a) == frequencies(b))
    }

    @Test func monitorReportsEveryClientAndRefusesAnonymousRequests() throws {
        let work = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let model = CLIRunner.modelFixture("qwen2_moe_bf16_norm_tied").path
        let traces = work.appendingPathComponent("traces.jsonl").path
        #expect(
            try CLIRunner.run(["trace", "--model", model, "--requests", Self.requests(in: work).path, "--out", traces])
                .status == 0)
        let report = work.appendingPathComponent("report.json").path
        let run = try CLIRunner.run([
            "monitor", "--model", model, "--traces", traces, "--min-requests", "4",
            "--null-samples", "30", "--out", report, "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let object =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
            ?? [:]
        let clients = object["clients"] as? [[String: Any]] ?? []
        #expect(clients.count == 6)
        #expect(
            clients.allSatisfy { $0["requests"] as? Int == 12 && $0["score"] is Double && $0["coverage"] is Double })
        let probe = clients.first { $0["client"] as? String == "probe-5" }
        let others = clients.filter { ($0["client"] as? String)?.hasPrefix("mixed") == true }.compactMap {
            $0["score"] as? Double
        }
        #expect((probe?["score"] as? Double ?? -1) > others.max() ?? .infinity, "\(clients)")
        // A request without a client cannot be grouped.
        let anonymous = work.appendingPathComponent("anonymous.jsonl").path
        try Data(#"{"id": "x", "prompt_routed_experts": [[[0, 1], [2, 3]]]}"#.utf8).write(
            to: URL(fileURLWithPath: anonymous))
        let refused = try CLIRunner.run(["monitor", "--model", model, "--traces", anonymous])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("anonymous.jsonl") && refused.stderr.contains("client"), "\(refused.stderr)")
    }
}
