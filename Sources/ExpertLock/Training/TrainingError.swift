import Foundation
import MoEModels
import TensorCore

/// Why a training run cannot start or had to stop; each case names the file or step concerned.
public enum TrainingError: InputError, Equatable {
    /// The data gave no example to train on.
    case noExamples(reason: String)
    /// A hyperparameter out of range.
    case invalidParameter(String)
    /// The output folder holds files and neither resume nor overwrite was asked for.
    case outputExists(path: String)
    /// `resume` found no complete checkpoint in the folder.
    case nothingToResume(path: String)
    /// The checkpoint was written by a run with other settings or data.
    case resumeMismatch(file: String, reason: String)
    /// A checkpoint file is missing or malformed.
    case badCheckpoint(file: String, reason: String)
    /// The loss or the gradient norm became NaN or infinite; the last good checkpoint is kept.
    case nonFinite(step: Int, what: String, lastCheckpoint: String?)
    /// Nothing would be trained (for example `experts` on a model without kept experts).
    case nothingTrainable(subset: String)

    public var description: String {
        switch self {
        case .noExamples(let reason): "no training examples: \(reason)"
        case .invalidParameter(let reason): "invalid training parameter: \(reason)"
        case .outputExists(let path):
            "\(path): output folder exists (use --resume to continue or --overwrite to replace it)"
        case .nothingToResume(let path): "\(path): no complete checkpoint to resume from"
        case .resumeMismatch(let file, let reason): "\(file): cannot resume: \(reason)"
        case .badCheckpoint(let file, let reason): "\(file): \(reason)"
        case .nonFinite(let step, let what, let last):
            "\(what) is not finite at step \(step); training stopped"
                + (last.map { ", last good checkpoint: \($0)" } ?? " (no checkpoint was written)")
        case .nothingTrainable(let subset): "--trainable \(subset) selects no parameter of this model"
        }
    }
}
