import Foundation

/// The fixtures of scripts/fixtures/make_unigram_fixtures.py: trained Unigram tokenizers and the ids
/// the `tokenizers` library gives with them, and the library's ids for the real T5 tokenizer.
enum UnigramFixtures {
    static let names = ["unigram_nfkc", "unigram_bytefallback", "unigram_t5", "unigram_rules"]

    struct RandomCase: Decodable {
        let ids: [Int]
        let normalized: String
    }

    struct Trained: Decodable {
        let vocab_size: Int
        let cases: [TokenizerFixtures.Case]
        let random_cases: [RandomCase]
        let prefix_decodes: [TokenizerFixtures.PrefixDecode]
    }

    struct NumberCase: Decodable {
        let text: String
        /// The double's bits in big-endian hex; nil where the library refuses the number.
        let bits: String?
    }

    struct Expected: Decodable {
        let numbers: [NumberCase]
        let texts: [String]
        let random_texts: [String]
        let emoji_text: Int
        let tokenizers: [String: Trained]
    }

    struct WikiText: Decodable {
        let file: String
        let line_indices: [Int]
        let ids: [[Int]]
    }

    struct Real: Decodable {
        let sha256: String
        let bytes: Int
        let cases: [TokenizerFixtures.Case]
        let random_cases: [RandomCase]
        let wikitext: WikiText?
    }

    static var expected: Expected {
        get throws { try TokenizerFixtures.load("unigram_expected.json", as: Expected.self) }
    }
    static var realExpected: Real { get throws { try TokenizerFixtures.load("real_t5_expected.json", as: Real.self) } }

    static func directory(_ name: String) -> URL { TokenizerFixtures.directory.appendingPathComponent(name) }

    /// The real T5 tokenizer (not committed): `EXPERTLOCK_T5_TOKENIZER_DIR`, else ../shared/data/tokenizers/t5
    /// (its SOURCE.txt names the package it comes from).
    static var realT5Directory: URL {
        if let path = ProcessInfo.processInfo.environment["EXPERTLOCK_T5_TOKENIZER_DIR"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return TokenizerFixtures.realTokenizerDirectory("t5")
    }

    static var realT5Available: Bool {
        FileManager.default.fileExists(atPath: realT5Directory.appendingPathComponent("tokenizer.json").path)
    }
}
