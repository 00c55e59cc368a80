import Foundation
import MoEModels

/// Provenance of an encoder-decoder (switch_transformers): the same weight-space matching as for decoder-only
/// models, over the sparse layers of both stacks, each named by stack and block (`encoder.1`, `decoder.1`).
///
/// An expert is T5's `DenseActDense`, so its flattened weights are (wi, wo) rather than (gate, up, down); the
/// cosine, the Hungarian assignment (removal renumbers experts) and the verdict bands are `Provenance.compare`'s.
/// Why the decoder-only calibration carries over: the bands rest on unrelated experts being near-orthogonal
/// (cosine ≈ 1/√n) and on fine-tuning moving each weight by a small fraction of its size; neither depends on how
/// many projections an expert has (n = 2·F·C here: 3,072 for the 32 × 48 test fixture, so 1/√n ≈ 0.018, still an
/// order of magnitude under `unrelated`; `ProvenanceEncoderDecoderTests` measures the independent-model level).
extension Provenance {
    public static func compare(
        original: SwitchTransformersModel, suspect: SwitchTransformersModel, thresholds: Thresholds = Thresholds()
    ) throws -> Report {
        guard original.config.dModel == suspect.config.dModel else {
            throw DefenseError.incomparable(
                reason: "d_model differs (\(original.config.dModel) vs \(suspect.config.dModel))")
        }
        return try compare(
            original: ExpertLayer.layers(of: original), suspect: ExpertLayer.layers(of: suspect),
            thresholds: thresholds)
    }
}

extension Provenance.ExpertLayer {
    /// The sparse layers of both stacks, encoder first, with their (wi, wo) experts and the experts a mask leaves.
    static func layers(of model: SwitchTransformersModel) -> [Provenance.ExpertLayer] {
        model.sparseBlocks.enumerated().map { l, block in
            Provenance.ExpertLayer(
                layer: block.layer, name: block.id.description, experts: block.experts.map { [$0.wi, $0.wo] },
                active: (0..<block.expertCount).filter { model.expertMask?[l][$0] ?? true })
        }
    }
}
