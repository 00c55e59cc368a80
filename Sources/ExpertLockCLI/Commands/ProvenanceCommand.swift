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
            """)

    @Option(help: "The original model folder.", transform: ModelPath.folder)
    var original: String
    @Option(help: "The suspect model folder.", transform: ModelPath.folder)
    var suspect: String
    @Option(help: "Similarity at or above which an expert is derived.") var derived: Float = 0.5
    @Option(help: "Similarity below which experts are unrelated.") var unrelated: Float = 0.2
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            guard unrelated <= derived else { throw ArgumentInputError("--unrelated must not exceed --derived") }
            let a = try ModelLoader.load(directory: URL(fileURLWithPath: original), residency: .mapped)
            let b = try ModelLoader.load(directory: URL(fileURLWithPath: suspect), residency: .mapped)
            let report = try Provenance.compare(
                original: a, suspect: b, thresholds: Provenance.Thresholds(derived: derived, unrelated: unrelated))
            if output.json {
                try Console.printJSON(encodable: report)
                return
            }
            print("verdict: \(report.verdict.rawValue)")
            for layer in report.layers {
                let pairs = layer.matches.map {
                    "\($0.suspectExpert)←\($0.originalExpert) (\(String(format: "%.3f", Double($0.similarity))))"
                }
                print("  layer \(layer.layer): \(layer.verdict.rawValue); " + pairs.joined(separator: ", "))
            }
        }
    }
}
