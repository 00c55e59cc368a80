import Foundation

/// Decodes one routed-experts value, [T, L, K] expert ids, in each encoding engines use:
///
/// - nested JSON arrays `[[[e, …] × K] × L] × T` (vLLM's OpenAI server, `list[list[list[int]]]`);
/// - a base64 string of raw little-endian int32 (SGLang: "base64-encoded int32 expert IDs as a
///   flattened array with logical shape [num_tokens, num_layers, top_k]");
/// - a base64 string of a NumPy `.npy` file (some vLLM builds and RL frameworks ship the array so);
/// - an object `{"data": base64, "dtype": "int16"|"int32"|…, "shape": [T, L, K]}` (the compact
///   envelope of RL frameworks that relay vLLM's int16 array).
///
/// Every id is checked against the layer's expert count, and the shape against the model's
/// sparse layers and top-k: a trace of another model, or a truncated one, is refused.
enum RoutedExpertsArray {
    struct Failure: Error { var reason: String }

    /// Returns (tokens, [T, L, K] ids); nil or JSON null is no tokens.
    static func decode(_ value: Any?, shape: RoutingShape) throws -> (tokens: Int, ids: [Int32]) {
        guard let value, !(value is NSNull) else { return (0, []) }
        let ids: [Int32]
        let tokens: Int
        switch value {
        case let nested as [Any]:
            (tokens, ids) = try nestedArray(nested, shape: shape)
        case let text as String:
            (tokens, ids) = try base64(text, dtype: nil, declaredShape: nil, shape: shape)
        case let object as [String: Any]:
            guard let data = object["data"] as? String else { throw Failure(reason: "an object without base64 'data'") }
            let declared = (object["shape"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue }
            (tokens, ids) = try base64(data, dtype: object["dtype"] as? String, declaredShape: declared, shape: shape)
        default:
            throw Failure(
                reason: "routed experts are neither an array, a base64 string nor a {data, dtype, shape} object")
        }
        try checkRange(ids, shape: shape)
        return (tokens, ids)
    }

    private static func nestedArray(_ rows: [Any], shape: RoutingShape) throws -> (Int, [Int32]) {
        let l = shape.layers
        let k = shape.topK
        var ids: [Int32] = []
        ids.reserveCapacity(rows.count * l * k)
        for (t, row) in rows.enumerated() {
            guard let layers = row as? [Any] else { throw Failure(reason: "token \(t): not an array of layers") }
            guard layers.count == l else {
                throw Failure(reason: "token \(t): \(layers.count) layers where the model has \(l) sparse layers")
            }
            for layer in layers {
                guard let slots = layer as? [Any], slots.count == k else {
                    throw Failure(reason: "token \(t): not \(k) experts per layer (the model's top-k)")
                }
                for slot in slots {
                    guard let n = slot as? NSNumber, let id = Int32(exactly: n.doubleValue) else {
                        throw Failure(reason: "token \(t): an expert id that is not an integer")
                    }
                    ids.append(id)
                }
            }
        }
        return (rows.count, ids)
    }

    private static func base64(
        _ text: String, dtype: String?, declaredShape: [Int]?, shape: RoutingShape
    ) throws -> (Int, [Int32]) {
        guard let bytes = Data(base64Encoded: text) else {
            throw Failure(reason: "routed experts are not valid base64 (\(text.utf8.count) characters; truncated?)")
        }
        if bytes.starts(with: NumpyArray.magic) {
            let array = try NumpyArray.decode(bytes)
            return try reshaped(array.values, declared: array.shape, shape: shape)
        }
        let width: Int
        let signed: Bool
        switch dtype ?? "int32" {
        case "int32", "<i4", "i4": (width, signed) = (4, true)
        case "int16", "<i2", "i2": (width, signed) = (2, true)
        case "int64", "<i8", "i8": (width, signed) = (8, true)
        case "uint8", "|u1", "u1": (width, signed) = (1, false)
        case "int8", "|i1", "i1": (width, signed) = (1, true)
        case "uint16", "<u2", "u2": (width, signed) = (2, false)
        default: throw Failure(reason: "routed experts of dtype '\(dtype ?? "")' (expected an integer type)")
        }
        // A declared shape is checked first (it names what is wrong); raw bytes must hold whole tokens.
        let perToken = declaredShape == nil ? width * shape.layers * shape.topK : width
        guard perToken > 0, bytes.count % perToken == 0 else {
            throw Failure(
                reason: "\(bytes.count) bytes of routed experts is not a whole number of tokens "
                    + "(\(shape.layers) layers × top-\(shape.topK) × \(width)-byte ids; "
                    + "truncated, or another model?)")
        }
        let values = NumpyArray.integers(bytes, width: width, signed: signed)
        return try reshaped(values, declared: declaredShape, shape: shape)
    }

    private static func reshaped(_ values: [Int64], declared: [Int]?, shape: RoutingShape) throws -> (Int, [Int32]) {
        let l = shape.layers
        let k = shape.topK
        if let declared {
            guard declared.count == 3 else {
                throw Failure(reason: "routed experts of shape \(declared), not [T, L, K]")
            }
            guard declared[1] == l else {
                throw Failure(reason: "\(declared[1]) layers where the model has \(l) sparse layers")
            }
            guard declared[2] == k else { throw Failure(reason: "top-\(declared[2]) where the model routes top-\(k)") }
            let (claimed, overflow) = declared[0].multipliedReportingOverflow(by: l * k)
            guard declared[0] >= 0, !overflow, claimed == values.count else {
                throw Failure(reason: "shape \(declared) does not match \(values.count) ids (truncated?)")
            }
        }
        guard l * k > 0, values.count % (l * k) == 0 else {
            throw Failure(reason: "\(values.count) ids is not a whole number of tokens of \(l) layers × top-\(k)")
        }
        var ids: [Int32] = []
        ids.reserveCapacity(values.count)
        for v in values {
            guard let id = Int32(exactly: v) else { throw Failure(reason: "expert id \(v) out of range") }
            ids.append(id)
        }
        return (values.count / (l * k), ids)
    }

    private static func checkRange(_ ids: [Int32], shape: RoutingShape) throws {
        let l = shape.layers
        let k = shape.topK
        let counts = shape.signature.expertsPerLayer
        for (i, id) in ids.enumerated() {
            let layer = (i / k) % l
            if id < 0 || Int(id) >= counts[layer] {
                throw Failure(
                    reason: "token \(i / (l * k)): expert id \(id) out of range in sparse layer "
                        + "\(shape.signature.sparseLayers[layer]) (\(counts[layer]) experts)")
            }
        }
    }
}

/// The part of NumPy's `.npy` format (version 1.0–3.0) that integer arrays need.
enum NumpyArray {
    static let magic = Data([0x93]) + Data("NUMPY".utf8)

    static func decode(_ bytes: Data) throws -> (shape: [Int], values: [Int64]) {
        typealias Failure = RoutedExpertsArray.Failure
        let b = [UInt8](bytes)
        guard b.count >= 10, b.starts(with: magic) else { throw Failure(reason: "not a .npy array") }
        let major = b[6]
        let headerStart = major == 1 ? 10 : 12
        guard major >= 1, major <= 3, b.count >= headerStart else { throw Failure(reason: ".npy version \(major)") }
        let headerLength =
            major == 1
            ? Int(b[8]) | Int(b[9]) << 8
            : Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
        guard headerLength >= 0, headerStart + headerLength <= b.count else {
            throw Failure(reason: ".npy header truncated")
        }
        let header = String(decoding: b[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = quoted(after: "'descr':", in: header) else {
            throw Failure(reason: ".npy header without descr")
        }
        guard !header.contains("'fortran_order': True") else { throw Failure(reason: ".npy in Fortran order") }
        guard let open = header.range(of: "'shape': ("),
            let close = header[open.upperBound...].firstIndex(of: ")")
        else { throw Failure(reason: ".npy header without shape") }
        let shape = header[open.upperBound..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.compactMap { Int($0) }
        let (width, signed): (Int, Bool)
        switch descr {
        case "<i2": (width, signed) = (2, true)
        case "<i4": (width, signed) = (4, true)
        case "<i8": (width, signed) = (8, true)
        case "<u2": (width, signed) = (2, false)
        case "|u1": (width, signed) = (1, false)
        case "|i1": (width, signed) = (1, true)
        default: throw Failure(reason: ".npy dtype \(descr) (expected little-endian integers)")
        }
        let data = bytes.dropFirst(headerStart + headerLength)
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: max($1, 0)).partialValue }
        guard shape.allSatisfy({ $0 >= 0 }), count.multipliedReportingOverflow(by: width).partialValue == data.count
        else {
            throw Failure(reason: ".npy data of \(data.count) bytes does not fill shape \(shape) (truncated?)")
        }
        return (shape, integers(Data(data), width: width, signed: signed))
    }

    private static func quoted(after key: String, in header: String) -> String? {
        guard let range = header.range(of: key) else { return nil }
        let rest = header[range.upperBound...].drop { $0 == " " }
        guard let quote = rest.first, quote == "'" || quote == "\"" else { return nil }
        let body = rest.dropFirst()
        guard let end = body.firstIndex(of: quote) else { return nil }
        return String(body[..<end])
    }

    /// Little-endian integers of `width` bytes.
    static func integers(_ bytes: Data, width: Int, signed: Bool) -> [Int64] {
        let b = [UInt8](bytes)
        return stride(from: 0, to: b.count - width + 1, by: width).map { i in
            var u: UInt64 = 0
            for j in 0..<width { u |= UInt64(b[i + j]) << (8 * UInt64(j)) }
            if signed && width < 8 && u & (1 << (8 * UInt64(width) - 1)) != 0 { u |= ~0 << (8 * UInt64(width)) }
            return Int64(bitPattern: u)
        }
    }
}
