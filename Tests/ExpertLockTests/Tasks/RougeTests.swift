import ExpertLock
import Foundation
import Testing

@Suite struct RougeTests {
    static let tolerance = 1e-6

    private func expectClose(_ score: RougeScore?, _ golden: [Double]?, _ context: @autoclosure () -> String) {
        guard let score, let golden, golden.count == 3 else {
            Issue.record("missing score or golden value: \(context())")
            return
        }
        let actual = [score.precision, score.recall, score.fmeasure]
        for k in 0..<3 where abs(actual[k] - golden[k]) > Self.tolerance {
            Issue.record(
                "\(context()): \(["precision", "recall", "fmeasure"][k]) \(actual[k]) != rouge-score \(golden[k])")
        }
    }

    @Test func fixtureLoads() throws {
        let fixture = try #require(RougeFixture.shared)
        #expect(fixture.pairs.count >= 250)
        #expect(fixture.stemWords.count >= 500)
    }

    @Test(arguments: [false, true])
    func everyPairMatchesRougeScore(useStemmer: Bool) throws {
        let fixture = try #require(RougeFixture.shared)
        let scorer = RougeScorer(useStemmer: useStemmer)
        for (index, pair) in fixture.pairs.enumerated() {
            let scores = scorer.score(target: pair.target, prediction: pair.prediction)
            #expect(Set(scores.keys) == ["rouge1", "rouge2", "rougeL"])
            let golden = useStemmer ? pair.stemmer : pair.plain
            for type in RougeScorer.types {
                expectClose(scores[type], golden[type], "pair \(index) \(type) stemmer=\(useStemmer)")
            }
        }
    }

    @Test(arguments: [false, true])
    func meansMatchRougeScore(useStemmer: Bool) throws {
        let fixture = try #require(RougeFixture.shared)
        let scorer = RougeScorer(useStemmer: useStemmer)
        let means = scorer.meanScores(
            targets: fixture.pairs.map(\.target), predictions: fixture.pairs.map(\.prediction))
        let golden = try #require(fixture.mean[useStemmer ? "stemmer" : "plain"])
        for type in RougeScorer.types {
            expectClose(means[type], golden[type], "mean \(type) stemmer=\(useStemmer)")
        }
    }

    @Test(arguments: [false, true])
    func tokensMatchRougeScore(useStemmer: Bool) throws {
        let fixture = try #require(RougeFixture.shared)
        let tokenizer = RougeTokenizer(useStemmer: useStemmer)
        for entry in fixture.tokens {
            #expect(tokenizer.tokenize(entry.text) == (useStemmer ? entry.stemmer : entry.plain), "\(entry.text)")
        }
    }

    @Test func tokenizerDropsNonASCIIButKeepsPythonLowercaseToASCII() {
        let tokenizer = RougeTokenizer(useStemmer: false)
        #expect(tokenizer.tokenize("Café NAÏVE 東京 3.5%") == ["caf", "na", "ve", "3", "5"])
        // Python lowercases U+0130 to "i" + U+0307 and the Kelvin sign to "k".
        #expect(tokenizer.tokenize("İstanbul 200\u{212A}") == ["i", "stanbul", "200k"])
        #expect(tokenizer.tokenize("") == [])
        #expect(tokenizer.tokenize(" ...\n\t!") == [])
    }

    @Test func stemmerOnlyTouchesTokensLongerThanThreeCharacters() {
        let tokenizer = RougeTokenizer(useStemmer: true)
        // "ties" (4 chars) is stemmed; "is" and "was" are not ("was" would become "wa").
        #expect(tokenizer.tokenize("was ties is running") == ["was", "tie", "is", "run"])
    }

    @Test func handWorkedExample() {
        // rouge-score's README example.
        let scores = RougeScorer(useStemmer: true).score(
            target: "The quick brown fox jumps over the lazy dog", prediction: "The quick brown dog jumps on the log.")
        #expect(abs((scores["rouge1"]?.precision ?? 0) - 0.75) < 1e-12)
        #expect(abs((scores["rouge1"]?.recall ?? 0) - 2.0 / 3.0) < 1e-12)
        #expect(abs((scores["rougeL"]?.fmeasure ?? 0) - 0.5882352941176471) < 1e-12)
    }

    @Test func emptySidesScoreZero() {
        let scorer = RougeScorer(useStemmer: false)
        for (target, prediction) in [("", ""), ("", "a b"), ("a b", ""), ("a", "b")] {
            for (_, score) in scorer.score(target: target, prediction: prediction) {
                #expect(score == .zero)
            }
        }
        #expect(scorer.meanScores(targets: [], predictions: [])["rouge1"] == .zero)
    }

    @Test func ngramCountsAreClipped() {
        let score = RougeScorer(useStemmer: false).score(target: "the the the the", prediction: "the the")
        #expect(score["rouge1"] == RougeScore(precision: 1, recall: 0.5, fmeasure: 2.0 / 3.0))
    }
}
