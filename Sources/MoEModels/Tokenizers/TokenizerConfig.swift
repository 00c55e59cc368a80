import Foundation

/// What is read of transformers' `tokenizer_config.json`: whether to add BOS/EOS and which tokens
/// those are. Chat templates and the rest are ignored.
struct TokenizerConfig {
    var addBosToken: Bool?
    var addEosToken: Bool?
    var bosToken: String?
    var eosToken: String?
    var padToken: String?
    var unkToken: String?

    static func load(_ url: URL) throws -> TokenizerConfig {
        let root = try JSONDocument.read(url)
        guard root.value.objectValue != nil else { throw root.invalid("a JSON object") }
        // A special token is a string or a serialized AddedToken {"content": ...}.
        func token(_ key: String) throws -> String? {
            guard let field = root.child(key) else { return nil }
            if let s = field.value.stringValue { return s }
            if field.value.objectValue != nil { return try field.string("content") }
            throw field.invalid("a string or {\"content\": ...}")
        }
        return TokenizerConfig(
            addBosToken: try root.child("add_bos_token")?.asBool(),
            addEosToken: try root.child("add_eos_token")?.asBool(),
            bosToken: try token("bos_token"), eosToken: try token("eos_token"),
            padToken: try token("pad_token"), unkToken: try token("unk_token"))
    }
}

/// Reads a JSON file into a `JSONField` whose errors name the file.
enum JSONDocument {
    static func read(_ url: URL) throws -> JSONField {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw TokenizerError.fileNotFound(file: path) }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadable(file: path, reason: error.localizedDescription)
        }
        let bytes = [UInt8](data)
        do {
            return JSONField(value: try JSONParser.parse(bytes), file: path, path: "")
        } catch {
            let (line, column) = error.lineAndColumn(in: bytes)
            throw TokenizerError.invalidJSON(file: path, line: line, column: column, reason: error.reason)
        }
    }
}
