import MoEModels
import TensorCore

/// Task settings that cannot work (they come from the command line, so they are input errors).
public enum TaskError: InputError, Equatable {
    case badSetting(name: String, value: Int, requirement: String)
    case noExamples
    /// The model's scores are NaN or infinite (a checkpoint with non-finite weights, say): no
    /// accuracy or perplexity is reported from them.
    case nonFinite(what: String)
    /// A custom classification data set whose rows all carry one label: its other labels (and
    /// their verbalizers) cannot be known from it.
    case singleLabel(name: String)
    /// The data file does not hold what the task reads.
    case dataMismatch(file: String, kind: TaskKind)

    public var description: String {
        switch self {
        case .badSetting(let name, let value, let requirement): "\(name) \(value): \(requirement)"
        case .noExamples: "the data set has no examples for this task"
        case .singleLabel(let name):
            "every example of the data is labelled '\(name)': classification needs the other labels too "
                + "(pass --template with one verbalizer per label, or data with every label)"
        case .dataMismatch(let file, .perplexity):
            "\(file): perplexity needs plain text, JSONL {\"text\"} records or token ids"
        case .dataMismatch(let file, .classify):
            "\(file): --task classify needs labelled examples (GLUE TSV or JSONL with text and label)"
        case .dataMismatch(let file, .summarize): "\(file): --task summarize needs JSONL with document and summary"
        case .nonFinite(let what): "the model's \(what) are not finite (NaN or infinite): check its weights"
        }
    }

    /// Throws `badSetting` unless `condition` holds.
    static func require(_ condition: Bool, _ name: String, _ value: Int, _ requirement: String) throws {
        if !condition { throw TaskError.badSetting(name: name, value: value, requirement: requirement) }
    }
}
