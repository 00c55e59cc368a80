import TensorCore

/// Task settings that cannot work (they come from the command line, so they are input errors).
public enum TaskError: InputError, Equatable {
    case badSetting(name: String, value: Int, requirement: String)
    case noExamples
    /// The model's scores are NaN or infinite (a checkpoint with non-finite weights, say): no
    /// accuracy or perplexity is reported from them.
    case nonFinite(what: String)

    public var description: String {
        switch self {
        case .badSetting(let name, let value, let requirement): "\(name) \(value): \(requirement)"
        case .noExamples: "the data set has no examples for this task"
        case .nonFinite(let what): "the model's \(what) are not finite (NaN or infinite): check its weights"
        }
    }

    /// Throws `badSetting` unless `condition` holds.
    static func require(_ condition: Bool, _ name: String, _ value: Int, _ requirement: String) throws {
        if !condition { throw TaskError.badSetting(name: name, value: value, requirement: requirement) }
    }
}
