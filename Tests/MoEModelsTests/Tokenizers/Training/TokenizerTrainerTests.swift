import Foundation
import Testing

@testable import MoEModels

/// Fixtures of scripts/fixtures/make_trained_tokenizer_fixtures.py: the `tokenizers` library trained
/// on train.txt with each configuration.
enum TrainingFixtures {
    static let directory = TestSupport.packageRoot.appendingPathComponent(
        "Tests/MoEModelsTests/Fixtures/tokenizer-training")

    struct Options: Decodable {
        let add_bos: Bool
        let split: String?
        let individual_digits: Bool?
    }

    struct Config: Decodable {
        let model: String
        let vocab_size: Int
        let min_frequency: Int
        let options: Options
        let vocab: [String?]
        let merges: [[String]]
        let heldout_ids: [[Int]]
        let heldout_ids_no_special: [[Int]]

        var parameters: TokenizerTrainer.Parameters {
            TokenizerTrainer.Parameters(
                model: TokenizerTrainer.Model(rawValue: model) ?? .bpe, vocabSize: vocab_size,
                minFrequency: min_frequency, addBosToken: options.add_bos,
                wordSplit: options.split.flatMap(TokenizerTrainer.WordSplit.init(rawValue:)) ?? .whitespace,
                individualDigits: options.individual_digits ?? false)
        }
    }

    struct Expected: Decodable {
        let train_file: String
        let heldout_lines: [String]
        let configs: [String: Config]
    }

    static let names = ["bpe_300", "bpe_1000", "bpe_minfreq", "wordlevel_ws_digits", "wordlevel_wssplit"]

    static var expected: Expected {
        get throws {
            try JSONDecoder().decode(
                Expected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
        }
    }

    static func train(_ config: Config, file: String) throws -> TrainedTokenizer {
        try TokenizerTrainer.train(files: [directory.appendingPathComponent(file)], parameters: config.parameters)
    }
}

/// Training gives the library's vocabulary and merges, and the files it writes encode as the
/// library's own trained tokenizer does.
@Suite struct TokenizerTrainerTests {
    @Test(arguments: TrainingFixtures.names)
    func learnsTheLibrarysVocabularyAndMerges(name: String) throws {
        let expected = try TrainingFixtures.expected
        let config = try #require(expected.configs[name])
        let trained = try TrainingFixtures.train(config, file: expected.train_file)
        #expect(trained.vocabulary.count == config.vocab.count)
        for (id, (ours, theirs)) in zip(trained.vocabulary, config.vocab).enumerated() where ours != theirs {
            Issue.record("\(name): token \(id) is \(ours.debugDescription), library \(theirs.debugDescription)")
            break
        }
        #expect(trained.merges.count == config.merges.count, "\(name) merge count")
        let ours = trained.merges.map { [$0.left, $0.right] }
        if let first = zip(ours, config.merges).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("\(name): merge \(first) is \(trained.merges[first]), library \(config.merges[first])")
        }
    }

    @Test(arguments: TrainingFixtures.names)
    func writtenTokenizerEncodesHeldOutTextLikeTheLibrary(name: String) throws {
        let expected = try TrainingFixtures.expected
        let config = try #require(expected.configs[name])
        let trained = try TrainingFixtures.train(config, file: expected.train_file)
        try TestSupport.withTemporaryDirectory { dir in
            try trained.write(to: dir)
            let tokenizer = try Tokenizer.load(directory: dir)
            #expect(tokenizer.bosTokenId == 0 && tokenizer.eosTokenId == 1 && tokenizer.padTokenId == 2)
            #expect(tokenizer.tokenId("<unk>") == 3)
            for (index, line) in expected.heldout_lines.enumerated() {
                #expect(tokenizer.encode(line) == config.heldout_ids[index], "\(name) held-out line \(index)")
                #expect(
                    tokenizer.encode(line, addSpecialTokens: false) == config.heldout_ids_no_special[index],
                    "\(name) held-out line \(index) without special tokens")
            }
        }
    }

    static let roundTripTexts = [
        "", " ", "\n", "Hello world", "  leading and trailing  ", "tabs\tand\r\nwindows\n\n\nlines",
        "Café naïve Straße e\u{301}", "日本語のテキスト 한국어", "🙂🙃 👨‍👩‍👧‍👦 🇫🇷", "<s>literal</s> <unk>",
        "\u{0}\u{1}\u{7F} control", "x² ½ ١٢٣ 𝔘𝔫𝔦",
    ]

    @Test func byteLevelBPERoundTripsAnyText() throws {
        let expected = try TrainingFixtures.expected
        let config = try #require(expected.configs["bpe_1000"])
        let trained = try TrainingFixtures.train(config, file: expected.train_file)
        try TestSupport.withTemporaryDirectory { dir in
            try trained.write(to: dir)
            let tokenizer = try Tokenizer.load(directory: dir)
            #expect(tokenizer.vocabSize == 1000)
            for text in Self.roundTripTexts + expected.heldout_lines {
                let ids = tokenizer.encode(text, addSpecialTokens: false)
                // Literal special tokens are cut out as themselves, as the library does.
                let specials = ["<s>", "</s>", "<pad>", "<unk>"].filter { text.contains($0) }.count
                #expect(ids.count { $0 < 4 } == specials && ids.allSatisfy { $0 < 1000 }, "\(text.debugDescription)")
                #expect(
                    tokenizer.decode(ids).unicodeScalars.elementsEqual(text.unicodeScalars),
                    "\(text.debugDescription)")
                #expect(tokenizer.encode(text).first == 0, "BOS first")
            }
        }
    }

    /// Tokens that differ only in canonical equivalence or need JSON escapes stay distinct tokens.
    @Test func wordLevelKeepsDistinctScalarsAndEscapes() throws {
        let text = "é e\u{301} é \"q\" back\\slash tab\u{1}x é\n"
        let parameters = TokenizerTrainer.Parameters(model: .wordlevel, vocabSize: 100, wordSplit: .whitespaceSplit)
        let trained = try TokenizerTrainer.train(texts: [text], parameters: parameters)
        #expect(trained.vocabulary[4] == "é")  // the most frequent word
        try TestSupport.withTemporaryDirectory { dir in
            try trained.write(to: dir)
            let tokenizer = try Tokenizer.load(directory: dir)
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            #expect(ids.count == 7 && !ids.contains(3))
            #expect(ids[0] == ids[2] && ids[0] != ids[1])
            #expect(tokenizer.token(ids[3]) == "\"q\"" && tokenizer.token(ids[4]) == "back\\slash")
            #expect(tokenizer.encode("unseen", addSpecialTokens: false) == [3])
        }
    }

    @Test func missingAndInvalidFilesAreNamed() throws {
        let parameters = TokenizerTrainer.Parameters(vocabSize: 300)
        let missing = URL(fileURLWithPath: "/nonexistent/train.txt")
        #expect(throws: TokenizerTrainingError.fileNotFound(file: missing.path)) {
            try TokenizerTrainer.train(files: [missing], parameters: parameters)
        }
        try TestSupport.withTemporaryDirectory { dir in
            let bad = dir.appendingPathComponent("bad.txt")
            try Data("fine\nstill fine\nbroken \u{FF}".utf8 + [0xFF, 0x0A]).write(to: bad)
            #expect(throws: TokenizerTrainingError.invalidUTF8(file: bad.path, line: 3)) {
                try TokenizerTrainer.train(files: [bad], parameters: parameters)
            }
        }
    }

    @Test func badSettingsAreRefused() {
        #expect(throws: TokenizerTrainingError.self) {
            try TokenizerTrainer.train(texts: ["a"], parameters: .init(model: .bpe, vocabSize: 259))
        }
        #expect(throws: TokenizerTrainingError.self) {
            try TokenizerTrainer.train(texts: ["a"], parameters: .init(model: .wordlevel, vocabSize: 4))
        }
        #expect(throws: TokenizerTrainingError.self) {
            try TokenizerTrainer.train(texts: ["a"], parameters: .init(vocabSize: 300, eosToken: "<s>"))
        }
        #expect(throws: TokenizerTrainingError.self) {
            try TokenizerTrainer.train(texts: ["a"], parameters: .init(vocabSize: 300, minFrequency: -1))
        }
        #expect(throws: TokenizerTrainingError.self) { try TokenizerTrainer.train(files: [], parameters: .init()) }
    }

    @Test(.enabled(if: TestSupport.sharedDataExists("wikitext-2/wiki.valid.tokens"), "needs ../shared/data"))
    func trainsOnWikiText() throws {
        let file = TestSupport.sharedData.appendingPathComponent("wikitext-2/wiki.valid.tokens")
        let trained = try TokenizerTrainer.train(files: [file], parameters: .init(vocabSize: 2048))
        #expect(trained.vocabSize == 2048 && trained.merges.count == 2048 - 260)
        try TestSupport.withTemporaryDirectory { dir in
            try trained.write(to: dir)
            let tokenizer = try Tokenizer.load(directory: dir)
            let line = " = Homarus gammarus = \n The lobster 's claws , 3 @.@ 5 million \n"
            let ids = tokenizer.encode(line)
            #expect(ids.count < line.utf8.count / 2)
            #expect(tokenizer.decode(ids, skipSpecialTokens: true) == line)
        }
    }
}
