import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `expertlock trace`: routes requests through a model and writes the routing traces a serving
/// engine would return, so `attribute --traces` and `monitor` can be tried and tested without
/// one (docs/TRACES.md).
struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Write the routing traces a serving engine would return for a file of requests.",
        discussion: """
            --requests: JSON Lines, one request per line: {"text": ...} or {"ids": [...]}, optional "client" \
            and "id". Each is tokenized with the model's tokenizer, cut to --context tokens and run as a \
            prompt (no completion). Output, one response per line: --format vllm writes \
            {"id", "client", "prompt_token_ids", "prompt_routed_experts": [[[expert × top_k] × layers] × \
            tokens], "choices": []}; --format sglang writes {"client", "meta_info": {"id", \
            "prompt_tokens", "routed_experts": base64 of int32 [tokens, layers, top_k]}}.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case vllm, sglang }

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Requests, JSON Lines.") var requests: String
    @Option(help: "vllm or sglang.") var format: Format = .vllm
    @OptionGroup var longContext: ContextOptions
    @OptionGroup var forwardBatch: ForwardBatchOption
    @OptionGroup var outputFile: OutputFileOptions

    var model: String { modelOptions.model }
    var batch: Int { forwardBatch.batch ?? 8 }
    /// The JSON Lines file the traces go to (required here: tracing is for its file).
    var out: String { outputFile.out ?? "" }

    func validate() throws {
        if outputFile.out == nil { throw ValidationError("Missing expected argument '--out <out>'") }
    }

    func run() async throws {
        try await runReportingErrors {
            let context = try longContext.resolved(default: 256, model: model)
            let destination = try ResumableOutput(
                out, layout: .atOnce(), inputs: [model, requests], resume: false, overwrite: outputFile.overwrite)
            let loaded = try modelOptions.load()
            let parsed = try readRequests(context: context, tokenizer: { try modelOptions.tokenizer() })
            let recorder = RoutingRecorder(model: loaded)
            var lines: [String] = []
            let progress = ProgressLine("trace")
            var tokens: Int64 = 0
            for start in stride(from: 0, to: parsed.count, by: batch) {
                let group = Array(parsed[start..<min(start + batch, parsed.count)])
                let tokenBatch = TokenBatch(padding: group.map(\.ids), pad: 0)
                recorder.reset(batch: tokenBatch)
                _ = try loaded.finalHiddenStates(tokenBatch, observer: recorder)
                for (b, request) in group.enumerated() {
                    lines.append(try line(request, experts: recorder.experts(sequence: b, length: request.ids.count)))
                }
                tokens += Int64(group.reduce(0) { $0 + $1.ids.count })
                progress.update(done: min(start + batch, parsed.count), total: parsed.count, tokens: tokens)
            }
            try destination.writeFile(Data((lines.joined(separator: "\n") + "\n").utf8))
            Console.progress("wrote \(parsed.count) traces to \(out)")
        }
    }

    struct Request {
        var id: String
        var client: String?
        var ids: [Int]
    }

    func readRequests(context: Int, tokenizer: () throws -> Tokenizer) throws -> [Request] {
        guard let data = FileManager.default.contents(atPath: requests) else {
            throw ArgumentInputError("\(requests): cannot read the file")
        }
        var lazyTokenizer: Tokenizer?
        var out: [Request] = []
        for (n, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw ArgumentInputError("\(requests): line \(n + 1) is not a JSON object")
            }
            var ids: [Int]
            if let given = object["ids"] as? [NSNumber] {
                ids = given.map(\.intValue)
            } else if let text = object["text"] as? String {
                if lazyTokenizer == nil { lazyTokenizer = try tokenizer() }
                ids = lazyTokenizer!.encode(text)
            } else {
                throw ArgumentInputError("\(requests): line \(n + 1) has neither \"text\" nor \"ids\"")
            }
            ids = Array(ids.prefix(context))
            guard !ids.isEmpty else { continue }
            out.append(
                Request(id: object["id"] as? String ?? "req-\(n + 1)", client: object["client"] as? String, ids: ids))
        }
        guard !out.isEmpty else { throw ArgumentInputError("\(requests): no requests") }
        return out
    }

    /// One response line in the engine's form; `experts` is [T, L, K].
    func line(_ request: Request, experts: [[[Int]]]) throws -> String {
        var object: [String: Any]
        switch format {
        case .vllm:
            object = [
                "id": request.id, "prompt_token_ids": request.ids, "prompt_routed_experts": experts, "choices": [],
            ]
        case .sglang:
            var raw = Data()
            for token in experts {
                for layer in token {
                    for e in layer { withUnsafeBytes(of: Int32(e).littleEndian) { raw.append(contentsOf: $0) } }
                }
            }
            object = [
                "meta_info": [
                    "id": request.id, "prompt_tokens": request.ids.count, "routed_experts": raw.base64EncodedString(),
                ]
            ]
        }
        if let client = request.client { object["client"] = client }
        return String(
            decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}

/// Keeps the experts every token of a batch chose in every sparse layer.
final class RoutingRecorder: RoutingObserver {
    private let position: [Int: Int]
    private var chosen: [[Int]] = []  // [L][rows * K]
    private var topK = 0
    private var seq = 0

    init(model: MoEModel) {
        position = Dictionary(uniqueKeysWithValues: model.moeBlocks.map(\.layer).enumerated().map { ($1, $0) })
    }

    func reset(batch: TokenBatch) {
        chosen = Array(repeating: [], count: position.count)
        seq = batch.seq
    }

    func observeRouting(layer: Int, probabilities: Tensor, experts: [Int], weights: Tensor, batch: TokenBatch) {
        guard let l = position[layer] else { return }
        topK = weights.lastDim
        chosen[l] = experts
    }

    func observeExpertOutput(
        layer: Int, expert: Int, rows: [Int], slots: [Int], outputNorms: [Float], batch: TokenBatch
    ) {}

    /// [T, L, K] of sequence `b` of the batch (its first `length` tokens; row = b · seq + t).
    func experts(sequence b: Int, length: Int) -> [[[Int]]] {
        (0..<length).map { t in
            let start = (b * seq + t) * topK
            return chosen.map { Array($0[start..<(start + topK)]) }
        }
    }
}
