import ArgumentParser
import Foundation
import MoEModels
import TensorCore

/// `expertlock forward`: one forward pass for inspection and parity checks.
struct ForwardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run one forward pass and print logits and router logits.",
        discussion: "With --json prints {\"logits\": [[...] per position], \"router_logits\": [[[...] per position] per MoE layer]}.")

    @Option(help: "Hugging Face model folder (config.json, *.safetensors).") var model: String
    @Option(help: "Token ids: a file holding a JSON array of integers or whitespace-separated integers.") var ids: String
    @Option(help: "Weights in memory: automatic (F32 resident, BF16/F16 mapped), resident or mapped.")
    var residency: WeightResidency = .automatic
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            let tokenIds = try TokenIdsFile.read(ids)
            let loaded = try ModelLoader.load(directory: URL(fileURLWithPath: model), residency: residency)
            let result = try loaded.forward(TokenBatch(tokenIds), recordRouterLogits: true)
            let logits = rowsAsArrays(result.logits.value)
            let router = result.routerLogits.map(rowsAsArrays)
            if output.json {
                try Console.printJSON(["logits": logits, "router_logits": router])
            } else {
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

/// Reads token ids from a file: a JSON array of integers or whitespace-separated integers.
enum TokenIdsFile {
    static func read(_ path: String) throws -> [Int] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ArgumentInputError("\(path): cannot read the ids file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ArgumentInputError("\(path): ids file is not UTF-8 text")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("[") {
            guard let array = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [Any] else {
                throw ArgumentInputError("\(path): not a JSON array of integers")
            }
            return try array.enumerated().map { i, v in
                guard let n = v as? NSNumber, let id = Int(exactly: n.doubleValue) else {
                    throw ArgumentInputError("\(path): element \(i) is not an integer")
                }
                return id
            }
        }
        let fields = trimmed.split(whereSeparator: { $0.isWhitespace })
        return try fields.enumerated().map { i, f in
            guard let id = Int(f) else { throw ArgumentInputError("\(path): token \(i + 1) '\(f)' is not an integer") }
            return id
        }
    }
}
