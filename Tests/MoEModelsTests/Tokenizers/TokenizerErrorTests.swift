import Foundation
import Testing

@testable import MoEModels

/// Bad files give a `TokenizerError` naming the file and the problem, never a crash.
@Suite struct TokenizerErrorTests {
    /// A folder holding `tokenizer.json` with `contents`.
    private func folder(_ contents: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        return dir
    }

    private func loadError(_ contents: String) throws -> TokenizerError {
        let dir = try folder(contents)
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try Tokenizer.load(directory: dir)
        } catch let error as TokenizerError {
            #expect(error.description.contains(dir.appendingPathComponent("tokenizer.json").path))
            return error
        }
        Issue.record("loading did not fail")
        throw CancellationError()
    }

    private let bpe = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}"#

    @Test func badJSONNamesLineAndColumn() throws {
        let error = try loadError("{\n  \"model\": {,}\n}")
        guard case .invalidJSON(_, let line, let column, _) = error else {
            Issue.record("\(error)")
            return
        }
        #expect(line == 2)
        #expect(column == 13)
    }

    @Test func truncatedJSON() throws {
        let error = try loadError(#"{"model": {"type": "BPE", "vocab": {"a": 0"#)
        guard case .invalidJSON = error else {
            Issue.record("\(error)")
            return
        }
    }

    @Test func unknownModelType() throws {
        let error = try loadError(#"{"model": {"type": "Hypergram", "vocab": [["a", 0.0]]}}"#)
        #expect(error.description.contains("Hypergram"))
        #expect(error.description.contains("model"))
    }

    @Test func unknownPreTokenizerType() throws {
        let error = try loadError(
            #"{"model": \#(bpe), "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, "#
                + #"{"type": "FancySplit"}]}}"#
        )
        #expect(
            error
                == .unknownType(
                    file: error.file, field: "pre_tokenizer type (at `pre_tokenizer.pretokenizers[1]`)",
                    type: "FancySplit"))
        #expect(error.description.contains("FancySplit"))
    }

    @Test func unknownNormalizerDecoderAndPostProcessor() throws {
        for (key, value) in [("normalizer", "BertNormalizer"), ("decoder", "CTC"), ("post_processor", "Nope")] {
            let error = try loadError(#"{"model": \#(bpe), "\#(key)": {"type": "\#(value)"}}"#)
            #expect(error.description.contains(value))
            #expect(error.description.contains(key))
        }
    }

    @Test func mergeOutsideVocabulary() throws {
        let error = try loadError(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}"#)
        #expect(error == .tokenNotInVocabulary(file: error.file, field: "model.merges[0]", token: "ab"))
    }

    @Test func missingModelAndWrongKinds() throws {
        let missing = try loadError("{}")
        #expect(missing == .missingField(file: missing.file, field: "model"))
        let error = try loadError(#"{"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}}"#)
        guard case .invalidField(_, let field, _) = error else {
            Issue.record("\(error)")
            return
        }
        #expect(field == "model.vocab.a")
        let regex = try loadError(
            #"{"model": \#(bpe), "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "#
                + #""behavior": "Isolated"}}"#
        )
        guard case .invalidRegex = regex else {
            Issue.record("\(regex)")
            return
        }
    }

    @Test func missingFolderOrFile() {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-missing-\(UUID().uuidString)")
        #expect(throws: TokenizerError.fileNotFound(file: dir.appendingPathComponent("tokenizer.json").path)) {
            try Tokenizer.load(directory: dir)
        }
    }

    @Test func badConfig() throws {
        let dir = try folder(#"{"model": \#(bpe)}"#)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("tokenizer_config.json")
        try Data(#"{"add_bos_token": "yes"}"#.utf8).write(to: config)
        #expect(
            throws: TokenizerError.invalidField(file: config.path, field: "add_bos_token", expected: "true or false")
        ) {
            try Tokenizer.load(directory: dir)
        }
    }
}

extension TokenizerError {
    /// The file an error names.
    var file: String {
        switch self {
        case .fileNotFound(let file), .unreadable(let file, _), .invalidJSON(let file, _, _, _),
            .missingField(let file, _), .invalidField(let file, _, _), .unknownType(let file, _, _),
            .tokenNotInVocabulary(let file, _, _), .invalidRegex(let file, _, _, _):
            return file
        }
    }
}
