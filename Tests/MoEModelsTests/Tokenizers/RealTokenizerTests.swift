import Foundation
import Testing

@testable import MoEModels

/// The real Mixtral and Qwen3 tokenizers from ../shared/data against transformers' AutoTokenizer
/// (ids recorded by the fixture script); skipped when the data is absent.
@Suite(.enabled(if: TokenizerFixtures.realDataAvailable, "needs ../shared/data/tokenizers"))
struct RealTokenizerTests {
    @Test func smoke() throws {
        let mixtral = try Tokenizer.load(
            directory: TokenizerFixtures.realTokenizerDirectory("mixtral-8x7b_mistral-7b-v0.1"))
        #expect(mixtral.encode("Hello world") == [1, 22557, 1526])
        #expect(mixtral.bosTokenId == 1)
        #expect(mixtral.eosTokenId == 2)
        #expect(mixtral.vocabSize == 32000)
        let qwen = try Tokenizer.load(directory: TokenizerFixtures.realTokenizerDirectory("qwen3"))
        #expect(qwen.encode("Hello world") == [9707, 1879])
        #expect(qwen.bosTokenId == nil)
        #expect(qwen.eosTokenId == 151645)
        #expect(qwen.padTokenId == 151643)
        #expect(qwen.vocabSize == 151669)
    }

    @Test(arguments: TokenizerFixtures.realNames)
    func matchesTransformers(name: String) throws {
        let texts = try TokenizerFixtures.expected.texts
        let reference = try #require(try TokenizerFixtures.realExpected.tokenizers[name])
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.realTokenizerDirectory(name))
        for (index, (text, expected)) in zip(texts, reference.cases).enumerated() {
            let ids = tokenizer.encode(text)
            #expect(ids == expected.ids, "\(name) text \(index) \(text.debugDescription)")
            #expect(tokenizer.encode(text, addSpecialTokens: false) == expected.ids_no_special, "\(name) text \(index)")
            let decoded = tokenizer.decode(expected.ids)
            #expect(
                TokenizerFixtures.same(decoded, expected.decoded),
                "\(name) decode \(index): \(decoded.debugDescription)")
            let skipped = tokenizer.decode(expected.ids, skipSpecialTokens: true)
            #expect(TokenizerFixtures.same(skipped, expected.decoded_skip_special), "\(name) decode \(index) skipping")
        }
    }

    @Test(arguments: TokenizerFixtures.realNames)
    func wikiTextParagraph(name: String) throws {
        let reference = try #require(try TokenizerFixtures.realExpected.tokenizers[name]?.wikitext)
        let file = TokenizerFixtures.sharedData.appendingPathComponent(reference.file)
        try #require(FileManager.default.fileExists(atPath: file.path))
        let lines = try String(contentsOf: file, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        let paragraph = String(lines[reference.line_index]) + "\n"
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.realTokenizerDirectory(name))
        let ids = tokenizer.encode(paragraph)
        #expect(ids == reference.ids)
        let roundTrip = TokenizerFixtures.same(tokenizer.decode(ids, skipSpecialTokens: true), paragraph)
        #expect(roundTrip == reference.decode_round_trips)
    }
}
