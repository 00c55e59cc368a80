import Foundation
import MoEModels
import TensorCore

/// The audit's saved stages: one JSON file per completed stage in `stages/`, written atomically,
/// beside a fingerprint of the inputs and settings. A resumed audit loads what is there; a fresh
/// one refuses a folder that already holds stages; another audit's stages are refused.
struct AuditStages {
    let directory: URL

    init(directory: URL, resume: Bool, fingerprint: String) throws {
        self.directory = directory
        let marker = directory.appendingPathComponent("fingerprint.txt")
        let saved = try? String(contentsOf: marker, encoding: .utf8)
        if let saved {
            guard resume else { throw AuditError.exists(path: directory.deletingLastPathComponent().path) }
            guard saved == fingerprint else {
                throw AuditError.resumeMismatch(file: marker.path, reason: "written for other inputs or settings")
            }
        } else {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try AtomicFile.write(fingerprint, to: marker)
        }
    }

    func url(_ name: String) -> URL { directory.appendingPathComponent("\(name).json") }

    func load<T: Decodable>(_ name: String) -> T? {
        guard let data = FileManager.default.contents(atPath: url(name).path) else { return nil }
        return try? JSONDecoder().decode(T.self, from: data)
    }

    func save<T: Encodable>(_ name: String, _ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(value), to: url(name))
    }

    func cached<T: Codable>(_ name: String, _ make: () throws -> T) throws -> T {
        if let value: T = load(name) { return value }
        let value = try make()
        try save(name, value)
        return value
    }

    /// The attribution has its own file format (`attribute --out`).
    func cached(_ name: String, _ make: () throws -> ExpertAttribution) throws -> ExpertAttribution {
        if let value = try? ExpertAttribution.read(from: url(name)) { return value }
        let value = try make()
        try value.write(to: url(name))
        return value
    }
}

/// Why an audit cannot run or continue.
public enum AuditError: InputError, Equatable {
    case exists(path: String)
    case resumeMismatch(file: String, reason: String)
    case unsupported(reason: String)

    public var description: String {
        switch self {
        case .exists(let path): "\(path): holds an audit already (pass --resume to continue it or --overwrite)"
        case .resumeMismatch(let file, let reason): "\(file): cannot resume: \(reason)"
        case .unsupported(let reason): reason
        }
    }
}

extension AuditPipeline {
    /// Recovery after re-alignment: per strategy, the final accuracy and the fraction of the
    /// pruning loss won back, with two-stage intervals (seeds, then examples; full, pruned and final
    /// models share the example indices), and McNemar's test of full vs pruned.
    static func recoveryFindings(
        results: [ActiveLearningLoop.Result], full: ClassificationOutcomes, pruned: ClassificationOutcomes,
        level: Double, resamples: Int
    ) -> [AuditFinding] {
        let m = McNemarTest(first: full.correct.map { $0 > 0.5 }, second: pruned.correct.map { $0 > 0.5 })
        let hurt = m.exactP < 1 - level && m.b > m.c
        var findings = [
            AuditFinding(
                id: "pruning.hurts", verdict: hurt ? .supported : .notResolved,
                statement: "Pruning lowers accuracy (\(AuditPrunability.f(full.accuracy)) → "
                    + "\(AuditPrunability.f(pruned.accuracy)); exact McNemar b = \(m.b), c = \(m.c), p = "
                    + "\(String(format: "%.3g", m.exactP))): \(hurt ? "supported" : "not resolved").",
                interval: Bootstrap.pairedDifference(full.correct, pruned.correct, level: level, resamples: resamples),
                pValue: m.exactP)
        ]
        var order: [QueryStrategy] = []
        for r in results where !order.contains(r.strategy) { order.append(r.strategy) }
        for strategy in order {
            let finals = results.filter { $0.strategy == strategy }.compactMap { $0.curve.last?.outcomes }
            guard !finals.isEmpty, finals.allSatisfy({ $0.count == full.correct.count }) else { continue }
            func mean(_ v: [Double], _ e: [Int]) -> Double { e.reduce(0) { $0 + v[$1] } / Double(e.count) }
            let final = Bootstrap.hierarchical(
                seeds: finals.count, examples: full.correct.count, level: level, resamples: resamples
            ) { s, e in s.reduce(0) { $0 + mean(finals[$1], e) } / Double(s.count) }
            let recovered = Bootstrap.hierarchical(
                seeds: finals.count, examples: full.correct.count, level: level, resamples: resamples
            ) { s, e -> Double? in
                let f = mean(full.correct, e)
                let p = mean(pruned.correct, e)
                guard f - p > 0 else { return nil }
                return (s.reduce(0) { $0 + mean(finals[$1], e) } / Double(s.count) - p) / (f - p)
            }
            let budget = results.first { $0.strategy == strategy }?.curve.last?.labeled ?? 0
            findings.append(
                AuditFinding(
                    id: "recovery.\(strategy.rawValue).final", verdict: .measured,
                    statement: "After \(budget) labels by \(strategy.rawValue): accuracy \(final.formatted()) "
                        + "(\(finals.count) seeds; full \(AuditPrunability.f(full.accuracy)), pruned "
                        + "\(AuditPrunability.f(pruned.accuracy))).", interval: final))
            let verdict: AuditFinding.Verdict = hurt ? AuditFinding.decide(recovered, above: 0.5) : .notResolvable
            findings.append(
                AuditFinding(
                    id: "recovery.\(strategy.rawValue).half_of_loss", verdict: verdict,
                    statement: hurt
                        ? "Re-alignment by \(strategy.rawValue) wins back at least half of the accuracy pruning cost: "
                            + "recovered \(recovered.formatted("%.2f")) of the loss: \(verdict.rawValue)."
                        : "Recovery by \(strategy.rawValue) is not resolvable: pruning cost no accuracy the paired "
                            + "test resolves, so there is no loss to win back.",
                    interval: hurt ? recovered : nil))
        }
        return findings
    }
}
