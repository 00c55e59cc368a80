import ExpertLock
import Testing

@Suite struct PorterStemmerTests {
    @Test(arguments: PorterStemmer.Mode.allCases)
    func stemsMatchNLTK(mode: PorterStemmer.Mode) throws {
        let fixture = try #require(RougeFixture.shared)
        let golden = try #require(fixture.stems[mode.rawValue])
        try #require(golden.count == fixture.stemWords.count)
        let stemmer = PorterStemmer(mode: mode)
        var mismatches: [String] = []
        for (word, expected) in zip(fixture.stemWords, golden) {
            let actual = stemmer.stem(word)
            if actual != expected { mismatches.append("\(word): \(actual) != nltk \(expected)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(20))")
    }

    @Test func defaultModeIsTheOneRougeScoreUses() {
        #expect(PorterStemmer().mode == .nltkExtensions)
    }

    @Test(arguments: [
        ("caresses", "caress"), ("ponies", "poni"), ("dies", "die"), ("died", "die"), ("spied", "spi"),
        ("skies", "sky"), ("dying", "die"), ("happy", "happi"), ("enjoy", "enjoy"), ("relational", "relat"),
        ("hopping", "hop"), ("filing", "file"), ("controll", "control"), ("geologi", "geolog"), ("by", "by"),
    ])
    func paperAndNLTKExamples(word: String, stem: String) {
        #expect(PorterStemmer().stem(word) == stem)
    }

    @Test func toleratesEdgeInputs() {
        let stemmer = PorterStemmer(mode: .originalAlgorithm)
        #expect(stemmer.stem("") == "")
        #expect(stemmer.stem("y") == "y")
        #expect(PorterStemmer().stem(String(repeating: "y", count: 200)).count <= 200)
    }
}
