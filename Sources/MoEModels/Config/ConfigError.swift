import TensorCore

/// A `config.json` that ExpertLock cannot use; each case names the file and the problem.
public enum ConfigError: InputError, Equatable {
    case fileNotFound(file: String)
    case unreadable(file: String, reason: String)
    case invalidJSON(file: String, reason: String)
    case missingKey(file: String, key: String)
    case invalidValue(file: String, key: String, reason: String)
    case conflictingKeys(file: String, first: String, second: String)
    case unknownModelType(file: String, modelType: String)
    /// The values decode but do not describe a model (`validate()`).
    case invalid(file: String, reason: String)
    case modelTypeMismatch(file: String, expected: String, found: String)
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .fileNotFound(file):
            "\(file): no such config file"
        case let .unreadable(file, reason):
            "\(file): cannot read: \(reason)"
        case let .invalidJSON(file, reason):
            "\(file): not a JSON object: \(reason)"
        case let .missingKey(file, key):
            "\(file): missing required key '\(key)'"
        case let .invalidValue(file, key, reason):
            "\(file): key '\(key)': \(reason)"
        case let .conflictingKeys(file, first, second):
            "\(file): '\(first)' and '\(second)' give different values for the same setting"
        case let .unknownModelType(file, modelType):
            "\(file): unsupported model_type '\(modelType)' (supported: "
                + ModelFamily.allCases.map(\.rawValue).joined(separator: ", ") + ")"
        case let .invalid(file, reason):
            "\(file): \(reason)"
        case let .modelTypeMismatch(file, expected, found):
            "\(file): model_type is '\(found)', expected '\(expected)'"
        case let .writeFailed(file, reason):
            "\(file): write failed: \(reason)"
        }
    }
}
