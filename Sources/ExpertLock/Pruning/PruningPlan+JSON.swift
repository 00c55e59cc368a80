import Foundation
import MoEModels

/// A plan file (`prune --plan FILE`): the JSON `PruningPlan`'s `Codable` conformance writes,
/// `{"kept": [[e, ...] per sparse layer], "original_counts": [n per sparse layer], "rule": "...",
/// "model_fingerprint": "..."}` (snake_case as every file ExpertLock writes; files of older builds
/// spell `originalCounts` and are still read).
/// Reading only checks the shape of the file; `validate(for:minimumPerLayer:)` checks it against
/// the model it is applied to.
extension PruningPlan {
    public static func read(from url: URL) throws -> PruningPlan {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw PruningError.unreadablePlan(file: url.path, reason: "cannot read the file")
        }
        return try decode(data, file: url.path)
    }

    /// Parses a plan held in memory; `file` is the name used in errors.
    public static func decode(_ data: Data, file: String) throws -> PruningPlan {
        let plan: PruningPlan
        do {
            plan = try JSONFileStyle.decode(PruningPlan.self, from: data)
        } catch let error as DecodingError {
            throw PruningError.unreadablePlan(file: file, reason: reason(error))
        } catch {
            throw PruningError.unreadablePlan(file: file, reason: "invalid JSON")
        }
        guard plan.kept.count == plan.originalCounts.count else {
            throw PruningError.unreadablePlan(
                file: file,
                reason: "'kept' has \(plan.kept.count) layers but 'originalCounts' has \(plan.originalCounts.count)")
        }
        // Through the memberwise init, which sorts each layer's kept experts.
        var sorted = PruningPlan(kept: plan.kept, originalCounts: plan.originalCounts, rule: plan.rule)
        sorted.modelFingerprint = plan.modelFingerprint
        return sorted
    }

    private static func reason(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, _): return "missing key '\(key.stringValue)'"
        case let .typeMismatch(type, context): return "'\(path(context))' is not \(type)"
        case let .valueNotFound(type, context): return "'\(path(context))' is null, expected \(type)"
        case .dataCorrupted: return "invalid JSON"
        @unknown default: return "invalid plan"
        }
    }
}
