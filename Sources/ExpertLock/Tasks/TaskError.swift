import TensorCore

/// Task settings that cannot work (they come from the command line, so they are input errors).
public enum TaskError: InputError, Equatable {
    case badSetting(name: String, value: Int, requirement: String)
    case noExamples

    public var description: String {
        switch self {
        case .badSetting(let name, let value, let requirement): "\(name) \(value): \(requirement)"
        case .noExamples: "the data set has no examples for this task"
        }
    }

    /// Throws `badSetting` unless `condition` holds.
    static func require(_ condition: Bool, _ name: String, _ value: Int, _ requirement: String) throws {
        if !condition { throw TaskError.badSetting(name: name, value: value, requirement: requirement) }
    }
}
