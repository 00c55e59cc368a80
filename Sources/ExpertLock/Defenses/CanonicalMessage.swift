import Foundation

/// The exact bytes a manifest or a log entry is signed over.
///
/// Signatures are not computed over JSON text: two JSON encoders (or two platforms' Foundation)
/// may order keys, escape slashes or print numbers differently, and a signature over one spelling
/// would fail on another. Instead every signed field is appended here in a fixed order, each as an
/// 8-byte little-endian length followed by its UTF-8 bytes, after a domain string that keeps a
/// manifest signature from ever verifying as a log-entry signature. The encoding is unambiguous
/// (no field can absorb its neighbour) and independent of how the JSON file is formatted.
struct CanonicalMessage {
    private(set) var bytes = Data()

    init(domain: String) { append(domain) }

    mutating func append(_ text: String) {
        let utf8 = Array(text.utf8)
        appendLength(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    mutating func append(_ value: Int) { append(String(value)) }

    mutating func append(_ values: [Int]) {
        appendLength(values.count)
        for v in values { append(v) }
    }

    mutating func append(_ values: [String]) {
        appendLength(values.count)
        for v in values { append(v) }
    }

    mutating func append(_ record: TensorRecord) {
        append(record.name)
        append(record.dtype)
        append(record.shape)
        append(record.sha256)
        append(record.rowSHA256 ?? [])
    }

    private mutating func appendLength(_ n: Int) {
        var length = UInt64(n).littleEndian
        withUnsafeBytes(of: &length) { bytes.append(contentsOf: $0) }
    }
}
