import Foundation
import MoEModels

/// Tokenizer targets: `tokenizer.json` alone, and `tokenizer_config.json` beside a fixed
/// tokenizer. A tokenizer that loads must also encode and decode without trapping, whatever
/// its vocabulary, merges, normalizer or post-processor say.
extension ParserCalls {
    /// Texts that reach every stage: spaces and tabs, non-ASCII, an emoji (byte fallback), added
    /// tokens written inline, digits, a long run for BPE merges, and nothing at all.
    static let sampleTexts = [
        "Hello world", "  leading spaces\tand\ttabs\n\nnew lines ", "café 日本語 😀 e\u{301}",
        "<s>special</s> [CLS] <|endoftext|>",
        "12345 3.14 -7", String(repeating: "ab", count: 200), "",
    ]

    /// What SentencePiece normalization and Unigram segmentation meet beyond `sampleTexts`: "\r\n"
    /// (one grapheme cluster), combining marks, emoji sequences, compatibility forms, controls, a
    /// long run of one character and runs of spaces.
    static let unigramTexts =
        sampleTexts + [
            "a\r\nb\rc", "e\u{301}n\u{303}A\u{30A} \u{0}\u{85}\u{200B}x", "👍🏽👩🏾‍💻🇯🇵 ☃ ﬁ ½ Ａ ﾊﾞ ①",
            "हिन्दी क्षत्रिय ภาษาไทย 한국어", String(repeating: "-", count: 300), "  two   spaces  <0x41>",
        ]

    static func tokenizer(_ data: Data, _ scratch: FuzzScratch) throws {
        exercise(try Tokenizer(tokenizerJSON: scratch.write(data, to: "tokenizer.json")))
    }

    static func unigramTokenizer(_ data: Data, _ scratch: FuzzScratch) throws {
        exercise(try Tokenizer(tokenizerJSON: scratch.write(data, to: "tokenizer.json")), texts: unigramTexts)
    }

    /// T5's pipeline around a fuzzed `precompiled_charsmap`, given as raw bytes and base64-encoded
    /// here, so that every input reaches the double-array walk instead of stopping at base64.
    static func precompiledCharsmap(_ data: Data, _ scratch: FuzzScratch) throws {
        let json = #"""
            {"normalizer": {"type": "Sequence", "normalizers": [
               {"type": "Precompiled", "precompiled_charsmap": "\#(data.base64EncodedString())"},
               {"type": "Strip", "strip_left": false, "strip_right": true},
               {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"}]},
             "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
             "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
             "model": {"type": "Unigram", "unk_id": 2, "byte_fallback": true, "vocab": [
               ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["<0x41>", 0.0], ["▁", -2.0], ["a", -3.0], ["b", -3.5],
               ["▁a", -4.0], ["-", -5.129043102264404], ["---", -12.130167007446289], ["é", -6.0], ["N", -6.5]]}}
            """#
        let tokenizer = try Tokenizer(tokenizerJSON: scratch.write(Data(json.utf8), to: "tokenizer.json"))
        exercise(tokenizer, texts: unigramTexts)
    }

    static func exercise(_ tokenizer: Tokenizer, texts: [String] = sampleTexts) {
        for text in texts {
            let ids = tokenizer.encode(text)
            _ = tokenizer.encode(text, addSpecialTokens: false)
            _ = tokenizer.decode(ids)
            _ = tokenizer.decode(ids, skipSpecialTokens: true)
        }
        _ = tokenizer.vocabSize
        _ = tokenizer.decode([-1, 0, 1, 2, 3, Int.max, Int.min])
        _ = tokenizer.tokenId("hello")
    }

    /// A small WordLevel tokenizer whose added tokens a config can name as BOS/EOS/PAD.
    static let fixedTokenizerJSON = #"""
        {"model": {"type": "WordLevel", "unk_token": "<unk>",
                   "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<pad>": 3, "hello": 4, "world": 5}},
         "pre_tokenizer": {"type": "WhitespaceSplit"},
         "added_tokens": [
           {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, \
        "special": true},
           {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, \
        "special": true},
           {"id": 3, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, \
        "special": true}]}
        """#

    static func writeFixedTokenizer(_ scratch: FuzzScratch) throws {
        _ = try scratch.write(Data(fixedTokenizerJSON.utf8), to: "fixed-tokenizer.json")
    }

    static func tokenizerConfig(_ data: Data, _ scratch: FuzzScratch) throws {
        exercise(
            try Tokenizer(
                tokenizerJSON: scratch.directory.appendingPathComponent("fixed-tokenizer.json"),
                tokenizerConfigJSON: scratch.write(data, to: "tokenizer_config.json")))
    }
}
