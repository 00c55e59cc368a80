import Foundation
import Testing

/// The audit commands on switch_transformers folders (encoder-decoder): forward with decoder ids, attribute over
/// both stacks, prune by that attribution, and a sweep, on the fixtures of scripts/fixtures/make_switch_*.py.
@Suite(.enabled(if: CLIRunner.isAvailable)) struct EncoderDecoderCommandTests {
    static let switchFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MoEModelsTests/Fixtures/switch")
    static var trained: URL { switchFixtures.appendingPathComponent("switch_sst2_trained") }

    static func json(_ run: CLIRunner.Run) throws -> [String: Any] {
        #expect(run.status == 0, "\(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    @Test func forwardPrintsDecoderLogitsAndNamedRouterLogitsAsTransformers() throws {
        let folder = Self.switchFixtures.appendingPathComponent("switch_f32_cap2_tied")
        let expected = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("expected.json")))
                as? [String: Any])
        let pair = try #require((expected["cases"] as? [[String: Any]])?.first)
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let enc = dir.appendingPathComponent("enc.json")
        let dec = dir.appendingPathComponent("dec.json")
        try JSONSerialization.data(withJSONObject: pair["encoder_ids"]!).write(to: enc)
        try JSONSerialization.data(withJSONObject: pair["decoder_ids"]!).write(to: dec)
        let out = try Self.json(
            try CLIRunner.run([
                "forward", "--model", folder.path, "--ids", enc.path, "--decoder-ids", dec.path, "--generate", "12",
                "--json",
            ]))
        #expect(out["router_layers"] as? [String] == ["encoder.1", "encoder.3", "decoder.1"])
        let logits = try #require(out["logits"] as? [[Double]])
        let theirs = try #require(pair["logits"] as? [[Double]])
        #expect(logits.count == theirs.count)
        let worst = zip(logits.joined(), theirs.joined()).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-4)
        let router = try #require(out["router_logits"] as? [[[Double]]])
        let theirRouter = try #require(pair["router_logits"] as? [[[Double]]])
        #expect(router.count == 3)
        for (a, b) in zip(router, theirRouter) {
            #expect((zip(a.joined(), b.joined()).map { abs($0 - $1) }.max() ?? 1) < 1e-4)
        }
        let generated = try #require((expected["generated"] as? [[String: Any]])?.first?["sequence"] as? [Int])
        #expect(out["generated"] as? [Int] == generated)
    }

    @Test func forwardWithoutDecoderIdsIsAnInputError() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let enc = dir.appendingPathComponent("enc.json")
        try Data("[5, 6, 1]".utf8).write(to: enc)
        let run = try CLIRunner.run(["forward", "--model", Self.trained.path, "--ids", enc.path, "--json"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("--decoder-ids"))
    }

    /// attribute → prune --keep by that attribution → forward on the pruned folder; and a sweep with its curve.
    @Test func attributePruneAndSweepRunOverBothStacks() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let attribution = dir.appendingPathComponent("attribution.json")
        let attributed = try Self.json(
            try CLIRunner.run([
                "attribute", "--model", Self.trained.path, "--task", "classify", "--data",
                Self.trained.appendingPathComponent("pool.tsv").path, "--out", attribution.path, "--json",
            ]))
        let layers = try #require(attributed["layers"] as? [[String: Any]])
        #expect(layers.compactMap { $0["name"] as? String } == ["encoder.1", "decoder.1"])
        let pruned = dir.appendingPathComponent("pruned")
        let prune = try Self.json(
            try CLIRunner.run([
                "prune", "--model", Self.trained.path, "--attribution", attribution.path, "--keep", "3", "--out",
                pruned.path,
                "--json",
            ]))
        #expect((prune["kept"] as? [[Int]])?.map(\.count) == [3, 3])
        #expect(prune["loadable_by_transformers"] as? Bool == true)
        let config = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: pruned.appendingPathComponent("config.json")))
                as? [String: Any])
        #expect(config["num_experts"] as? Int == 3)
        let ids = dir.appendingPathComponent("ids.json")
        try Data("[3, 4, 5, 1]".utf8).write(to: ids)
        let forward = try Self.json(
            try CLIRunner.run([
                "forward", "--model", pruned.path, "--ids", ids.path, "--decoder-ids", ids.path, "--json",
            ]))
        #expect((forward["router_logits"] as? [[[Double]]])?.map { $0.first?.count ?? 0 } == [3, 3])

        let sweep = try Self.json(
            try CLIRunner.run([
                "sweep", "--model", Self.trained.path, "--task", "classify", "--data",
                Self.trained.appendingPathComponent("pool.tsv").path, "--eval-data",
                Self.trained.appendingPathComponent("dev.tsv").path, "--keep", "8,2,1", "--seeds", "2", "--out",
                dir.appendingPathComponent("sweep").path, "--json",
            ]))
        #expect(sweep["metric"] as? String == "accuracy")
        #expect(sweep["layers"] as? [String] == ["encoder.1", "decoder.1"])
        let points = try #require(sweep["curve"] as? [[String: Any]])
        #expect(points.count == 3 * 5)  // k = 8, 2, 1 × (soft, frequency, reap, 2 random seeds)
        #expect(points.allSatisfy { (($0["metric"] as? Double) ?? -1) >= 0 && (($0["metric"] as? Double) ?? 2) <= 1 })
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("sweep/curve.json").path))
    }

    /// prune --keep 2 → realign (two strategies, text-to-text classification) → forward on a re-aligned model; and
    /// a task realign cannot run on an encoder-decoder is an input error.
    @Test func realignRunsOnAPrunedSwitchModel() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pruned = dir.appendingPathComponent("pruned")
        _ = try Self.json(
            try CLIRunner.run([
                "prune", "--model", Self.trained.path, "--keep", "2", "--random", "--seed", "1", "--out", pruned.path,
                "--json",
            ]))
        let out = dir.appendingPathComponent("realign")
        let data = [
            "--pool", Self.trained.appendingPathComponent("pool.tsv").path, "--eval-data",
            Self.trained.appendingPathComponent("dev.tsv").path,
        ]
        let realign = try Self.json(
            try CLIRunner.run(
                ["realign", "--model", pruned.path, "--task", "classify"] + data + [
                    "--validation", "4", "--budget", "8", "--batch", "4", "--steps", "2", "--train-batch", "4", "--lr",
                    "3e-3",
                    "--strategy", "entropy,badge", "--out", out.path, "--json",
                ]))
        #expect(realign["metric"] as? String == "accuracy")
        let runs = try #require(realign["runs"] as? [[String: Any]])
        #expect(runs.compactMap { $0["strategy"] as? String } == ["entropy", "badge"])
        for run in runs {
            #expect((run["curve"] as? [[String: Any]])?.compactMap { $0["labeled"] as? Int } == [0, 4, 8])
            #expect(Set(run["labeled_ids"] as? [Int] ?? []).count == 8)
        }
        let model = out.appendingPathComponent("entropy-seed0/model")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("report.md").path))
        let ids = dir.appendingPathComponent("ids.json")
        try Data("[3, 4, 5, 1]".utf8).write(to: ids)
        let forward = try Self.json(
            try CLIRunner.run([
                "forward", "--model", model.path, "--ids", ids.path, "--decoder-ids", ids.path, "--json",
            ]))
        #expect((forward["router_logits"] as? [[[Double]]])?.map { $0.first?.count ?? 0 } == [2, 2])

        let lm = try CLIRunner.run(
            ["realign", "--model", pruned.path, "--task", "perplexity"] + data + [
                "--out", dir.appendingPathComponent("lm").path,
            ])
        #expect(lm.status == 2)
        #expect(lm.stderr.contains("--task classify"))
    }

    /// provenance of a pruned and of a pruned-then-re-aligned switch model recovers the experts the pruning kept,
    /// per stack; lock → a tampered expert → `log verify` exits 1 naming the tensor, stack, layer and expert.
    @Test func provenanceAndLockRunOnSwitchModels() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pruned = dir.appendingPathComponent("pruned")
        let prune = try Self.json(
            try CLIRunner.run([
                "prune", "--model", Self.trained.path, "--keep", "3", "--random", "--seed", "4", "--out", pruned.path,
                "--json",
            ]))
        let kept = try #require(prune["kept"] as? [[Int]])
        let realigned = dir.appendingPathComponent("realign")
        _ = try Self.json(
            try CLIRunner.run([
                "realign", "--model", pruned.path, "--task", "classify", "--pool",
                Self.trained.appendingPathComponent("pool.tsv").path, "--eval-data",
                Self.trained.appendingPathComponent("dev.tsv").path, "--validation", "4", "--budget", "8", "--batch",
                "8", "--steps", "4",
                "--train-batch", "4", "--lr", "3e-3", "--strategy", "random", "--out", realigned.path, "--json",
            ]))
        for suspect in [pruned, realigned.appendingPathComponent("random-seed0/model")] {
            let report = try Self.json(
                try CLIRunner.run(["provenance", "--original", Self.trained.path, "--suspect", suspect.path, "--json"]))
            #expect(report["verdict"] as? String == "derived")
            #expect(report["kept_experts"] as? [[Int]] == kept.map { $0.sorted() })
            let layers = try #require(report["layers"] as? [[String: Any]])
            #expect(layers.compactMap { $0["name"] as? String } == ["encoder.1", "decoder.1"])
            var similarities: [Double] = []
            for (layer, plan) in zip(layers, kept) {
                let matches = try #require(layer["matches"] as? [[String: Any]])
                #expect(matches.compactMap { $0["original_expert"] as? Int } == plan)
                similarities += matches.compactMap { $0["similarity"] as? Double }
            }
            // Pruning copies the kept experts; re-alignment trains them (they move, and stay derived).
            let moved = suspect != pruned
            #expect(similarities.count == kept.joined().count)
            #expect(((similarities.min() ?? 0) < 0.99999) == moved, "\(suspect.lastPathComponent): \(similarities)")
        }
        let text = try CLIRunner.run(["provenance", "--original", Self.trained.path, "--suspect", pruned.path])
        #expect(text.status == 0 && text.stdout.contains("layer decoder.1: derived"), "\(text.stdout)")
        let explain = try CLIRunner.run(
            ["provenance", "--original", Self.trained.path, "--suspect", pruned.path, "--explain"])
        #expect(explain.status == 2 && explain.stderr.contains("--explain"))

        #expect(try CLIRunner.run(["keygen", "--out", dir.appendingPathComponent("owner.key").path]).status == 0)
        let locked = dir.appendingPathComponent("locked")
        _ = try Self.json(
            try CLIRunner.run([
                "lock", "--model", Self.trained.path, "--key", dir.appendingPathComponent("owner.key").path, "--out",
                locked.path, "--json",
            ]))
        let verify = ["log", "verify", "--public-key", dir.appendingPathComponent("owner.key.pub").path, "--json"]
        #expect(try Self.json(try CLIRunner.run(verify + ["--model", locked.path]))["valid"] as? Bool == true)
        let tampered = dir.appendingPathComponent("tampered")
        try FileManager.default.copyItem(at: locked, to: tampered)
        let weights = tampered.appendingPathComponent("model.safetensors")
        let name = "encoder.block.1.layer.1.mlp.experts.expert_2.wi.weight"
        try Self.flipFirstValue(of: name, in: weights)
        let run = try CLIRunner.run(verify + ["--model", tampered.path])
        #expect(run.status == 1, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let differences = try #require(report["differences"] as? [[String: Any]])
        #expect(differences.count == 1, "\(differences)")
        #expect(differences.first?["tensor"] as? String == name)
        #expect(differences.first?["stack"] as? String == "encoder" && differences.first?["layer"] as? Int == 1)
        #expect(differences.first?["expert"] as? Int == 2)
    }

    /// Negates the first F32 value of tensor `name` in place (a one-value edit of a copied safetensors file).
    static func flipFirstValue(of name: String, in file: URL) throws {
        var data = try Data(contentsOf: file)
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try #require(
            try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any])
        let entry = try #require(header[name] as? [String: Any])
        #expect(entry["dtype"] as? String == "F32")
        let start = 8 + headerLength + (try #require((entry["data_offsets"] as? [Int])?.first))
        data[start + 3] ^= 0x80  // the sign bit of a little-endian Float32
        try data.write(to: file)
    }
}
