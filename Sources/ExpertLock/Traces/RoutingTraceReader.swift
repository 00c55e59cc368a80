import Foundation
import MoEModels
import TensorCore

/// Reads routing traces in the forms serving engines produce them (docs/TRACES.md):
///
/// - vLLM (`--enable-return-routed-experts`): a completion response whose top level holds
///   `prompt_routed_experts` [prompt_len, L, K] and whose `choices[i].routed_experts` hold the
///   generated tokens' [gen_len, L, K] (the last generated token is never run, so it has none);
/// - SGLang (`return_routed_experts`): `meta_info.routed_experts` of `/generate`, or
///   `choices[i].sgl_ext.routed_experts` of the OpenAI API, base64 of int32 [T, L, K] covering
///   the prompt and the completion;
/// - `.safetensors`: a dump of transformers' router logits (`scripts/traces/dump_router_logits.py`).
///
/// A JSON file holds one response or an array of them; a JSONL file one per line. A record may
/// wrap the response as `{"client": …, "response": {…}}`, or carry `client` (or OpenAI's `user`)
/// beside the engine's fields: `monitor` groups requests by it.
public enum RoutingTraceReader {
    /// Reads every request of a file.
    public static func read(_ url: URL, shape: RoutingShape) throws -> [RoutingTrace] {
        if url.pathExtension == "safetensors" { return try RouterLogitsDump.read(url, shape: shape) }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RoutingTraceError.unreadable(file: url.path, reason: "cannot read the file")
        }
        return try decode(data, file: url.path, shape: shape)
    }

    /// Parses JSON or JSON Lines held in memory; `file` is the name used in errors.
    public static func decode(_ data: Data, file: String, shape: RoutingShape) throws -> [RoutingTrace] {
        var records: [(label: String, object: [String: Any])] = []
        if let whole = try? JSONSerialization.jsonObject(with: data) {
            if let object = whole as? [String: Any] {
                records = [("record 1", object)]
            } else if let array = whole as? [Any] {
                for (i, item) in array.enumerated() {
                    guard let object = item as? [String: Any] else {
                        throw RoutingTraceError.unreadable(file: file, reason: "element \(i + 1) is not a JSON object")
                    }
                    records.append(("record \(i + 1)", object))
                }
            } else {
                throw RoutingTraceError.unreadable(file: file, reason: "neither a JSON object, an array nor JSON Lines")
            }
        } else {
            for (n, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                    throw RoutingTraceError.unreadable(file: file, reason: "line \(n + 1) is not a JSON object")
                }
                records.append(("line \(n + 1)", object))
            }
        }
        guard !records.isEmpty else { throw RoutingTraceError.unreadable(file: file, reason: "no records") }
        return try records.flatMap { try traces(in: $0.object, label: $0.label, file: file, shape: shape) }
    }

    /// The traces of one record (one per request; one per choice for SGLang's OpenAI API).
    static func traces(in record: [String: Any], label: String, file: String, shape: RoutingShape) throws
        -> [RoutingTrace]
    {
        let response = record["response"] as? [String: Any] ?? record
        let client = (record["client"] ?? record["user"] ?? response["user"]).flatMap(Self.text)
        let meta = response["meta_info"] as? [String: Any]
        let id = (response["id"] ?? meta?["id"] ?? record["request_id"]).flatMap(Self.text)
        // An id is the engine's, but a file can hold anything: one error line shows at most 80 characters of it.
        let request = id.map { "\($0.count > 80 ? $0.prefix(80) + "…" : $0) (\(label))" } ?? label
        func failure(_ reason: String) -> RoutingTraceError { .malformed(file: file, request: request, reason: reason) }
        func decode(_ value: Any?) throws -> (tokens: Int, ids: [Int32]) {
            do { return try RoutedExpertsArray.decode(value, shape: shape) } catch let f as RoutedExpertsArray.Failure {
                throw failure(f.reason)
            }
        }
        func trace(_ format: RoutingTraceFormat, _ parts: [(tokens: Int, ids: [Int32])], suffix: String = "")
            -> RoutingTrace
        {
            RoutingTrace(
                request: request + suffix, client: client, format: format, tokens: parts.reduce(0) { $0 + $1.tokens },
                layers: shape.layers, topK: shape.topK, experts: parts.flatMap(\.ids))
        }
        let choices = response["choices"] as? [[String: Any]] ?? []
        if let meta, meta.keys.contains("routed_experts") {
            guard !(meta["routed_experts"] is NSNull) else { throw failure(Self.disabled) }
            return [trace(.sglang, [try decode(meta["routed_experts"])])]
        }
        let sglangChoices = choices.compactMap { ($0["sgl_ext"] as? [String: Any]).map { $0["routed_experts"] } }
        if !sglangChoices.isEmpty {
            return try sglangChoices.enumerated().map { i, value in
                guard let value, !(value is NSNull) else { throw failure(Self.disabled) }
                return trace(.sglang, [try decode(value)], suffix: sglangChoices.count > 1 ? " choice \(i)" : "")
            }
        }
        let hasPrompt = response.keys.contains("prompt_routed_experts")
        let choiceValues: [Any?] = choices.filter { $0.keys.contains("routed_experts") }.map { $0["routed_experts"] }
        if hasPrompt || !choiceValues.isEmpty {
            let prompt = response["prompt_routed_experts"]
            let present = ([prompt] + choiceValues).contains { value in value.map { !($0 is NSNull) } ?? false }
            guard present else { throw failure(Self.disabled) }
            // The prompt is routed once, whatever the number of choices; each choice adds its own tokens.
            return [trace(.vllm, [try decode(prompt)] + (try choiceValues.map { try decode($0) }))]
        }
        throw failure(
            "no routed experts (vLLM: prompt_routed_experts, choices[].routed_experts; "
                + "SGLang: meta_info.routed_experts, choices[].sgl_ext.routed_experts)")
    }

    static let disabled =
        "routed experts are null (was the server started with --enable-return-routed-experts, "
        + "and for SGLang the request sent with return_routed_experts?)"

    private static func text(_ value: Any) -> String? {
        if let s = value as? String { return s }
        if let n = value as? NSNumber { return n.stringValue }
        return nil
    }
}

/// The safetensors dump `scripts/traces/dump_router_logits.py` writes: per request r and sparse
/// layer l, `request.{r}.layer.{l}.router_logits` F32 [T, E] (transformers' `router_logits`
/// with `output_router_logits=True`), and metadata `format = expertlock-router-logits-1`.
/// Which experts each token chose is the model's top-k of the logits (ties: the lower index).
public enum RouterLogitsDump {
    public static let format = "expertlock-router-logits-1"

    public static func read(_ url: URL, shape: RoutingShape) throws -> [RoutingTrace] {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: url, access: .read) } catch let error as InputError {
            throw RoutingTraceError.unreadable(file: url.path, reason: error.description)
        }
        guard file.metadata["format"] == format else {
            throw RoutingTraceError.unreadable(file: url.path, reason: "metadata 'format' is not \(format)")
        }
        var byRequest: [String: [Int: String]] = [:]
        for name in file.tensorNames {
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 5, parts[0] == "request", parts[2] == "layer", parts[4] == "router_logits",
                let l = Int(parts[3])
            else { continue }
            byRequest[String(parts[1]), default: [:]][l] = name
        }
        guard !byRequest.isEmpty else {
            throw RoutingTraceError.unreadable(file: url.path, reason: "no request.R.layer.L.router_logits tensors")
        }
        // Requests in numeric order where their names are numbers, so traces come out as written.
        let names = byRequest.keys.sorted { (Int($0) ?? .max, $0) < (Int($1) ?? .max, $1) }
        return try names.map { r in
            let layers = byRequest[r]!
            func failure(_ reason: String) -> RoutingTraceError {
                .malformed(file: url.path, request: r, reason: reason)
            }
            guard layers.count == shape.layers, layers.keys.sorted() == Array(0..<shape.layers) else {
                throw failure(
                    "router logits for \(layers.count) layers where the model has \(shape.layers) sparse layers")
            }
            var logits: [[Float]] = []
            var tokens: Int?
            for l in 0..<shape.layers {
                let name = layers[l]!
                let info = file.info(name)!
                let experts = shape.signature.expertsPerLayer[l]
                guard info.shape.count == 2, info.shape[1] == experts else {
                    throw failure("\(name) has shape \(info.shape), expected [tokens, \(experts)]")
                }
                guard tokens == nil || tokens == info.shape[0] else {
                    throw failure("\(name) has \(info.shape[0]) tokens where layer 0 has \(tokens!)")
                }
                tokens = info.shape[0]
                let values: [Float]
                guard info.dtype == .f32 || info.dtype == .f16 || info.dtype == .bf16 else {
                    throw failure("\(name) is \(info.dtype.rawValue), expected F32, F16 or BF16 logits")
                }
                do { values = try file.tensor(name).data } catch let error as InputError {
                    throw failure(error.description)
                }
                guard values.allSatisfy(\.isFinite) else { throw failure("\(name) holds non-finite logits") }
                logits.append(values)
            }
            let t = tokens ?? 0
            var ids = [Int32](repeating: 0, count: t * shape.layers * shape.topK)
            for l in 0..<shape.layers {
                let e = shape.signature.expertsPerLayer[l]
                for token in 0..<t {
                    let row = logits[l][(token * e)..<(token * e + e)]
                    let chosen = TopK.indices(row, k: shape.topK)
                    for (s, index) in chosen.enumerated() {
                        ids[(token * shape.layers + l) * shape.topK + s] = Int32(index)
                    }
                }
            }
            return RoutingTrace(
                request: r, client: nil, format: .routerLogits, tokens: t, layers: shape.layers,
                topK: shape.topK, experts: ids, logits: logits)
        }
    }
}

/// Top-k selection as routers make it: largest first, ties to the lower index.
enum TopK {
    static func indices(_ row: ArraySlice<Float>, k: Int) -> [Int] {
        let base = row.startIndex
        return row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(k).map { $0 - base }
    }
}
