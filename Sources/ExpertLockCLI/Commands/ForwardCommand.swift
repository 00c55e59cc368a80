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
        discussion: """
            With --json prints {"logits": [[...] per position], "router_logits": [[[...] per position] per MoE \
            layer]}. \
            Encoder-decoder models (switch_transformers) run the encoder on --ids and the decoder on --decoder-ids; \
            "logits" are the decoder's, "router_logits" every sparse layer's (encoder first), named in \
            "router_layers" ("encoder.1", "decoder.1"); --generate N adds greedy decoding from --ids.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Token ids: a file holding a JSON array of integers or whitespace-separated integers.") var ids: String
    @Option(help: "Encoder-decoder models: the decoder's token ids (same formats as --ids).")
    var decoderIds: String?
    @Option(help: "Encoder-decoder models: also decode greedily up to N new tokens from --ids (\"generated\").")
    var generate: Int?
    @OptionGroup var output: OutputOptions

    var model: String { modelOptions.model }
    var residency: WeightResidency { modelOptions.residency }

    func run() async throws {
        try await runReportingErrors {
            let tokenIds = try TokenIdsFile.read(ids)
            if SwitchTransformersModel.isSwitchCheckpoint(URL(fileURLWithPath: model)) {
                try runEncoderDecoder(encoderIds: tokenIds)
                return
            }
            if decoderIds != nil || generate != nil {
                throw ArgumentInputError("--decoder-ids and --generate need an encoder-decoder model (\(model) is not)")
            }
            let loaded = try modelOptions.load()
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

extension ForwardCommand {
    /// The encoder on `encoderIds`, the decoder on --decoder-ids (required unless only --generate is asked).
    func runEncoderDecoder(encoderIds: [Int]) throws {
        let loaded = try SwitchTransformersModel.load(directory: URL(fileURLWithPath: model), residency: residency)
        guard decoderIds != nil || generate != nil else {
            throw ArgumentInputError("\(model): an encoder-decoder model needs --decoder-ids (or --generate N)")
        }
        if let generate, generate < 1 { throw ArgumentInputError("--generate must be at least 1, got \(generate)") }
        var object: [String: Any] = ["router_layers": loaded.config.sparseLayers.map(\.description)]
        if let decoderIds {
            let decoder = try TokenIdsFile.read(decoderIds)
            guard !encoderIds.isEmpty, !decoder.isEmpty else {
                throw ArgumentInputError("--ids and --decoder-ids must not be empty")
            }
            let out = try loaded.forward(encoderIds: [encoderIds], decoderIds: [decoder], recordRouterLogits: true)
            object["logits"] = rowsAsArrays(out.logits.value)
            object["router_logits"] = out.routerLogits.map(rowsAsArrays)
            object["encoder_hidden"] = rowsAsArrays(out.encoderHidden.value)
        }
        if let generate {
            object["generated"] = try Seq2SeqGenerator.greedy(loaded, encoderIds: encoderIds, maxNewTokens: generate)
        }
        if output.json {
            try Console.printJSON(object)
        } else {
            if let logits = object["logits"] as? [[Double]] {
                let top = logits.map { row in row.indices.max { row[$0] < row[$1] } ?? 0 }
                print("decoder positions: \(logits.count), sparse layers: \(loaded.config.sparseLayers.count)")
                print("argmax next token per decoder position: \(top)")
            }
            if let generated = object["generated"] as? [Int] { print("generated: \(generated)") }
        }
    }
}

/// Rows of a [rows, cols] tensor as nested arrays (for JSON).
func rowsAsArrays(_ t: Tensor) -> [[Double]] {
    let c = t.lastDim
    return (0..<t.rows).map { r in (0..<c).map { Double(t.data[r * c + $0]) } }
}
