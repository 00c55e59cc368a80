import Foundation
import MoEModels
import Testing

@testable import ExpertLockCLI

/// `bench forward`: the built-in configs, the FLOP formula and the JSON it prints. No timings are
/// checked (they depend on the machine); only that the figures are there and consistent.
@Suite struct BenchCommandTests {
    @Test func builtinConfigsMatchTheIssue() throws {
        let a = try #require(BenchModelFactory.builtin("A"))
        let sizes: [Int] = [
            a.vocabSize, a.hiddenSize, a.intermediateSize, a.numHiddenLayers, a.numAttentionHeads, a.numKeyValueHeads,
            a.numExperts, a.numExpertsPerToken,
        ]
        #expect(sizes == [8000, 512, 1024, 4, 8, 4, 8, 2])
        let b = try #require(BenchModelFactory.builtin("b"))
        let smaller: [Int] = [b.vocabSize, b.hiddenSize, b.intermediateSize]
        #expect(smaller == [2000, 128, 256])
        #expect(b.modelType == "mixtral")
        #expect(BenchModelFactory.builtin("C") == nil)
    }

    @Test func flopsOfConfigA() throws {
        let config = try #require(BenchModelFactory.builtin("A"))
        let model = try BenchModelFactory.randomModel(config, seed: 1)
        let flops = BenchFlops(config: config, model: model, batch: 8, seq: 256)
        // Per layer: q 512·512 + k, v 512·256 each + o 512·512, router 8·512, 2 experts × 3·512·1024;
        // lm_head 8000·512.
        let projections: Int = 512 * 512 * 2 + 512 * 256 * 2
        let perLayer: Int = projections + 8 * 512 + 2 * 3 * 512 * 1024
        #expect(flops.activeParametersPerToken == 4 * perLayer + 8000 * 512)
        #expect(flops.activeParametersPerToken == 19_841_024)
        // Total: embeddings and lm_head, 8 experts per layer, norms.
        let layerTotal: Int = projections + 8 * 512 + 8 * 3 * 512 * 1024 + 2 * 512
        let total: Int = 2 * 8000 * 512 + 4 * layerTotal + 512
        #expect(flops.parameters == total)
        // Causal attention: 4 layers · 8 sequences · 8 heads · 4·64 · 256·257/2.
        let attention: Double = 4.0 * 8 * 8 * 4 * 64 * Double(256 * 257 / 2)
        let expected: Double = 2 * 19_841_024 * 2048 + attention
        #expect(flops.forwardFlops == expected)
    }

    @Test func randomModelIsSeededAndFrozen() throws {
        let config = try #require(BenchModelFactory.builtin("B"))
        let one = try BenchModelFactory.randomModel(config, seed: 7)
        let two = try BenchModelFactory.randomModel(config, seed: 7)
        #expect(try one.embedTokens.tensor() == two.embedTokens.tensor())
        #expect(one.parameters.allSatisfy { !$0.isTrainable })
        #expect(try one.finalNorm.tensor().data.allSatisfy { $0 == 1 })
        let batch = BenchModelFactory.randomBatch(config, batch: 2, seq: 5, seed: 7)
        #expect(batch.tokenCount == 10 && batch.ids.allSatisfy { (0..<2000).contains($0) })
    }

    @Test(.enabled(if: CLIRunner.isAvailable))
    func forwardPrintsTheFigures() throws {
        let result = try CLIRunner.run([
            "bench", "forward", "--config", "B", "--batch", "1", "--seq", "16", "--threads", "1", "--warmup", "0",
            "--iterations", "2", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in ["tokens_per_s", "gflops", "peak_rss_bytes", "seconds_median", "flops_per_iteration"] {
            #expect(object[key] is NSNumber, "missing \(key)")
        }
        #expect(object["tokens"] as? Int == 16)
        #expect((object["peak_rss_bytes"] as? Int ?? 0) > 0)
        #expect(object["pass_tokens"] as? Int == 16)  // width 128: the whole batch in one pass
    }

    @Test(.enabled(if: CLIRunner.isAvailable))
    func forwardRunsInSmallerPassesWhenAsked() throws {
        let result = try CLIRunner.run([
            "bench", "forward", "--config", "B", "--batch", "3", "--seq", "8", "--threads", "1", "--warmup", "0",
            "--iterations", "1", "--pass-tokens", "8", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["pass_tokens"] as? Int == 8)
        let bad = try CLIRunner.run(["bench", "forward", "--config", "B", "--pass-tokens", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--pass-tokens"))
    }

    @Test func nextTokenTargetsSkipEachSequencesLastRow() {
        let batch = TokenBatch(ids: [5, 6, 7, 8, 9, 10], batch: 2, seq: 3)
        #expect(BenchModelFactory.nextTokenTargets(batch) == [6, 7, -100, 9, 10, -100])
    }

    @Test(.enabled(if: CLIRunner.isAvailable))
    func trainPrintsTheFigures() throws {
        let result = try CLIRunner.run([
            "bench", "train", "--config", "B", "--batch", "1", "--seq", "8", "--threads", "1", "--warmup", "0",
            "--iterations", "1", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["mode"] as? String == "train")
        for key in ["tokens_per_s", "gflops", "peak_rss_bytes", "seconds_median", "loss"] {
            #expect(object[key] is NSNumber, "missing \(key)")
        }
        // A training step counts three forwards.
        let forward = BenchFlops(
            config: try #require(BenchModelFactory.builtin("B")),
            model: try BenchModelFactory.randomModel(try #require(BenchModelFactory.builtin("B")), seed: 0), batch: 1,
            seq: 8)
        #expect(object["flops_per_iteration"] as? Double == 3 * forward.forwardFlops)
    }

    @Test(.enabled(if: CLIRunner.isAvailable))
    func missingConfigFileExitsWithTwo() throws {
        let result = try CLIRunner.run(["bench", "forward", "--config", "/nonexistent/config.json", "--json"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/nonexistent/config.json"))
    }
}
