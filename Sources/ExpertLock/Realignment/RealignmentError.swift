import Foundation
import MoEModels
import TensorCore

/// Why a re-alignment run cannot start or resume; each case names the setting or file concerned.
public enum RealignmentError: InputError, Equatable {
    case invalidParameter(String)
    /// The pool holds fewer examples than the budget and the gated schedule's held-out split ask for.
    case poolTooSmall(pool: Int, budget: Int, heldOut: Int = 0)
    /// The strategy needs what the task cannot give (margin on language modelling, say).
    case strategyNotApplicable(strategy: String)
    /// A data file cannot serve as pool or evaluation data for the task.
    case unusableData(file: String, reason: String)
    /// A verbalizer does not fit the sequence length.
    case verbalizerTooLong(verbalizer: String, maxLength: Int)
    /// The state folder was written by a run with other settings or data.
    case resumeMismatch(file: String, reason: String)
    /// A state file is missing or malformed.
    case badState(file: String, reason: String)
    /// The output folder holds files and neither resume nor overwrite was asked for.
    case outputExists(path: String)

    public var description: String {
        switch self {
        case .invalidParameter(let reason): "invalid re-alignment parameter: \(reason)"
        case .poolTooSmall(let pool, let budget, let heldOut):
            heldOut == 0
                ? "the pool has \(pool) examples, fewer than the budget of \(budget) labels"
                : "the pool has \(pool) examples, fewer than the budget of \(budget) labels plus the "
                    + "\(heldOut) held out for the gated schedule (--validation)"
        case .strategyNotApplicable(let strategy):
            "--strategy \(strategy) does not apply to this task (margin, least-confidence and badge need "
                + "classification; nll needs perplexity or summarize)"
        case .unusableData(let file, let reason): "\(file): \(reason)"
        case .verbalizerTooLong(let verbalizer, let maxLength):
            "the verbalizer '\(verbalizer)' does not fit a sequence of \(maxLength) tokens"
        case .resumeMismatch(let file, let reason): "\(file): cannot resume: \(reason)"
        case .badState(let file, let reason): "\(file): \(reason)"
        case .outputExists(let path):
            "\(path): output folder exists (use --resume to continue or --overwrite to replace it)"
        }
    }
}
