import Foundation
import Testing

@testable import MoEModels

/// The real T5 tokenizer (T5 v1.1's 32,100-token SentencePiece Unigram model, which t5-base and the
/// switch-base-N checkpoints share) against the ids the `tokenizers` library gives with the same file.
/// The file is not committed; skipped when neither EXPERTLOCK_T5_TOKENIZER_DIR nor
/// ../shared/data/tokenizers/t5 holds it (make_unigram_fixtures.py says where it comes from).
@Suite(
    .enabled(
        if: UnigramFixtures.realT5Available,
        "needs ../shared/data/tokenizers/t5 (or EXPERTLOCK_T5_TOKENIZER_DIR): the real T5 tokenizer.json"))
struct RealT5TokenizerTests {
    static func load() throws -> Tokenizer {
        let file = UnigramFixtures.realT5Directory.appendingPathComponent("tokenizer.json")
        // The recorded ids belong to one file: a different one would fail for the wrong reason.
        let size = try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int
        #expect(size == (try UnigramFixtures.realExpected.bytes), "not the recorded T5 tokenizer.json")
        return try Tokenizer(tokenizerJSON: file)
    }

    @Test func smoke() throws {
        let t5 = try Self.load()
        #expect(t5.encode("Hello world") == [8774, 296, 1])
        #expect(t5.vocabSize == 32100)
        #expect(t5.tokenId("</s>") == 1)
        #expect(t5.tokenId("<extra_id_0>") == 32099)
        #expect(t5.encode("") == [1])
    }

    @Test func matchesTheLibrary() throws {
        let texts = try UnigramFixtures.expected.texts
        let reference = try UnigramFixtures.realExpected
        let t5 = try Self.load()
        #expect(reference.cases.count == texts.count)
        for (index, (text, expected)) in zip(texts, reference.cases).enumerated() {
            #expect(t5.encode(text) == expected.ids, "text \(index) \(text.debugDescription)")
            #expect(t5.encode(text, addSpecialTokens: false) == expected.ids_no_special, "text \(index)")
            let decoded = t5.decode(expected.ids)
            #expect(TokenizerFixtures.same(decoded, expected.decoded), "decode \(index): \(decoded.debugDescription)")
            let skipped = t5.decode(expected.ids, skipSpecialTokens: true)
            #expect(TokenizerFixtures.same(skipped, expected.decoded_skip_special), "decode \(index) skipping")
        }
    }

    @Test func randomUnicodeMatchesTheLibrary() throws {
        let texts = try UnigramFixtures.expected.random_texts
        let reference = try UnigramFixtures.realExpected
        let t5 = try Self.load()
        var failures = 0
        for (index, (text, expected)) in zip(texts, reference.random_cases).enumerated() {
            let normalized = UnigramTokenizerTests.normalized(t5, text)
            let ids = t5.encode(text, addSpecialTokens: false)
            if !TokenizerFixtures.same(normalized, expected.normalized) || ids != expected.ids { failures += 1 }
            #expect(
                TokenizerFixtures.same(normalized, expected.normalized),
                "random \(index) \(text.debugDescription) normalized \(normalized.debugDescription)")
            #expect(ids == expected.ids, "random \(index) \(text.debugDescription)")
        }
        #expect(failures == 0)
    }

    @Test func wikiTextLines() throws {
        let reference = try #require(try UnigramFixtures.realExpected.wikitext)
        let file = TokenizerFixtures.sharedData.appendingPathComponent(reference.file)
        try #require(FileManager.default.fileExists(atPath: file.path))
        let lines = try String(contentsOf: file, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        let t5 = try Self.load()
        for (index, expected) in zip(reference.line_indices, reference.ids) {
            #expect(t5.encode(String(lines[index]) + "\n") == expected, "wiki.valid.tokens line \(index)")
        }
    }
}
