import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

/// `expertlock provenance`: which experts of an original model a suspect model keeps.
struct ProvenanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provenance",
        abstract: "Match each suspect expert to an original expert and judge whether the suspect is derived.",
        discussion: """
            Per sparse layer, the cosine similarity of every suspect expert's flattened (gate, up, down) weights with \
            every original expert's, a Hungarian assignment (pruning renumbers experts), and a verdict per pair, layer \
            and model: derived (similarity >= --derived), not derived (< --unrelated), else inconclusive. The default \
            bands are calibrated in the Provenance doc comment. With --json prints {"verdict", "kept_experts", \
            "layers": [{"layer", "matches": [{"suspect_expert", "original_expert", "similarity", "verdict"}], \
            "mean_similarity", "background_maximum", "verdict"}], "thresholds"}.

            --explain also says, per suspect expert, which originals it was made from: channel-aligned \
            non-negative mixing weights over the originals (merges), a channel subset (inner pruning), a permuted \
            copy, re-quantised (int8, FP8) or low-rank copies, judged on a chance-corrected score ("derivation"). \
            --probe FILE (token ids) adds a routing fingerprint: which experts fire on the probe ("routing").

            switch_transformers (encoder-decoder) folders: the sparse layers of both stacks, each expert's (wi, wo), \
            every layer named by stack and block ("name": "encoder.1", "decoder.1"); --explain and --probe read \
            decoder-only models.
            """)

    @Option(help: "The original model folder.", transform: ModelPath.folder)
    var original: String
    @Option(help: "The suspect model folder.", transform: ModelPath.folder)
    var suspect: String
    @Option(help: "Similarity at or above which an expert is derived.") var derived: Float = 0.5
    @Option(help: "Similarity below which experts are unrelated.") var unrelated: Float = 0.2
    @Flag(help: "Explain each suspect expert: merge weights, channel subsets, permuted or re-quantised copies.")
    var explain = false
    @Option(help: "Probe token ids (a JSON array or whitespace-separated integers) for a routing fingerprint.")
    var probe: String?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            guard unrelated <= derived else { throw ArgumentInputError("--unrelated must not exceed --derived") }
            if isEncoderDecoder { return try printResult(try compareEncoderDecoder(), derivation: nil, routing: nil) }
            let a = try ModelLoader.load(directory: URL(fileURLWithPath: original), residency: .mapped)
            let b = try ModelLoader.load(directory: URL(fileURLWithPath: suspect), residency: .mapped)
            let report = try Provenance.compare(
                original: a, suspect: b, thresholds: Provenance.Thresholds(derived: derived, unrelated: unrelated))
            let derivation =
                explain
                ? try Provenance.explain(
                    original: a, suspect: b, thresholds: Provenance.Thresholds(derived: derived, unrelated: unrelated))
                : nil
            let routing = try probe.map { file in
                let ids = try TokenIdsFile.read(file)
                for id in ids where id < 0 || id >= min(a.config.vocabSize, b.config.vocabSize) {
                    throw ArgumentInputError("\(file): token id \(id) is outside a model's vocabulary")
                }
                let batches = CorpusBatches.batches(CorpusBatches.chunks(ids, length: 256), batchSize: 4)
                return try RoutingFingerprint.compare(original: a, suspect: b, probes: batches)
            }
            try printResult(report, derivation: derivation, routing: routing)
        }
    }

    func printResult(
        _ report: Provenance.Report, derivation: Provenance.DerivationReport?, routing: RoutingFingerprint.Report?
    ) throws {
        if output.json {
            var object = try Self.jsonObject(report)
            if let derivation { object["derivation"] = try Self.jsonObject(derivation) }
            if let routing { object["routing"] = try Self.jsonObject(routing) }
            return try Console.printJSON(object)
        }
        print("verdict: \(report.verdict.rawValue)")
        for layer in report.layers {
            let pairs = layer.matches.map {
                "\($0.suspectExpert)←\($0.originalExpert) (\(String(format: "%.3f", Double($0.similarity))))"
            }
            let name = layer.name ?? "\(layer.layer)"
            print("  layer \(name): \(layer.verdict.rawValue); " + pairs.joined(separator: ", "))
        }
        for layer in derivation?.layers ?? [] {
            print("  layer \(layer.layer) derivation (chance \(String(format: "%.3f", Double(layer.chance)))):")
            for e in layer.experts {
                let sources = e.sources.map { "\($0.originalExpert)×\(String(format: "%.2f", $0.weight))" }
                let extras = [e.quantization, e.rank.map { "rank \($0)" }].compactMap { $0 }
                print(
                    "    \(e.suspectExpert): \(e.kind.rawValue) of " + sources.joined(separator: " + ")
                        + " (score \(String(format: "%.3f", Double(e.score))), \(e.verdict.rawValue))"
                        + (extras.isEmpty ? "" : "; " + extras.joined(separator: ", ")))
            }
        }
        if let routing {
            print(
                "  routing fingerprint over \(routing.tokens) probe tokens: mean correlation "
                    + String(format: "%.3f", Double(routing.meanCorrelation)))
        }
    }

    /// An Encodable value as a JSON object, to combine several reports in one output.
    static func jsonObject<T: Encodable>(_ value: T) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any]) ?? [:]
    }
}
