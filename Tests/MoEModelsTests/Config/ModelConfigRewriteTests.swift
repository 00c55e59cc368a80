import Foundation
import Testing
@testable import MoEModels

/// `ModelConfig.rewritten`: pruning's config copy keeps every key but the expert counts.
@Suite struct ModelConfigRewriteTests {
    static let configs = TestSupport.fixtures.appendingPathComponent("configs")

    static func lines(_ url: URL) throws -> [String] {
        try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
    }

    /// Files saved by transformers come back byte for byte except the patched line.
    @Test(arguments: [
        ("mixtral", "num_local_experts"), ("qwen2_moe", "num_experts"),
        ("qwen3_moe", "num_local_experts"), ("olmoe", "num_experts"),
    ])
    func patchesOnlyTheExpertCount(family: String, key: String) throws {
        let source = Self.configs.appendingPathComponent(family)
        let config = try ModelConfig.load(from: source)
        try TestSupport.withTemporaryDirectory { dir in
            let written = try config.rewritten(numExperts: 3, expertsPerLayer: nil, source: source, to: dir)
            #expect(written.numExperts == 3)
            let before = try Self.lines(source.appendingPathComponent("config.json"))
            let after = try Self.lines(dir.appendingPathComponent("config.json"))
            #expect(before.count == after.count)
            let changed = zip(before, after).filter { $0 != $1 }
            #expect(changed.count == 1)
            #expect(changed.first?.1.trimmingCharacters(in: .whitespaces) == "\"\(key)\": 3,")
            var expected = config
            expected.numExperts = 3
            #expect(written == expected)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["config.json"])
        }
    }

    @Test func floatsStayFloats() throws {
        let source = Self.configs.appendingPathComponent("qwen3_moe/config.json")
        try TestSupport.withTemporaryDirectory { dir in
            let target = dir.appendingPathComponent("config.json")
            try ModelConfig.load(from: source).rewritten(
                numExperts: nil, expertsPerLayer: nil, source: source, to: target)
            let text = try String(contentsOf: target, encoding: .utf8)
            #expect(text.contains("\"rope_theta\": 1000000.0"))
            #expect(text.contains("\"attention_dropout\": 0.0"))
            #expect(text.contains("\"rms_norm_eps\": 1e-06"))
            #expect(try String(contentsOf: source, encoding: .utf8) == text)
        }
    }

    @Test func perLayerCountsAreWrittenAndRemoved() throws {
        let source = Self.configs.appendingPathComponent("qwen3_moe")  // 3 layers, layer 1 dense, top-3
        let config = try ModelConfig.load(from: source)
        try TestSupport.withTemporaryDirectory { dir in
            let pruned = try config.rewritten(numExperts: 6, expertsPerLayer: [6, 0, 4], source: source, to: dir)
            #expect(pruned.expertsPerLayer == [6, 0, 4])
            #expect((0..<3).map { pruned.expertCount(layer: $0) } == [6, 0, 4])
            let object = try TestSupport.readJSON(dir.appendingPathComponent("config.json"))
            #expect(TestSupport.ints(object["expertlock_experts_per_layer"]) == [6, 0, 4])
            #expect(object["num_experts"] == nil)  // only the spelling the file already had
            let uniform = try pruned.rewritten(numExperts: 4, expertsPerLayer: nil, source: dir, to: dir)
            #expect(uniform.expertsPerLayer == nil && uniform.numExperts == 4)
            #expect(
                try TestSupport.readJSON(dir.appendingPathComponent("config.json"))["expertlock_experts_per_layer"]
                    == nil)
        }
    }

    @Test func refusesAnInvalidResultAndWritesNothing() throws {
        let source = Self.configs.appendingPathComponent("mixtral")  // top-2
        let config = try ModelConfig.load(from: source)
        try TestSupport.withTemporaryDirectory { dir in
            let target = dir.appendingPathComponent("config.json")
            let error = try #require(throws: ConfigError.self) {
                try config.rewritten(numExperts: 1, expertsPerLayer: nil, source: source, to: target)
            }
            guard case let .invalid(file, _) = error else { Issue.record("got \(error)"); return }
            #expect(file == target.path)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
            let other = try ModelConfig.load(from: Self.configs.appendingPathComponent("olmoe"))
            #expect(
                throws: ConfigError.modelTypeMismatch(
                    file: source.appendingPathComponent("config.json").path,
                    expected: "olmoe", found: "mixtral")
            ) {
                try other.rewritten(numExperts: 2, expertsPerLayer: nil, source: source, to: target)
            }
        }
    }

    @Test(.enabled(if: TestSupport.sharedDataExists("configs/mixtral-8x7b-v0.1/config.json"), "needs ../shared/data"))
    func rewritesTheRealMixtralConfig() throws {
        let source = TestSupport.sharedData.appendingPathComponent("configs/mixtral-8x7b-v0.1")
        try TestSupport.withTemporaryDirectory { dir in
            let pruned = try ModelConfig.load(from: source).rewritten(
                numExperts: 6, expertsPerLayer: nil, source: source, to: dir)
            #expect(pruned.numExperts == 6 && pruned.hiddenSize == 4096)
            let before = try TestSupport.readJSON(source.appendingPathComponent("config.json"))
            let after = try TestSupport.readJSON(dir.appendingPathComponent("config.json"))
            #expect(Set(before.keys) == Set(after.keys))
            #expect((after["num_local_experts"] as? NSNumber)?.intValue == 6)
            #expect((after["rope_theta"] as? NSNumber)?.doubleValue == 1_000_000)
        }
    }
}
