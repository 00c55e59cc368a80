import Crypto
import Foundation
import MoEModels

/// Expert attribution from routing traces: what an API client can compute without the weights.
///
/// Expert ids alone (vLLM, SGLang) give the top-k frequency; router logits (a transformers dump)
/// also give the soft routing mass Σ_t softmax(logits_t)_e and the gate mass of the chosen
/// experts. Neither gives REAP (it needs the experts' outputs) or ablation (it needs the model).
/// The statistics are the same fixed-point sums `AttributionCollector` keeps, so the result
/// merges exactly with shards ExpertLock computed itself.
public enum TraceAttribution {
    public static func attribute(
        traces: [RoutingTrace], shape: RoutingShape, modelPath: String, criterion: AttributionCriterion? = nil,
        files: [String] = []
    ) throws -> ExpertAttribution {
        let signature = shape.signature
        var statistics = signature.expertsPerLayer.map { [ExpertStatistics](repeating: ExpertStatistics(), count: $0) }
        let withLogits = !traces.isEmpty && traces.allSatisfy { $0.logits != nil }
        var tokens: Int64 = 0
        for trace in traces {
            tokens += Int64(trace.tokens)
            for l in 0..<shape.layers {
                var row = statistics[l]
                for t in 0..<trace.tokens {
                    for id in trace.experts(token: t, layer: l) { row[Int(id)].frequency += 1 }
                }
                if withLogits, let logits = trace.logits {
                    addSoftMass(logits[l], tokens: trace, shape: shape, layer: l, into: &row)
                }
                statistics[l] = row
            }
        }
        let formats = Set(traces.map(\.format.rawValue)).sorted()
        let source = AttributionSource(
            kinds: formats, criteria: withLogits ? [.soft, .frequency] : [.frequency], requests: traces.count)
        let chosen = criterion ?? source.criteria[0]
        guard source.criteria.contains(chosen) else {
            throw RoutingTraceError.unreadable(
                file: files.joined(separator: ", "),
                reason:
                    "--criterion \(chosen.rawValue) needs "
                    + "\(chosen == .soft ? "router logits" : "the model's weights"); "
                    + "these traces support \(source.criteria.map(\.rawValue).joined(separator: ", "))")
        }
        var attribution = ExpertAttribution(
            model: modelPath, signature: signature, tokens: tokens, statistics: statistics, criterion: chosen)
        attribution.source = source
        return attribution
    }

    /// Adds softmax(logits) of every token to the soft mass and the (renormalised) probabilities
    /// of its chosen experts to the gate mass, in Double, as fixed point.
    private static func addSoftMass(
        _ logits: [Float], tokens trace: RoutingTrace, shape: RoutingShape, layer l: Int,
        into row: inout [ExpertStatistics]
    ) {
        let e = row.count
        var p = [Double](repeating: 0, count: e)
        for t in 0..<trace.tokens {
            let z = logits[(t * e)..<(t * e + e)]
            let m = Double(z.max() ?? 0)
            var sum = 0.0
            for (j, v) in z.enumerated() {
                p[j] = Foundation.exp(Double(v) - m)
                sum += p[j]
            }
            for j in 0..<e {
                p[j] /= sum
                row[j].softMassFixed += ExpertStatistics.fixedProbability(p[j])
                row[j].affinityMassFixed += ExpertStatistics.fixedProbability(p[j])
            }
            let chosen = trace.experts(token: t, layer: l).map { Int($0) }
            let norm = shape.normTopKProb ? chosen.reduce(0.0) { $0 + p[$1] } : 1
            for j in chosen { row[j].gateMassFixed += ExpertStatistics.fixedProbability(p[j] / norm) }
        }
    }
}

/// Where an attribution's statistics come from, when not (only) from ExpertLock running the model:
/// written as `"source"` in the attribution file. Absent means a model run, which supports every
/// criterion.
public struct AttributionSource: Sendable, Equatable {
    /// "vllm", "sglang", "router_logits", and "model" once merged with a model run; sorted.
    public var kinds: [String]
    /// The criteria the statistics support (merges keep the criteria both sides support).
    public var criteria: [AttributionCriterion]
    /// Requests read from traces.
    public var requests: Int

    public init(kinds: [String], criteria: [AttributionCriterion], requests: Int) {
        self.kinds = kinds
        self.criteria = criteria
        self.requests = requests
    }

    /// A model run: every criterion but ablation survives a merge.
    static let model = AttributionSource(kinds: ["model"], criteria: [.soft, .frequency, .reap], requests: 0)

    func merged(with other: AttributionSource) -> AttributionSource {
        AttributionSource(
            kinds: Set(kinds + other.kinds).sorted(), criteria: criteria.filter(other.criteria.contains),
            requests: requests + other.requests)
    }

    func jsonObject() -> [String: Any] {
        ["kinds": kinds, "criteria": criteria.map(\.rawValue), "requests": requests]
    }

    init?(json: Any?) {
        guard let object = json as? [String: Any], let kinds = object["kinds"] as? [String],
            let names = object["criteria"] as? [String], let requests = (object["requests"] as? NSNumber)?.intValue
        else { return nil }
        let criteria = names.compactMap(AttributionCriterion.init(rawValue:))
        guard criteria.count == names.count, requests >= 0 else { return nil }
        self.init(kinds: kinds, criteria: criteria, requests: requests)
    }
}

extension ExpertStatistics {
    @inline(__always) static func fixedProbability(_ p: Double) -> Int64 { Int64((p * probabilityScale).rounded()) }
}

extension TraceAttribution {
    /// SHA-256 of what a trace attribution depends on (model path and shape, criterion, every
    /// request's ids and logits in order): shards of one run carry it, and `--merge` checks it.
    public static func runFingerprint(
        traces: [RoutingTrace], modelPath: String, shape: RoutingShape, criterion: AttributionCriterion?
    ) -> String {
        var hasher = SHA256()
        func add(_ text: String) { hasher.update(data: Data((text + "\u{0}").utf8)) }
        add("traces")
        add(modelPath)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        add((try? encoder.encode(shape.signature)).map { String(decoding: $0, as: UTF8.self) } ?? "")
        add(criterion?.rawValue ?? "default")
        for trace in traces {
            add("\(trace.request) \(trace.format.rawValue) \(trace.tokens)")
            trace.experts.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            for layer in trace.logits ?? [] { layer.withUnsafeBytes { hasher.update(bufferPointer: $0) } }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
