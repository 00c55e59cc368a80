import Foundation

/// The golden values written by scripts/fixtures/make_rouge_fixtures.py from Google's rouge-score
/// and nltk's PorterStemmer.
struct RougeFixture: Decodable {
    struct Pair: Decodable {
        var target: String
        var prediction: String
        /// rouge type -> [precision, recall, fmeasure]
        var plain: [String: [Double]]
        var stemmer: [String: [Double]]
    }

    struct Tokens: Decodable {
        var text: String
        var plain: [String]
        var stemmer: [String]
    }

    var pairs: [Pair]
    var mean: [String: [String: [Double]]]
    var stemWords: [String]
    var stems: [String: [String]]
    var tokens: [Tokens]

    enum CodingKeys: String, CodingKey {
        case pairs, mean, stems, tokens
        case stemWords = "stem_words"
    }

    /// Decoded once for all tests.
    static let shared: RougeFixture? = {
        guard let url = Bundle.module.url(forResource: "pairs", withExtension: "json", subdirectory: "Fixtures/rouge"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return try? JSONDecoder().decode(RougeFixture.self, from: data)
    }()
}
