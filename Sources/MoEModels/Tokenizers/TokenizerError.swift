import TensorCore

/// Why a tokenizer could not be loaded. Every case names the file (and, where it helps, the JSON path
/// such as `pre_tokenizer.pretokenizers[0].type`) so the command line can print one useful line.
public enum TokenizerError: InputError, Equatable {
    /// The folder holds no `tokenizer.json`, or a named file does not exist.
    case fileNotFound(file: String)
    /// The file exists but could not be read.
    case unreadable(file: String, reason: String)
    /// The file is not valid JSON; line and column are 1-based.
    case invalidJSON(file: String, line: Int, column: Int, reason: String)
    /// A required key is absent (or null).
    case missingField(file: String, field: String)
    /// A key holds a value of the wrong kind or out of range.
    case invalidField(file: String, field: String, expected: String)
    /// A pipeline stage names a `type` this implementation does not know (or does not support, such
    /// as the CTC decoder).
    case unknownType(file: String, field: String, type: String)
    /// A merge, an added token or a special token refers to a token that is not in the vocabulary.
    case tokenNotInVocabulary(file: String, field: String, token: String)
    /// A regular expression in the file could not be compiled.
    case invalidRegex(file: String, field: String, pattern: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let file):
            return "\(file): no such file"
        case .unreadable(let file, let reason):
            return "\(file): cannot read: \(reason)"
        case .invalidJSON(let file, let line, let column, let reason):
            return "\(file):\(line):\(column): invalid JSON: \(reason)"
        case .missingField(let file, let field):
            return "\(file): missing `\(field)`"
        case .invalidField(let file, let field, let expected):
            return "\(file): `\(field)` must be \(expected)"
        case .unknownType(let file, let field, let type):
            return "\(file): unknown or unsupported \(field) \"\(type)\""
        case .tokenNotInVocabulary(let file, let field, let token):
            return "\(file): `\(field)` names the token \"\(token)\" that is not in the vocabulary"
        case .invalidRegex(let file, let field, let pattern, let reason):
            return "\(file): `\(field)` regex /\(pattern)/ cannot be compiled: \(reason)"
        }
    }
}
