import MoEModels

/// Text to token ids, as training needs it. MoEModels' `Tokenizer` conforms (below);
/// `ByteTextEncoder` serves tests and runs without a tokenizer.json.
public protocol TextEncoder {
    /// Token ids of `text`; with `addSpecialTokens` the ones the tokenizer config asks for (BOS).
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int]
    /// Ids are in 0..<vocabSize.
    var vocabSize: Int { get }
    var bosTokenId: Int? { get }
    var eosTokenId: Int? { get }
    var padTokenId: Int? { get }
}

/// UTF-8 bytes as token ids 0...255, with BOS 256, EOS 257 and PAD 258 (vocabulary 259): a
/// tokenizer-free encoder for tests, demos and `train --tokenizer bytes`.
public struct ByteTextEncoder: TextEncoder, Sendable {
    public init() {}

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        (addSpecialTokens ? [256] : []) + text.utf8.map { Int($0) }
    }

    /// The text of ids (special tokens dropped; invalid UTF-8 repaired).
    public func decode(_ ids: [Int]) -> String {
        String(decoding: ids.compactMap { $0 < 256 && $0 >= 0 ? UInt8($0) : nil }, as: UTF8.self)
    }

    public var vocabSize: Int { 259 }
    public var bosTokenId: Int? { 256 }
    public var eosTokenId: Int? { 257 }
    public var padTokenId: Int? { 258 }
}

/// A Hugging Face tokenizer is a text encoder for training.
extension Tokenizer: TextEncoder {}
