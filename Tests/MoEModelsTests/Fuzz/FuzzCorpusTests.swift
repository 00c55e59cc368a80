import Foundation
import Testing
import MoEModels

/// The fuzzer's seed corpus (fuzz/corpus/, written by scripts/fixtures/make_fuzz_corpus.py) must
/// stay valid: mutations of inputs the parser already refuses would never get past its first check.
struct FuzzCorpusTests {
    static let corpus = TestSupport.packageRoot.appendingPathComponent("fuzz/corpus")

    static func seeds(_ target: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.appendingPathComponent(target).path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(target)/\($0)" }
    }

    @Test(arguments: seeds("config"))
    func configSeedDecodes(_ seed: String) throws {
        _ = try ModelConfig.decode(Data(contentsOf: Self.corpus.appendingPathComponent(seed)))
    }

    @Test(arguments: seeds("safetensors"))
    func safetensorsSeedOpensAndReads(_ seed: String) throws {
        let file = try SafeTensorsFile(url: Self.corpus.appendingPathComponent(seed))
        for info in file.tensorInfos where info.dtype.isConvertibleToFloat {
            #expect(try file.tensor(info.name).count == info.elementCount)
        }
    }

    @Test func everyTargetHasSeeds() {
        for target in ["safetensors", "safetensors-index", "config"] { #expect(!Self.seeds(target).isEmpty, "\(target)") }
    }
}
