import Foundation
import MoEModels
import TensorCore

/// The compressions beyond expert removal that `prune` and `sweep` apply: merging experts
/// (`ExpertMerging`) and pruning channels inside experts (`InnerPruning`), both calibrated on a corpus.
public enum CompressionAttack: Sendable, Equatable {
    /// Merge each layer's experts into `k`.
    case merge(ExpertMerging.Method, k: Int)
    /// Keep `ratio` of the intermediate channels.
    case inner(ratio: Double, scope: InnerPruning.Scope)

    /// What was done, for reports and the plan file.
    public enum Record: Sendable {
        case merge(ExpertMerging.Plan)
        case inner(InnerPruning.Plan)

        /// The plan as JSON, and the file name it is written under beside the checkpoint.
        public func encoded() throws -> (name: String, data: Data) {
            switch self {
            case .merge(let plan): return ("merge_plan.json", try JSONFileStyle.encoder().encode(plan))
            case .inner(let plan): return ("inner_pruning_plan.json", try JSONFileStyle.encoder().encode(plan))
            }
        }
    }

    public var rule: String {
        switch self {
        case .merge(let method, let k): return "merge to \(k) experts per layer by \(method.rawValue)"
        case .inner(let ratio, let scope): return "keep \(ratio) of each expert's channels (\(scope.rawValue))"
        }
    }

    /// The compressed model (the input model is unchanged) from a calibration pass over `batches`.
    public func apply(to model: MoEModel, calibration: MergeCalibration) throws -> (MoEModel, Record) {
        switch self {
        case .merge(let method, let k):
            let plan = try ExpertMerging.plan(model: model, calibration: calibration, method: method, k: k)
            return (try ExpertMerging.apply(plan, to: model), .merge(plan))
        case .inner(let ratio, let scope):
            let plan = try InnerPruning.plan(calibration: calibration, ratio: ratio, scope: scope)
            return (try InnerPruning.apply(plan, to: model), .inner(plan))
        }
    }
}
