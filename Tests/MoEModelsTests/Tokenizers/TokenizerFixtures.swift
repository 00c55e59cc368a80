import Foundation

/// Locates and reads the fixtures written by scripts/fixtures/make_tokenizer_fixtures.py.
enum TokenizerFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures/tokenizers")
    /// The real tokenizers and WikiText, beside the package (absent in a user's clone).
    static let sharedData = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")

    struct Case: Decodable {
        let ids: [Int]
        let ids_no_special: [Int]
        let decoded: String
        let decoded_skip_special: String
    }

    struct PrefixDecode: Decodable {
        let count: Int
        let decoded: String
    }

    struct Synthetic: Decodable {
        let vocab_size: Int
        let cases: [Case]
        let prefix_decodes: [PrefixDecode]
    }

    struct Expected: Decodable {
        let texts: [String]
        let tokenizers: [String: Synthetic]
    }

    struct WikiText: Decodable {
        let file: String
        let line_index: Int
        let ids: [Int]
        let decode_round_trips: Bool
    }

    struct Real: Decodable {
        let cases: [Case]
        let wikitext: WikiText?
    }

    struct RealExpected: Decodable {
        let tokenizers: [String: Real]
    }

    static let syntheticNames = [
        "gpt2_bytelevel", "qwen_bytelevel", "llama3_bytelevel", "sp_metaspace", "sp_legacy", "wordlevel",
        "wordlevel_ws", "wordpiece",
    ]
    static let realNames = ["mixtral-8x7b_mistral-7b-v0.1", "qwen3"]

    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static var expected: Expected { get throws { try load("expected.json", as: Expected.self) } }
    static var realExpected: RealExpected { get throws { try load("real_expected.json", as: RealExpected.self) } }

    static func realTokenizerDirectory(_ name: String) -> URL {
        sharedData.appendingPathComponent("tokenizers").appendingPathComponent(name)
    }

    static var realDataAvailable: Bool {
        FileManager.default.fileExists(
            atPath: realTokenizerDirectory("qwen3").appendingPathComponent("tokenizer.json").path)
            && FileManager.default.fileExists(
                atPath: realTokenizerDirectory("mixtral-8x7b_mistral-7b-v0.1").appendingPathComponent("tokenizer.json")
                    .path)
    }

    /// Exact equality, scalar for scalar (String == would accept canonically equivalent text).
    static func same(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.elementsEqual(b.unicodeScalars)
    }
}
