import ArgumentParser
import ExpertLock
import Foundation

/// `prune`'s compressions beyond removal: merging experts and pruning channels inside experts, and the
/// calibration corpus both need.
struct CompressionOptions: ParsableArguments {
    @Option(
        help: """
            Merge each layer's experts into --keep K instead of removing them: hc-smoe (clusters by output, \
            frequency-weighted average) or reap-aligned (REAP centroids, channels permuted onto the centroid, \
            REAP-weighted average). Router rows are averaged with the same weights.
            """)
    var merge: ExpertMerging.Method?
    @Option(
        help: "Inner-expert pruning: keep this share (0 < R ≤ 1) of each expert's intermediate channels.",
        transform: OptionRange.double(0...1, why: ""))
    var innerKeep: Double?
    @Option(help: "uniform (every expert keeps the share) or per-expert (a layer-wide budget).")
    var innerScope: InnerPruning.Scope = .uniform
    /// The calibration corpus (--data or --ids, --format, --limit sequences), read like every command's data.
    @OptionGroup var calibration: DataOptions
    /// Calibration tokens per sequence (--context, default 256, at most the model's max_position_embeddings).
    @OptionGroup var calibrationContext: ContextOptions
    @Option(
        parsing: .unconditional, help: "Calibration tokens recorded per layer.", transform: OptionRange.int(atLeast: 1))
    var calibrationTokens = 4096

    var data: String? { calibration.data }
    var ids: String? { calibration.ids }

    /// The compression asked for, nil for plain removal or masking.
    func attack(keep: Int?) throws -> CompressionAttack? {
        if merge != nil && innerKeep != nil {
            throw ArgumentInputError("choose one of --merge and --inner-keep")
        }
        if let merge {
            guard let keep else { throw ArgumentInputError("--merge needs --keep K (merged experts per layer)") }
            return .merge(merge, k: keep)
        }
        if let innerKeep {
            guard innerKeep > 0 else { throw ArgumentInputError("--inner-keep must be above 0") }
            return .inner(ratio: innerKeep, scope: innerScope)
        }
        if data != nil || ids != nil { throw ArgumentInputError("--data and --ids calibrate --merge or --inner-keep") }
        return nil
    }
}

extension ExpertMerging.Method: ExpressibleByArgument {}
extension InnerPruning.Scope: ExpressibleByArgument {}
