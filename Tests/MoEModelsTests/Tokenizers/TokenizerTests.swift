import Foundation
import Testing

@testable import MoEModels

/// Exact agreement with the `tokenizers` library on the small tokenizers the fixture script trains.
@Suite struct TokenizerTests {
    @Test(arguments: TokenizerFixtures.syntheticNames)
    func encodesLikeTheLibrary(name: String) throws {
        let expected = try TokenizerFixtures.expected
        let fixture = try #require(expected.tokenizers[name])
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.directory.appendingPathComponent(name))
        for (index, (text, reference)) in zip(expected.texts, fixture.cases).enumerated() {
            #expect(tokenizer.encode(text) == reference.ids, "\(name) text \(index) \(text.debugDescription)")
            #expect(
                tokenizer.encode(text, addSpecialTokens: false) == reference.ids_no_special,
                "\(name) text \(index) without special tokens")
        }
    }

    @Test(arguments: TokenizerFixtures.syntheticNames)
    func decodesLikeTheLibrary(name: String) throws {
        let expected = try TokenizerFixtures.expected
        let fixture = try #require(expected.tokenizers[name])
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.directory.appendingPathComponent(name))
        for (index, reference) in fixture.cases.enumerated() {
            let decoded = tokenizer.decode(reference.ids)
            #expect(
                TokenizerFixtures.same(decoded, reference.decoded), "\(name) text \(index): \(decoded.debugDescription)"
            )
            let skipped = tokenizer.decode(reference.ids, skipSpecialTokens: true)
            #expect(
                TokenizerFixtures.same(skipped, reference.decoded_skip_special),
                "\(name) text \(index) skipping special tokens: \(skipped.debugDescription)")
        }
        // Cutting a multi-byte text anywhere must give the library's replacement characters.
        let emoji = tokenizer.encode(expected.texts[10], addSpecialTokens: false)
        for prefix in fixture.prefix_decodes {
            let decoded = tokenizer.decode(Array(emoji.prefix(prefix.count)))
            #expect(TokenizerFixtures.same(decoded, prefix.decoded), "\(name) first \(prefix.count) ids")
        }
    }

    @Test(arguments: TokenizerFixtures.syntheticNames)
    func vocabularySizeCountsAddedTokens(name: String) throws {
        let fixture = try #require(try TokenizerFixtures.expected.tokenizers[name])
        let tokenizer = try Tokenizer.load(directory: TokenizerFixtures.directory.appendingPathComponent(name))
        #expect(tokenizer.vocabSize == fixture.vocab_size)
    }

    @Test func byteLevelDecodeRoundTrips() throws {
        let tokenizer = try Tokenizer.load(
            directory: TokenizerFixtures.directory.appendingPathComponent("gpt2_bytelevel"))
        // Added tokens with lstrip/rstrip swallow spaces, so texts containing them are left out.
        let addedContents = ["<mask>", "[SEP]", "hello", "wörld", "<|endoftext|>", "<|pad|>"]
        for text in try TokenizerFixtures.expected.texts where !addedContents.contains(where: text.contains) {
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            #expect(TokenizerFixtures.same(tokenizer.decode(ids), text), "\(text.debugDescription)")
        }
    }

    @Test func configBosEosOverrideTheTemplate() throws {
        // sp_metaspace's template adds only <s>; its tokenizer_config.json asks for <s> and </s>.
        let directory = TokenizerFixtures.directory.appendingPathComponent("sp_metaspace")
        let withConfig = try Tokenizer.load(directory: directory)
        let withoutConfig = try Tokenizer(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"))
        let plain = withConfig.encode("Hello world", addSpecialTokens: false)
        #expect(withConfig.encode("Hello world") == [1] + plain + [2])
        #expect(withoutConfig.encode("Hello world") == [1] + plain)
        #expect(withConfig.bosTokenId == 1)
        #expect(withConfig.eosTokenId == 2)
        #expect(withConfig.padTokenId == nil)
        #expect(withoutConfig.bosTokenId == nil)
    }

    @Test func tokenLookupIsExact() throws {
        let tokenizer = try Tokenizer.load(
            directory: TokenizerFixtures.directory.appendingPathComponent("sp_metaspace"))
        #expect(tokenizer.tokenId("<s>") == 1)
        #expect(tokenizer.token(1) == "<s>")
        #expect(tokenizer.tokenId("<0x41>") != nil)  // byte-fallback tokens are plain vocabulary
        #expect(tokenizer.token(-1) == nil)
        #expect(tokenizer.token(tokenizer.vocabSize) == nil)
        // Canonically equivalent spellings are different tokens.
        if let composed = tokenizer.tokenId("é") { #expect(tokenizer.tokenId("e\u{301}") != composed) }
        #expect(tokenizer.decode([999_999, -5]) == "")
    }

    @Test func encodesConcurrently() async throws {
        let tokenizer = try Tokenizer.load(
            directory: TokenizerFixtures.directory.appendingPathComponent("qwen_bytelevel"))
        let texts = try TokenizerFixtures.expected.texts
        let serial = texts.map { tokenizer.encode($0) }
        let parallel = await withTaskGroup(of: (Int, [Int]).self) { group in
            for (i, text) in texts.enumerated() { group.addTask { (i, tokenizer.encode(text)) } }
            var results = [[Int]](repeating: [], count: texts.count)
            for await (i, ids) in group { results[i] = ids }
            return results
        }
        #expect(parallel == serial)
    }
}
