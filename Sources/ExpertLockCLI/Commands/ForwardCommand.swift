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
            "router_layers" ("encoder.1", "decoder.1"); --generate N adds greedy decoding from --ids. \
            Decoder-only models: --generate N adds "generated" (up to N new tokens, greedy with the KV/state cache \
            as transformers' generate(do_sample=False), ending after an eos_token_id of generation_config.json, \
            else config.json), "generated_logits" (the logits row that chose each token) and "stop_reason".
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var tokenIds: TokenIdsOption
    @Option(help: "Encoder-decoder models: the decoder's token ids (same formats as --ids).")
    var decoderIds: String?
    @Option(help: "Also decode greedily up to N new tokens from --ids (\"generated\").")
    var generate: Int?
    @OptionGroup var output: OutputOptions

    /// --ids (required here: `validate()` refuses a run without it).
    var ids: String { tokenIds.ids ?? "" }

    func validate() throws {
        if tokenIds.ids == nil { throw ValidationError("Missing expected argument '--ids <ids>'") }
    }

    var model: String { modelOptions.model }
    var residency: WeightResidency { modelOptions.residency }

    func run() async throws {
        try await runReportingErrors {
            let tokenIds = try TokenIdsFile.read(ids)
            if let generate, generate < 1 { throw ArgumentInputError("--generate must be at least 1, got \(generate)") }
            if SwitchTransformersModel.isSwitchCheckpoint(URL(fileURLWithPath: model)) {
                try runEncoderDecoder(encoderIds: tokenIds)
                return
            }
            if decoderIds != nil {
                throw ArgumentInputError("--decoder-ids needs an encoder-decoder model (\(model) is not)")
            }
            let loaded = try modelOptions.load()
            let result = try loaded.forward(TokenBatch(tokenIds), recordRouterLogits: true)
            let logits = rowsAsArrays(result.logits.value)
            let router = result.routerLogits.map(rowsAsArrays)
            var object: [String: Any] = ["logits": logits, "router_logits": router, "load_report": loaded.notes]
            if let generate { object.merge(try greedy(loaded, prompt: tokenIds, maxNewTokens: generate)) { $1 } }
            if output.json {
                try Console.printJSON(object)
            } else {
                for note in loaded.notes { print("load: \(note)") }
                let top = logits.map { row in row.indices.max { row[$0] < row[$1] } ?? 0 }
                print(
                    "positions: \(tokenIds.count), vocabulary: \(loaded.config.vocabSize), MoE layers: \(router.count)")
                print("argmax next token per position: \(top)")
                if let generated = object["generated"] { print("generated: \(generated)") }
            }
        }
    }
}

extension ForwardCommand {
    /// Greedy decoding after `prompt` with the cache, ending where transformers' `generate` would.
    func greedy(_ loaded: MoEModel, prompt: [Int], maxNewTokens: Int) throws -> [String: Any] {
        let stop = try Generator.stopTokens(modelDirectory: URL(fileURLWithPath: model), config: loaded.config)
        let decoded = try Generator.greedy(model: loaded, prompt: prompt, maxNewTokens: maxNewTokens, stopTokens: stop)
        return [
            "generated": decoded.tokens, "generated_logits": decoded.logits.map { $0.map(Double.init) },
            "stop_reason": decoded.stopReason.rawValue,
        ]
    }

    /// The encoder on `encoderIds`, the decoder on --decoder-ids (required unless only --generate is asked).
    func runEncoderDecoder(encoderIds: [Int]) throws {
        let loaded = try SwitchTransformersModel.load(directory: URL(fileURLWithPath: model), residency: residency)
        guard decoderIds != nil || generate != nil else {
            throw ArgumentInputError("\(model): an encoder-decoder model needs --decoder-ids (or --generate N)")
        }
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
