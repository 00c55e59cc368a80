import Foundation
import MoEModels

/// Tokenizer targets: `tokenizer.json` alone, and `tokenizer_config.json` beside a fixed
/// tokenizer. A tokenizer that loads must also encode and decode without trapping, whatever
/// its vocabulary, merges, normalizer or post-processor say.
extension ParserCalls {
    /// Texts that reach every stage: spaces and tabs, non-ASCII, an emoji (byte fallback), added
    /// tokens written inline, digits, a long run for BPE merges, and nothing at all.
    static let sampleTexts = [
        "Hello world", "  leading spaces\tand\ttabs\n\nnew lines ", "café 日本語 😀 e\u{301}", "<s>special</s> [CLS] <|endoftext|>",
        "12345 3.14 -7", String(repeating: "ab", count: 200), "",
    ]

    static func tokenizer(_ data: Data, _ scratch: FuzzScratch) throws {
        exercise(try Tokenizer(tokenizerJSON: scratch.write(data, to: "tokenizer.json")))
    }

    static func exercise(_ tokenizer: Tokenizer) {
        for text in sampleTexts {
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
           {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
           {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
           {"id": 3, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}]}
        """#

    static func writeFixedTokenizer(_ scratch: FuzzScratch) throws {
        _ = try scratch.write(Data(fixedTokenizerJSON.utf8), to: "fixed-tokenizer.json")
    }

    static func tokenizerConfig(_ data: Data, _ scratch: FuzzScratch) throws {
        exercise(try Tokenizer(
            tokenizerJSON: scratch.directory.appendingPathComponent("fixed-tokenizer.json"),
            tokenizerConfigJSON: scratch.write(data, to: "tokenizer_config.json")))
    }
}
