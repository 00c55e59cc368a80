/// SentencePiece's normalization rules as T5, mT5, XLM-R and other converted SentencePiece models
/// ship them: the `precompiled_charsmap` of a `Precompiled` normalizer, run as the library's
/// `normalizers::precompiled` (with the `spm_precompiled` crate) runs it.
///
/// The charsmap is base64 of `[u32 trie size in bytes][trie: u32 units][normalized strings]`, all
/// little-endian. The trie is a Darts double array over UTF-8 bytes; a leaf's value is a byte offset
/// into the normalized strings, each ending at a NUL byte.
///
/// The library's rule, kept as is ("Yes, this seems broken"): the text is cut into extended grapheme
/// clusters; a cluster shorter than 6 UTF-8 bytes whose bytes start with a key is replaced, whole,
/// by the string of the *shortest* such key; any other cluster is mapped scalar by scalar (each
/// scalar replaced by the string of its shortest matching key, or kept). So "\r\n" becomes what
/// "\r" maps to. Clusters are Swift `Character`s, which follow the same Unicode rules as the
/// `unicode-segmentation` crate the library uses.
///
/// Where a malformed trie sends the library out of bounds (a panic), the key is taken as absent.
struct PrecompiledCharsmap: Sendable {
    private let units: [UInt32]
    /// Valid UTF-8 (checked on load, as the library does).
    private let normalized: [UInt8]
    /// The replacement of each ASCII scalar on its own (nil: kept), the common case of a cluster.
    private let asciiReplacements: [[Unicode.Scalar]?]
    /// Whether "\r\n", the one ASCII cluster of two scalars, starts with a key.
    private let crlfHasKey: Bool

    init(_ field: JSONField) throws {
        let charsmap = try field.required("precompiled_charsmap")
        guard let bytes = Base64.decodeStrict(try charsmap.asString()) else {
            throw charsmap.invalid("padded standard base64")
        }
        guard bytes.count >= 4 else { throw charsmap.invalid("a charsmap (4-byte trie size, trie, strings)") }
        let trieBytes = Int(Self.littleEndianUInt32(bytes, at: 0))
        // The size is in bytes; the library reads size / 4 units and leaves any remainder to the strings.
        let unitCount = trieBytes / 4
        guard unitCount <= (bytes.count - 4) / 4 else {
            throw charsmap.invalid("a charsmap whose trie (\(trieBytes) bytes) fits in its \(bytes.count) bytes")
        }
        let trie = (0..<unitCount).map { Self.littleEndianUInt32(bytes, at: 4 + 4 * $0) }
        let strings = Array(bytes[(4 + 4 * unitCount)...])
        guard String(validating: strings, as: UTF8.self) != nil else {
            throw charsmap.invalid("a charsmap whose normalized strings are UTF-8")
        }
        units = trie
        normalized = strings
        asciiReplacements = (0..<128).map { Self.transform([UInt8($0)], trie, strings) }
        crlfHasKey = Self.transform([13, 10], trie, strings) != nil
    }

    private static func littleEndianUInt32(_ bytes: [UInt8], at i: Int) -> UInt32 {
        UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
    }

    func normalize(_ text: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        // Pure-ASCII text that no rule touches comes back as is.
        if text.allSatisfy({ $0.isASCII && asciiReplacements[Int($0.value)] == nil })
            && !(crlfHasKey && zip(text, text.dropFirst()).contains { $0 == "\r" && $1 == "\n" })
        {
            return text
        }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        let string = String(String.UnicodeScalarView(text))
        for cluster in string {
            let scalars = cluster.unicodeScalars
            if scalars.count == 1, let s = scalars.first, s.isASCII {
                if let replacement = asciiReplacements[Int(s.value)] {
                    out += replacement
                } else {
                    out.append(s)
                }
                continue
            }
            let bytes = Array(cluster.utf8)
            if bytes.count < 6, let replacement = transform(bytes) {
                out += replacement
                continue
            }
            for s in scalars {
                if let replacement = transform(Array(UTF8.encode(s)!)) {
                    out += replacement
                } else {
                    out.append(s)
                }
            }
        }
        return out[...]
    }

    /// The string of the shortest key that `key` starts with, nil when none does.
    func transform(_ key: [UInt8]) -> [Unicode.Scalar]? { Self.transform(key, units, normalized) }

    private static func transform(_ key: [UInt8], _ units: [UInt32], _ normalized: [UInt8]) -> [Unicode.Scalar]? {
        guard let offset = firstPrefixValue(key, units) else { return nil }
        // The library slices the strings from `offset` to the next NUL (or the end); an offset past
        // the end or inside a character would panic there.
        guard offset <= normalized.count else { return nil }
        var end = offset
        while end < normalized.count, normalized[end] != 0 { end += 1 }
        guard let text = String(validating: normalized[offset..<end], as: UTF8.self) else { return nil }
        return Array(text.unicodeScalars)
    }

    /// Darts' `commonPrefixSearch`, stopped at the first (shortest) match; a NUL byte ends the key.
    private static func firstPrefixValue(_ key: [UInt8], _ units: [UInt32]) -> Int? {
        guard !units.isEmpty else { return nil }
        var position = offset(units[0])
        for byte in key {
            if byte == 0 { return nil }
            position ^= Int(byte)
            guard position < units.count else { return nil }
            let unit = units[position]
            guard label(unit) == UInt32(byte) else { return nil }
            position ^= offset(unit)
            if hasLeaf(unit) {
                guard position < units.count else { return nil }
                return Int(units[position] & 0x7FFF_FFFF)
            }
        }
        return nil
    }

    private static func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
    private static func label(_ unit: UInt32) -> UInt32 { unit & (1 << 31 | 0xFF) }
    private static func offset(_ unit: UInt32) -> Int { Int(unit >> 10) << Int((unit & (1 << 9)) >> 6) }
}

/// RFC 4648 base64 as the `base64` crate's `STANDARD` engine decodes it: standard alphabet, padding
/// required and canonical, no whitespace, no set bits after the last byte.
enum Base64 {
    private static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(c)] = Int8(i)
        }
        return table
    }()

    static func decodeStrict(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var padding = 0
        while padding < 2, padding < input.count, input[input.count - 1 - padding] == UInt8(ascii: "=") {
            padding += 1
        }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var accumulator: UInt32 = 0
        var bits = 0
        for c in input[..<(input.count - padding)] {
            let v = values[Int(c)]
            guard v >= 0 else { return nil }
            accumulator = accumulator << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // Two or four bits left over must be zero; a lone sixth of a byte is no encoding at all.
        guard bits != 6, accumulator == 0 else { return nil }
        return out
    }
}
