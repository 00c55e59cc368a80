import ExpertLock
import Foundation
import MoEModels

extension ProvenanceCommand {
    /// Whether either folder is a switch_transformers (encoder-decoder) checkpoint.
    var isEncoderDecoder: Bool {
        [original, suspect].contains { SwitchTransformersModel.isSwitchCheckpoint(URL(fileURLWithPath: $0)) }
    }

    /// `provenance` of two switch_transformers folders: the sparse layers of both stacks, named `encoder.N` /
    /// `decoder.N` (`Provenance.compare(original:suspect:)` for encoder-decoders).
    func compareEncoderDecoder() throws -> Provenance.Report {
        for path in [original, suspect] where !SwitchTransformersModel.isSwitchCheckpoint(URL(fileURLWithPath: path)) {
            throw ArgumentInputError("\(path): not a switch_transformers folder (both models must be encoder-decoders)")
        }
        if explain || probe != nil {
            throw ArgumentInputError(
                "\(original): --explain and --probe read decoder-only models, not switch_transformers")
        }
        let a = try SwitchTransformersModel.load(directory: URL(fileURLWithPath: original), residency: .mapped)
        let b = try SwitchTransformersModel.load(directory: URL(fileURLWithPath: suspect), residency: .mapped)
        return try Provenance.compare(
            original: a, suspect: b, thresholds: Provenance.Thresholds(derived: derived, unrelated: unrelated))
    }
}
