import Foundation
import Testing

@testable import MoEModels

/// The Unigram model and the Precompiled normalizer on small hand-made files: the library's own
/// examples, the cases where it would fail, and bad files.
@Suite struct UnigramModelTests {
    private func load(_ contents: String) throws -> Tokenizer {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("unigram-\(UUID().uuidString).json")
        try Data(contents.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try Tokenizer(tokenizerJSON: file)
    }

    private func loadError(_ contents: String) throws -> TokenizerError {
        do {
            _ = try load(contents)
        } catch let error as TokenizerError {
            return error
        }
        Issue.record("loading did not fail")
        throw CancellationError()
    }

    /// The example of the library's `Unigram::encode` documentation.
    private static let abcd = #"""
        [["<unk>", 0.0], ["a", 0.0], ["b", 0.0], ["c", 0.0], ["d", 0.0], ["cd", 1.0], ["ab", 2.0],
         ["abc", 5.0], ["abcd", 10.0]]
        """#

    @Test func libraryDocumentationExample() throws {
        let tokenizer = try load(#"{"model": {"type": "Unigram", "unk_id": 0, "vocab": \#(Self.abcd)}}"#)
        // "abcd", "a", "cd", then "xx" as one fused unknown token.
        #expect(tokenizer.encode("abcdacdxx") == [8, 1, 5, 0])
        #expect(tokenizer.encode("") == [])
        // Without a type tag, a list vocabulary means Unigram, as in the library.
        let untagged = try load(#"{"model": {"unk_id": 0, "vocab": \#(Self.abcd)}}"#)
        #expect(untagged.encode("abcdacdxx") == [8, 1, 5, 0])
    }

    @Test func withoutUnknownIdUncoveredScalarsAreDropped() throws {
        // The library refuses to encode "axb" (MissingUnkId); encoding cannot fail here.
        let tokenizer = try load(#"{"model": {"type": "Unigram", "vocab": \#(Self.abcd)}}"#)
        #expect(tokenizer.encode("axb") == [1, 2])
    }

    @Test func byteFallbackReplacesAFusedUnknownPiece() throws {
        let bytes = (0..<256).map { String(format: #"["<0x%02X>", 0.0]"#, $0) }.joined(separator: ", ")
        let vocab = #"[["<unk>", 0.0], \#(bytes), ["a", -1.0]]"#
        let tokenizer = try load(
            #"{"model": {"type": "Unigram", "unk_id": 0, "byte_fallback": true, "vocab": \#(vocab)}}"#)
        // "é!" is one unknown piece: its three UTF-8 bytes, each <0xXX> at id byte + 1.
        #expect(tokenizer.encode("aé!a") == [257, 0xC3 + 1, 0xA9 + 1, 0x21 + 1, 257])
        // The literal spelling of a byte token is an ordinary vocabulary match.
        #expect(tokenizer.encode("<0x41>") == [0x41 + 1])
    }

    @Test func duplicateTokensAnswerWithTheirLastId() throws {
        let tokenizer = try load(
            #"{"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.0], ["a", -2.0]]}}"#)
        #expect(tokenizer.encode("aa") == [2, 2])
        #expect(tokenizer.token(1) == "a")
    }

    @Test func badUnigramFiles() throws {
        let cases: [(String, String)] = [
            (#"{"type": "Unigram", "vocab": [["a", "x"]]}"#, "model.vocab[0]"),
            (#"{"type": "Unigram", "vocab": [["a", 0.0, 1]]}"#, "model.vocab[0]"),
            (#"{"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": 1}"#, "model.unk_id"),
            (#"{"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": -1}"#, "model.unk_id"),
            (#"{"type": "Unigram", "vocab": [], "unk_id": 0}"#, "model.unk_id"),
            (#"{"type": "Unigram", "vocab": {"a": 0}}"#, "model.vocab"),
        ]
        for (model, field) in cases {
            let error = try loadError(#"{"model": \#(model)}"#)
            guard case .invalidField(_, let path, _) = error else {
                Issue.record("\(model): \(error)")
                continue
            }
            #expect(path == field, "\(model)")
        }
    }

    @Test func scoreOutOfRangeIsRefusedAsTheLibraryDoes() throws {
        let error = try loadError(#"{"model": {"type": "Unigram", "vocab": [["a", -1e400]]}}"#)
        guard case .invalidJSON(_, _, _, let reason) = error else {
            Issue.record("\(error)")
            return
        }
        #expect(reason.contains("out of range"))
    }

    // MARK: Precompiled

    /// A two-unit-deep Darts trie with one key, byte 0x01, whose value is `value`.
    private static func charsmap(value: UInt32, strings: [UInt8]) -> String {
        let units: [UInt32] = [0, 1 | 1 << 8 | 2 << 10, 0, value]
        var bytes: [UInt8] = []
        for v in [UInt32(units.count * 4)] + units { bytes += withUnsafeBytes(of: v.littleEndian, Array.init) }
        return Data(bytes + strings).base64EncodedString()
    }

    private func normalize(_ charsmap: String, _ text: String) throws -> String {
        let tokenizer = try load(
            #"""
            {"model": {"type": "WordLevel", "vocab": {"a": 0}},
             "normalizer": {"type": "Precompiled", "precompiled_charsmap": "\#(charsmap)"}}
            """#)
        return UnigramTokenizerTests.normalized(tokenizer, text)
    }

    @Test func handMadeTrie() throws {
        let map = Self.charsmap(value: 0, strings: Array("XY\u{0}é\u{0}".utf8))
        #expect(try normalize(map, "a\u{1}b") == "aXYb")
        #expect(try normalize(Self.charsmap(value: 3, strings: Array("XY\u{0}é\u{0}".utf8)), "\u{1}") == "é")
        // An offset past the strings or inside a character makes the library panic; kept as is here.
        #expect(try normalize(Self.charsmap(value: 100, strings: Array("XY\u{0}".utf8)), "a\u{1}") == "a\u{1}")
        #expect(try normalize(Self.charsmap(value: 4, strings: Array("XY\u{0}é\u{0}".utf8)), "\u{1}") == "\u{1}")
        // A trie whose root points outside the array finds nothing.
        var bytes: [UInt8] = [4, 0, 0, 0]
        bytes += withUnsafeBytes(of: (UInt32(1000) << 10).littleEndian, Array.init)
        #expect(try normalize(Data(bytes).base64EncodedString(), "abc") == "abc")
    }

    @Test func badCharsmaps() throws {
        let cases = [
            "not base64!",
            "AAAA=",  // not a multiple of four
            "AB==",  // bits set after the last byte
            "",  // no trie size
            Data([16, 0, 0, 0, 1, 0, 0, 0]).base64EncodedString(),  // trie longer than the data
            Self.charsmap(value: 0, strings: [0xFF, 0]),  // strings not UTF-8
        ]
        for charsmap in cases {
            let error = try loadError(
                #"""
                {"model": {"type": "WordLevel", "vocab": {"a": 0}},
                 "normalizer": {"type": "Sequence", "normalizers": [
                   {"type": "Precompiled", "precompiled_charsmap": "\#(charsmap)"}]}}
                """#)
            guard case .invalidField(_, let field, _) = error else {
                Issue.record("\(charsmap): \(error)")
                continue
            }
            #expect(field == "normalizer.normalizers[0].precompiled_charsmap", "\(charsmap)")
        }
        let missing = try loadError(
            #"{"model": {"type": "WordLevel", "vocab": {}}, "normalizer": {"type": "Precompiled"}}"#)
        #expect(missing == .missingField(file: missing.file, field: "normalizer.precompiled_charsmap"))
    }
}
