import Foundation
import MoEModels
import TensorCore

/// Why a defense command cannot do its work with the files it was given; each case names the file
/// and the problem in one line (the CLI maps these to exit code 2).
public enum DefenseError: InputError, Equatable {
    /// A key file is missing, unreadable or not a 32-byte Ed25519 key.
    case badKey(file: String, reason: String)
    /// A manifest is missing or not a manifest.
    case badManifest(file: String, reason: String)
    /// An update log cannot be read at all (a malformed line is a verification problem instead).
    case badLog(file: String, reason: String)
    /// The model folder's tensors cannot be listed (two files hold the same tensor, no weights).
    case badCheckpoint(file: String, reason: String)
    /// A key was given for a model folder without `expertlock_manifest.json`.
    case notLocked(directory: String)
    /// A locked model was asked to train without the owner's key, or in a mode other than LoRA.
    case lockedModelPolicy(directory: String, reason: String)
    /// The locked input does not verify under the owner's key, so no entry may be chained onto it.
    case lockedInputInvalid(directory: String, summary: String)
    /// A training run changed a tensor a LoRA run may not change.
    case unauthorizedChange(directory: String, tensor: String, reason: String)
    /// The two models of a provenance check cannot be compared.
    case incomparable(reason: String)
    /// An output file exists and overwriting was not asked for.
    case outputExists(file: String)

    public var description: String {
        switch self {
        case .badKey(let file, let reason): "\(file): \(reason)"
        case .badManifest(let file, let reason): "\(file): \(reason)"
        case .badLog(let file, let reason): "\(file): \(reason)"
        case .badCheckpoint(let file, let reason): "\(file): \(reason)"
        case .notLocked(let directory):
            "\(directory): not a locked model (no \(ModelManifest.fileName)); run `expertlock lock` first"
        case .lockedModelPolicy(let directory, let reason): "\(directory): locked model: \(reason)"
        case .lockedInputInvalid(let directory, let summary):
            "\(directory): the locked model does not verify under the owner's key: \(summary)"
        case .unauthorizedChange(let directory, let tensor, let reason): "\(directory): '\(tensor)' \(reason)"
        case .incomparable(let reason): "cannot compare the models: \(reason)"
        case .outputExists(let file): "\(file): already exists (pass --overwrite to replace it)"
        }
    }
}
