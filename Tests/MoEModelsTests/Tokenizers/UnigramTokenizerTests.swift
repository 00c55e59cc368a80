import Foundation
import Testing

@testable import MoEModels

/// Exact agreement with the `tokenizers` library on the Unigram tokenizers the fixture script trains
/// (T5's normalizer chain with its Precompiled charsmap, NFKC, byte fallback, a custom charsmap).
@Suite struct UnigramTokenizerTests {
    @Test(arguments: UnigramFixtures.names)
    func encodesLikeTheLibrary(name: String) throws {
        let expected = try UnigramFixtures.expected
        let fixture = try #require(expected.tokenizers[name])
        let tokenizer = try Tokenizer.load(directory: UnigramFixtures.directory(name))
        #expect(fixture.cases.count == expected.texts.count)
        for (index, (text, reference)) in zip(expected.texts, fixture.cases).enumerated() {
            #expect(tokenizer.encode(text) == reference.ids, "\(name) text \(index) \(text.debugDescription)")
            #expect(
                tokenizer.encode(text, addSpecialTokens: false) == reference.ids_no_special,
                "\(name) text \(index) without special tokens")
        }
    }

    @Test(arguments: UnigramFixtures.names)
    func decodesLikeTheLibrary(name: String) throws {
        let expected = try UnigramFixtures.expected
        let fixture = try #require(expected.tokenizers[name])
        let tokenizer = try Tokenizer.load(directory: UnigramFixtures.directory(name))
        for (index, reference) in fixture.cases.enumerated() {
            let decoded = tokenizer.decode(reference.ids)
            #expect(
                TokenizerFixtures.same(decoded, reference.decoded),
                "\(name) text \(index): \(decoded.debugDescription)")
            let skipped = tokenizer.decode(reference.ids, skipSpecialTokens: true)
            #expect(
                TokenizerFixtures.same(skipped, reference.decoded_skip_special),
                "\(name) text \(index) skipping special tokens: \(skipped.debugDescription)")
        }
        let emoji = tokenizer.encode(expected.texts[expected.emoji_text], addSpecialTokens: false)
        for prefix in fixture.prefix_decodes {
            let decoded = tokenizer.decode(Array(emoji.prefix(prefix.count)))
            #expect(TokenizerFixtures.same(decoded, prefix.decoded), "\(name) first \(prefix.count) ids")
        }
    }

    /// 400 seeded random strings over combining marks, compatibility characters, Hangul, Indic
    /// scripts, emoji sequences, controls and arbitrary scalars: the normalized text and the ids.
    @Test(arguments: UnigramFixtures.names)
    func randomUnicodeLikeTheLibrary(name: String) throws {
        let expected = try UnigramFixtures.expected
        let fixture = try #require(expected.tokenizers[name])
        let tokenizer = try Tokenizer.load(directory: UnigramFixtures.directory(name))
        #expect(fixture.random_cases.count == expected.random_texts.count)
        var failures = 0
        for (index, (text, reference)) in zip(expected.random_texts, fixture.random_cases).enumerated() {
            let normalized = Self.normalized(tokenizer, text)
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            if !TokenizerFixtures.same(normalized, reference.normalized) || ids != reference.ids { failures += 1 }
            #expect(
                TokenizerFixtures.same(normalized, reference.normalized),
                "\(name) random \(index) \(text.debugDescription) normalized \(normalized.debugDescription)")
            #expect(ids == reference.ids, "\(name) random \(index) \(text.debugDescription)")
        }
        #expect(failures == 0)
    }

    @Test(arguments: UnigramFixtures.names)
    func vocabularySizeCountsAddedTokens(name: String) throws {
        let fixture = try #require(try UnigramFixtures.expected.tokenizers[name])
        let tokenizer = try Tokenizer.load(directory: UnigramFixtures.directory(name))
        #expect(tokenizer.vocabSize == fixture.vocab_size)
    }

    /// What the library's normalizer makes of `text` (the whole text, no added tokens cut out).
    static func normalized(_ tokenizer: Tokenizer, _ text: String) -> String {
        let scalars = Array(text.unicodeScalars)[...]
        let out = tokenizer.normalizer.map { $0.normalize(scalars) } ?? scalars
        return String(String.UnicodeScalarView(out))
    }
}
