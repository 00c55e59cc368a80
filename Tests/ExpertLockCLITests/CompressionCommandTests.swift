import Foundation
import Testing

/// prune --merge / --inner-keep, provenance --explain --probe, and sweep --merge, end to end.
@Suite struct CompressionCommandTests {
    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Writes `ids` to DIR/ids.json and trains the tiny preset on them for 2 steps into DIR/base.
    static func trainTinyBase(in dir: URL, ids: [Int]) throws {
        let idsPath = dir.appendingPathComponent("ids.json").path
        let text = "[" + ids.map(String.init).joined(separator: ",") + "]"
        try Data(text.utf8).write(to: URL(fileURLWithPath: idsPath))
        let base = try CLIRunner.run([
            "train", "--config", "tiny", "--out", dir.appendingPathComponent("base").path, "--ids", idsPath,
            "--steps", "2", "--batch", "2", "--seq", "16",
        ])
        #expect(base.status == 0, "\(base.stderr)")
    }

    @Test(.enabled(if: CLIRunner.isAvailable)) func mergeInnerPruneAndExplain() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try Self.trainTinyBase(in: dir, ids: (0..<400).map { ($0 * 7 + $0 / 5) % 31 })

        let merge = try CLIRunner.run([
            "prune", "--model", path("base"), "--merge", "reap-aligned", "--keep", "3", "--ids", path("ids.json"),
            "--context", "64", "--out", path("merged"), "--json",
        ])
        #expect(merge.status == 0, "\(merge.stderr)")
        let merged = try Self.json(merge.stdout)
        #expect(merged["experts_per_layer"] as? [Int] == [3, 3])
        #expect(merged["loadable_by_transformers"] as? Bool == true)
        let groups = try #require(merged["groups"] as? [[[Int]]])
        #expect(groups.allSatisfy { Set($0.flatMap { $0 }) == Set(0..<8) })
        #expect(FileManager.default.fileExists(atPath: path("merged/merge_plan.json")))

        let inner = try CLIRunner.run([
            "prune", "--model", path("base"), "--inner-keep", "0.25", "--inner-scope", "per-expert", "--ids",
            path("ids.json"), "--out", path("inner"), "--json",
        ])
        #expect(inner.status == 0, "\(inner.stderr)")
        let innerResult = try Self.json(inner.stdout)
        #expect(innerResult["loadable_by_transformers"] as? Bool == false)
        let sizes = try #require(innerResult["expert_intermediate_sizes"] as? [[Int]])
        #expect(sizes.allSatisfy { $0.reduce(0, +) == 8 * 128 / 4 })

        let explain = try CLIRunner.run([
            "provenance", "--original", path("base"), "--suspect", path("merged"), "--explain", "--probe",
            path("ids.json"), "--json",
        ])
        #expect(explain.status == 0, "\(explain.stderr)")
        let report = try Self.json(explain.stdout)
        let derivation = try #require(report["derivation"] as? [String: Any])
        #expect(derivation["verdict"] as? String == "derived")
        let layers = try #require(derivation["layers"] as? [[String: Any]])
        let experts = try #require(layers.first?["experts"] as? [[String: Any]])
        #expect(experts.count == 3)
        let routing = try #require(report["routing"] as? [String: Any])
        #expect(routing["tokens"] as? Int == 400)

        let innerExplain = try CLIRunner.run([
            "provenance", "--original", path("base"), "--suspect", path("inner"), "--explain", "--json",
        ])
        #expect(innerExplain.status == 0, "\(innerExplain.stderr)")
        let kinds = try #require(
            ((try Self.json(innerExplain.stdout)["derivation"] as? [String: Any])?["layers"] as? [[String: Any]])?
                .flatMap { ($0["experts"] as? [[String: Any]]) ?? [] }.map { $0["kind"] as? String })
        #expect(kinds.allSatisfy { $0 == "channel subset" }, "\(kinds)")

        // Bad combinations: exit 2, one line.
        for bad in [
            ["--merge", "hc-smoe", "--ids", path("ids.json")],  // no --keep
            ["--merge", "hc-smoe", "--keep", "3"],  // no calibration data
            ["--inner-keep", "0.5", "--merge", "hc-smoe", "--keep", "2", "--ids", path("ids.json")],
            ["--inner-keep", "0.5", "--drop", "1", "--ids", path("ids.json")],
        ] {
            let run = try CLIRunner.run(["prune", "--model", path("base"), "--out", path("bad")] + bad)
            #expect(run.status == 2, "\(bad): \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: path("bad")))
    }

    @Test(.enabled(if: CLIRunner.isAvailable)) func sweepPlotsMergeAgainstRemoval() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try Self.trainTinyBase(in: dir, ids: (0..<300).map { ($0 * 5 + $0 / 3) % 29 })
        let sweep = try CLIRunner.run([
            "sweep", "--model", path("base"), "--ids", path("ids.json"), "--keep", "4,2", "--criteria", "soft",
            "--seeds", "1", "--merge", "hc-smoe,reap-aligned", "--context", "64", "--out", path("sweep"), "--json",
        ])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let curve = try #require(try Self.json(sweep.stdout)["curve"] as? [[String: Any]])
        let strategies = Set(curve.compactMap { $0["strategy"] as? String })
        #expect(strategies == ["soft", "random", "merge hc-smoe", "merge reap-aligned"])
        let svg = try String(contentsOfFile: path("sweep/curve.svg"), encoding: .utf8)
        #expect(svg.contains("merge hc-smoe") && svg.contains("merge reap-aligned") && svg.contains("top-k by soft"))
        #expect(!svg.contains("top-k by merge"))
    }
}
