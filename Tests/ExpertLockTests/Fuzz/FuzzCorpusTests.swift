import Foundation
import Testing
import ExpertLock

/// The fuzzer's seed corpus (fuzz/corpus/, written by scripts/fixtures/make_fuzz_corpus.py) must
/// stay valid: mutations of inputs the parser already refuses would never get past its first check.
struct FuzzCorpusTests {
    static let corpus = Fixtures.packageRoot.appendingPathComponent("fuzz/corpus")

    static func seeds(_ target: String) -> [String] {
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: corpus.appendingPathComponent(target).path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(target)/\($0)" }
    }

    static func data(_ seed: String) throws -> Data { try Data(contentsOf: corpus.appendingPathComponent(seed)) }

    @Test(arguments: seeds("glue") + seeds("jsonl") + seeds("text"))
    func dataSeedLoads(_ seed: String) throws {
        let format: DataFormat = seed.hasPrefix("glue") ? .glue : seed.hasPrefix("jsonl") ? .jsonl : .text
        let (dataset, skipped) = try DatasetLoader.load(data: Self.data(seed), file: seed, format: format)
        #expect(dataset.count > 0)
        #expect(skipped == 0)
    }

    @Test(arguments: seeds("attribution"))
    func attributionSeedReads(_ seed: String) throws {
        let attribution = try ExpertAttribution.decode(Self.data(seed), file: seed)
        #expect(attribution.statistics.count == attribution.signature.sparseLayers.count)
    }

    @Test(arguments: seeds("plan"))
    func planSeedReads(_ seed: String) throws {
        let plan = try PruningPlan.decode(Self.data(seed), file: seed)
        #expect(plan.kept.count == plan.originalCounts.count)
    }

    @Test(arguments: seeds("token-ids"))
    func tokenIdsSeedParses(_ seed: String) throws {
        _ = try TokenIdsFile.parse(Self.data(seed), file: seed)
    }

    @Test func everyTargetHasSeeds() {
        for target in ["glue", "jsonl", "text", "attribution", "plan", "token-ids"] {
            #expect(!Self.seeds(target).isEmpty, "\(target)")
        }
    }
}
