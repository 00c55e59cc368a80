import Foundation
import MoEModels
import TensorCore

/// The one rule for every artefact written for one model and handed to another (an attribution
/// file, a pruning plan, a resume state): when the artefact records the `ModelFolderIdentity` of
/// the model it was made on, that identity must be the model's. Two models of the same shape (a
/// model and its fine-tuned copy, two seeds) pass every shape check, and an attribution of one
/// silently prunes the other by the wrong ranking; only the identity tells them apart.
///
/// Files written before identities were recorded carry none and are accepted (shape checks
/// still apply), so older attribution files stay usable.
public enum ModelIdentityCheck {
    /// Throws `ModelIdentityError` when `recorded` is present and differs from the identity of
    /// `model` (computed here unless the caller passes it as `identity`).
    public static func check(
        _ kind: String, file: String, recorded: String?, model: URL, identity: String? = nil
    ) throws {
        guard let recorded else { return }
        let actual = identity ?? ModelFolderIdentity.fingerprint(of: model)
        guard recorded == actual else {
            throw ModelIdentityError(kind: kind, file: file, model: model.path, recorded: recorded, actual: actual)
        }
    }
}

/// An artefact of another model (exit code 2): names the file, the model and both identities.
public struct ModelIdentityError: InputError, Equatable {
    public let kind: String
    public let file: String
    public let model: String
    public let recorded: String
    public let actual: String

    public var description: String {
        "\(file): \(kind) was made on another model than \(model) (its model_fingerprint "
            + "\(recorded.prefix(12))… differs from this model's \(actual.prefix(12))…; the shapes agree, "
            + "the weights or config do not); compute it again on \(model)"
    }
}

extension ExpertAttribution {
    /// Refuses an attribution file made on another model: first by shape (the expert layout),
    /// then by identity (`ModelIdentityCheck`), so a same-shaped model is refused too.
    public func checkBelongs(to model: MoEModel, directory: URL, file: String, identity: String? = nil) throws {
        let expected = ModelSignature(model: model)
        guard signature == expected else {
            throw AttributionError.mismatch(
                file: file,
                reason: "made on a model with experts \(signature.expertsPerLayer) in layers "
                    + "\(signature.sparseLayers), this one has \(expected.expertsPerLayer) in layers "
                    + "\(expected.sparseLayers)")
        }
        try ModelIdentityCheck.check(
            "the attribution", file: file, recorded: modelFingerprint, model: directory, identity: identity)
    }
}
