import Foundation
import Testing
import MoEModels

/// The fuzzer's seed corpus (fuzz/corpus/, written by scripts/fixtures/make_fuzz_corpus.py) must
/// stay valid: mutations of inputs the parser already refuses would never get past its first check.
struct FuzzCorpusTests {
    static let corpus = TestSupport.packageRoot.appendingPathComponent("fuzz/corpus")

    static func seeds(_ target: String) -> [String] {
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: corpus.appendingPathComponent(target).path)) ?? []
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

    @Test(arguments: seeds("tokenizer-unigram"))
    func unigramTokenizerSeedLoads(_ seed: String) throws {
        let tokenizer = try Tokenizer(tokenizerJSON: Self.corpus.appendingPathComponent(seed))
        #expect(!tokenizer.encode("Hello world").isEmpty)
    }

    /// The target base64-encodes the raw charsmap into a tokenizer.json; so does this test.
    @Test(arguments: seeds("precompiled-charsmap"))
    func charsmapSeedLoads(_ seed: String) throws {
        let charsmap = try Data(contentsOf: Self.corpus.appendingPathComponent(seed)).base64EncodedString()
        let json = #"""
            {"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.0]]},
             "normalizer": {"type": "Precompiled", "precompiled_charsmap": "\#(charsmap)"}}
            """#
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("charsmap-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        _ = try Tokenizer(tokenizerJSON: file)
    }

    @Test func everyTargetHasSeeds() {
        for target in ["safetensors", "safetensors-index", "config", "tokenizer-unigram", "precompiled-charsmap"] {
            #expect(!Self.seeds(target).isEmpty, "\(target)")
        }
    }
}
