import Foundation
import MoEModels
import TensorCore

/// The attribution file of CLI.md:
/// `{"model", "tokens", "layers": [{"layer", "experts": [{"expert", "soft_mass", "frequency", "reap", "share"}]}],
///   "global_ranking": [[layer, expert], ...], "criterion"}`
/// plus the exact fixed-point sums (`*_fixed`) that make merging exact and the model signature.
extension ExpertAttribution {
    public func jsonObject() -> [String: Any] {
        let sh = shares(criterion)
        let (applied, affinity) = (appliedShares(), affinityShares())
        let abl = ablation
        let layers: [[String: Any]] = statistics.enumerated().map { l, row in
            var layer: [String: Any] = [
                "layer": signature.sparseLayers[l],
                "experts": row.enumerated().map { e, s -> [String: Any] in
                    var o: [String: Any] = [
                        "expert": e, "soft_mass": s.softMass, "frequency": s.frequency, "reap": s.reap,
                        "gate_mass": s.gateMass, "share": sh[l][e], "affinity_mass": s.affinityMass,
                        "applied_share": applied[l][e], "affinity_share": affinity[l][e],
                        "soft_mass_fixed": s.softMassFixed, "gate_mass_fixed": s.gateMassFixed,
                        "reap_sum_fixed": s.reapSumFixed, "affinity_mass_fixed": s.affinityMassFixed,
                    ]
                    if let abl { o["ablation"] = abl[l][e] }
                    return o
                },
            ]
            if let kind = softMassIsApplied?[l] {
                layer["soft_mass_is"] = kind ? "applied_weight" : "softmax_probability"
            }
            return layer
        }
        let signatureObject = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(signature))) ?? [:]
        var object: [String: Any] = [
            "model": model, "tokens": tokens, "layers": layers, "criterion": criterion.rawValue,
            "global_ranking": globalRanking(criterion: criterion).map {
                [signature.sparseLayers[$0.layer], $0.expert]
            },
            "signature": signatureObject, "format": "expertlock-attribution-1",
            "shares_meaning": Self.sharesMeaning,
        ]
        if let modelFingerprint { object["model_fingerprint"] = modelFingerprint }
        if let source { object["source"] = source.jsonObject() }
        return object
    }

    /// What the per-expert shares mean, written into every attribution file.
    public static let sharesMeaning = """
        applied_share: the expert's share of the routing weight the router actually applied (after selection, \
        renormalisation and routed scaling), summed over tokens. affinity_share: its share of the pre-selection \
        affinities (softmax probabilities, or sigmoid scores without the selection bias), summed over tokens. \
        Both sum to 1 per layer. soft_mass (criterion soft) is the applied weight for routers whose choice \
        differs from their weights (soft_mass_is: applied_weight: sigmoid or biased scores, groups, routed \
        scaling) and the dense softmax probability otherwise (soft_mass_is: softmax_probability).
        """

    public func write(to url: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: jsonObject(), options: [.sortedKeys, .prettyPrinted])
        try AtomicFile.write(data, to: url)
    }

    public static func read(from url: URL) throws -> ExpertAttribution {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw AttributionError.unreadable(file: url.path, reason: "cannot read the file")
        }
        return try decode(data, file: url.path)
    }

    /// Parses an attribution file held in memory; `file` is the name used in errors.
    public static func decode(_ data: Data, file: String) throws -> ExpertAttribution {
        func fail(_ reason: String) -> AttributionError { .unreadable(file: file, reason: reason) }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        // `JSONSerialization.data` traps (it does not throw) on anything but an array or object
        // tree of valid values, so check before re-serialising the signature to decode it.
        guard let sigObject = root["signature"] as? [String: Any], JSONSerialization.isValidJSONObject(sigObject),
            let sigData = try? JSONSerialization.data(withJSONObject: sigObject),
            let signature = try? JSONDecoder().decode(ModelSignature.self, from: sigData)
        else { throw fail("missing or malformed 'signature'") }
        guard signature.expertsPerLayer.count == signature.sparseLayers.count else {
            throw fail(
                "'signature' "
                    + "lists \(signature.expertsPerLayer.count) expert counts "
                    + "for \(signature.sparseLayers.count) sparse layers"
            )
        }
        guard let tokens = (root["tokens"] as? NSNumber)?.int64Value, tokens >= 0 else {
            throw fail("missing 'tokens'")
        }
        guard let layers = root["layers"] as? [[String: Any]], layers.count == signature.sparseLayers.count else {
            throw fail("'layers' missing or not one entry per sparse layer")
        }
        let criterion = (root["criterion"] as? String).flatMap(AttributionCriterion.init(rawValue:)) ?? .soft
        var statistics: [[ExpertStatistics]] = []
        var ablation: [[Double]] = []
        var hasAblation = true
        for (l, layer) in layers.enumerated() {
            guard let experts = layer["experts"] as? [[String: Any]], experts.count == signature.expertsPerLayer[l]
            else {
                throw fail("layer \(l): 'experts' missing or of the wrong count")
            }
            var row: [ExpertStatistics] = []
            var ablationRow: [Double] = []
            for (e, entry) in experts.enumerated() {
                guard (entry["expert"] as? NSNumber)?.intValue == e,
                    let soft = (entry["soft_mass_fixed"] as? NSNumber)?.int64Value,
                    let freq = (entry["frequency"] as? NSNumber)?.int64Value,
                    let gate = (entry["gate_mass_fixed"] as? NSNumber)?.int64Value,
                    let reap = (entry["reap_sum_fixed"] as? NSNumber)?.int64Value,
                    soft >= 0, freq >= 0, gate >= 0, reap >= 0
                else { throw fail("layer \(l) expert \(e): missing or negative statistics") }
                var s = ExpertStatistics()
                s.softMassFixed = soft; s.frequency = freq; s.gateMassFixed = gate; s.reapSumFixed = reap
                // Files written before the affinity sum existed had it as their soft mass.
                s.affinityMassFixed = (entry["affinity_mass_fixed"] as? NSNumber)?.int64Value ?? soft
                guard s.affinityMassFixed >= 0 else { throw fail("layer \(l) expert \(e): negative affinity mass") }
                row.append(s)
                if let a = (entry["ablation"] as? NSNumber)?.doubleValue {
                    ablationRow.append(a)
                } else {
                    hasAblation = false
                }
            }
            statistics.append(row)
            ablation.append(ablationRow)
        }
        var attribution = ExpertAttribution(
            model: root["model"] as? String ?? "", signature: signature, tokens: tokens, statistics: statistics,
            criterion: criterion, ablation: hasAblation ? ablation : nil)
        attribution.modelFingerprint = root["model_fingerprint"] as? String  // absent from older files
        let kinds = layers.map { $0["soft_mass_is"] as? String }
        if kinds.allSatisfy({ $0 != nil }) { attribution.softMassIsApplied = kinds.map { $0 == "applied_weight" } }
        if root["source"] != nil {
            guard let source = AttributionSource(json: root["source"]) else { throw fail("malformed 'source'") }
            attribution.source = source
        }
        return attribution
    }
}
