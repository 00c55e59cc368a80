import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `expertlock forward`: one forward pass for inspection and parity checks.
struct ForwardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run one forward pass and print logits and router logits.",
        discussion: "With --json prints {\"logits\": [[...] per position], \"router_logits\": [[[...] per position] per MoE layer]}.")

    @Option(help: "Hugging Face model folder (config.json, *.safetensors).", transform: ModelPath.folder)
    var model: String
    @Option(help: "Token ids: a file holding a JSON array of integers or whitespace-separated integers.") var ids: String
    @Option(help: "Weights in memory: automatic (F32 resident, BF16/F16 mapped), resident or mapped.")
    var residency: WeightResidency = .automatic
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            let tokenIds = try TokenIdsFile.read(ids)
            let loaded = precision.apply(to: try ModelLoader.load(directory: URL(fileURLWithPath: model), residency: residency))
            let result = try loaded.forward(TokenBatch(tokenIds), recordRouterLogits: true)
            let logits = rowsAsArrays(result.logits.value)
            let router = result.routerLogits.map(rowsAsArrays)
            if output.json {
                try Console.printJSON(["logits": logits, "router_logits": router, "load_report": loaded.notes])
            } else {
                for note in loaded.notes { print("load: \(note)") }
                let top = logits.map { row in row.indices.max { row[$0] < row[$1] } ?? 0 }
                print("positions: \(tokenIds.count), vocabulary: \(loaded.config.vocabSize), MoE layers: \(router.count)")
                print("argmax next token per position: \(top)")
            }
        }
    }
}

/// Rows of a [rows, cols] tensor as nested arrays (for JSON).
func rowsAsArrays(_ t: Tensor) -> [[Double]] {
    let c = t.lastDim
    return (0..<t.rows).map { r in (0..<c).map { Double(t.data[r * c + $0]) } }
}
