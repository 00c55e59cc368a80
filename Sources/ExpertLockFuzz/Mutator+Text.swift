/// Mutations that know text formats: numbers rewritten to the values that break size arithmetic,
/// JSON values swapped for values of another type or from another document, TSV fields and lines.
extension Mutator {
    /// Integers (and a few non-integers) at the edges of Int32, Int64, UInt64 and plausible sizes.
    static let interestingNumbers: [String] = [
        "0", "-0", "1", "-1", "2", "7", "8", "255", "256", "65535", "65536", "100000001",
        "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295", "4294967296",
        "1000000", "1000000000000", "4000000000000", "4611686018427387904", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
        "18446744073709551616", "99999999999999999999999999999", "0.5", "1.0", "1e3", "1E400", "-1e400",
        "1e-400", "4e12", "NaN", "Infinity", "-Infinity", "0x10", "01", "+1", "1_000", "1.",
    ]

    /// JSON values of every type, including hostile sizes and nesting.
    mutating func interestingJSONValue() -> [UInt8] {
        switch below(12) {
        case 0: return Array(repeating: UInt8(ascii: "["), count: smallLength(limit: 100_000))  // unbalanced
        case 1:
            let depth = smallLength(limit: 50_000)
            return Array(repeating: UInt8(ascii: "["), count: depth) + Array(repeating: UInt8(ascii: "]"), count: depth)
        case 2:
            let depth = smallLength(limit: 20_000)
            return Array(String(repeating: "{\"a\":", count: depth).utf8) + [UInt8(ascii: "1")]
                + Array(repeating: UInt8(ascii: "}"), count: depth)
        case 3: return Array(("\"" + String(repeating: "a", count: smallLength(limit: 100_000)) + "\"").utf8)
        case 4:
            return Array(
                ("[" + Array(repeating: "0", count: smallLength(limit: 20_000)).joined(separator: ",") + "]").utf8)
        case 5: return Array(pick(Self.interestingNumbers).utf8)
        case 6: return Array("[\(pick(Self.interestingNumbers)),\(pick(Self.interestingNumbers))]".utf8)
        default:
            return Array(
                pick([
                    "null", "true", "false", "\"\"", "[]", "{}", "\"x\"", "[0]", "[-1]", "[[]]", "{\"\":0}", "[null]",
                    "\"\\ud800\"", "\"\\u0000\"", "\"\\udc00\\ud800\"", "\"\u{FEFF}\"", "\"\\\"\"", "[\"a\",1]",
                    "{\"a\":[]}",
                ]).utf8)
        }
    }

    // MARK: - Numbers

    /// Replaces one number in the text with an interesting one, or nudges it by one, doubles it
    /// or negates it; inserts one when there is none.
    mutating func replaceNumber(_ bytes: inout [UInt8]) {
        let spans = Self.numberSpans(bytes)
        guard !spans.isEmpty else {
            bytes.insert(contentsOf: Array(pick(Self.interestingNumbers).utf8), at: position(in: bytes))
            return
        }
        let span = pick(spans)
        var replacement = pick(Self.interestingNumbers)
        if below(3) == 0, let value = Int(String(decoding: bytes[span], as: UTF8.self)) {
            switch below(4) {
            case 0: replacement = String(value &+ 1)
            case 1: replacement = String(value &- 1)
            case 2: replacement = String(value &* 2)
            default: replacement = String(0 &- value)
            }
        }
        bytes.replaceSubrange(span, with: Array(replacement.utf8))
    }

    /// Maximal runs of `0-9 . - + e E` holding a digit and not inside a word.
    static func numberSpans(_ bytes: [UInt8]) -> [Range<Int>] {
        func isNumberByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "+")
                || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
        }
        func isWordByte(_ b: UInt8) -> Bool {
            (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: "_")
        }
        var spans: [Range<Int>] = []
        var i = 0
        while i < bytes.count {
            guard isNumberByte(bytes[i]), i == 0 || !isWordByte(bytes[i - 1]) else { i += 1; continue }
            var j = i
            var hasDigit = false
            while j < bytes.count, isNumberByte(bytes[j]) {
                if bytes[j] >= 0x30 && bytes[j] <= 0x39 { hasDigit = true }
                j += 1
            }
            if hasDigit && (j == bytes.count || !isWordByte(bytes[j])) { spans.append(i..<j) }
            i = j
        }
        return spans
    }

    // MARK: - JSON values

    /// Replaces one JSON value (or object key) with a value of another type, a hostile value, a
    /// value taken from `partner`, or a list repeating it.
    mutating func replaceJSONValue(_ bytes: inout [UInt8], _ partner: [UInt8]) {
        let spans = Self.valueSpans(bytes)
        guard !spans.isEmpty else { insertToken(&bytes); return }
        let span = pick(spans)
        let replacement: [UInt8]
        switch below(8) {
        case 0, 1, 2: replacement = interestingJSONValue()
        case 3, 4:
            let others = Self.valueSpans(partner)
            replacement = others.isEmpty ? interestingJSONValue() : Array(partner[pick(others)])
        case 5:
            let value = Array(bytes[span])
            replacement = [UInt8(ascii: "[")] + value + [UInt8(ascii: ",")] + value + [UInt8(ascii: "]")]
        default:
            let strings = dictionary.filter { $0.first == UInt8(ascii: "\"") }
            replacement = strings.isEmpty ? interestingJSONValue() : pick(strings)
        }
        bytes.replaceSubrange(span, with: replacement)
    }

    /// Where values and keys start and end: after `:` `[` `,` `{` or at the start (whitespace
    /// skipped), to the end of the string, the matching bracket, or the end of the scalar.
    static func valueSpans(_ bytes: [UInt8]) -> [Range<Int>] {
        var spans: [Range<Int>] = []
        var previous: UInt8 = UInt8(ascii: ":")  // the document itself is a value
        var i = 0
        var inString = false
        var escaped = false
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
                i += 1
                continue
            }
            let isSpace = b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D
            if !isSpace {
                if previous == UInt8(ascii: ":") || previous == UInt8(ascii: "[") || previous == UInt8(ascii: ",")
                    || previous == UInt8(ascii: "{"), spans.count < 4096
                {
                    let end = valueEnd(bytes, from: i)
                    if end > i { spans.append(i..<end) }
                }
                if b == UInt8(ascii: "\"") { inString = true }
                previous = b
            }
            i += 1
        }
        return spans
    }

    static func valueEnd(_ bytes: [UInt8], from start: Int) -> Int {
        let first = bytes[start]
        if first == UInt8(ascii: "\"") || first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            var depth = 0
            var inString = false
            var escaped = false
            var i = start
            while i < bytes.count {
                let b = bytes[i]
                if inString {
                    if escaped {
                        escaped = false
                    } else if b == UInt8(ascii: "\\") {
                        escaped = true
                    } else if b == UInt8(ascii: "\"") {
                        inString = false
                        if depth == 0 { return i + 1 }
                    }
                } else if b == UInt8(ascii: "\"") {
                    inString = true
                } else if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                    depth += 1
                } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    depth -= 1
                    if depth <= 0 { return i + 1 }
                }
                i += 1
            }
            return bytes.count
        }
        var i = start
        let stops: Set<UInt8> = [
            UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ":"),
        ]
        while i < bytes.count, !stops.contains(bytes[i]) { i += 1 }
        return i
    }

    // MARK: - Lines and fields

    /// TSV and text: replaces a line with one from `partner`, deletes it, or rewrites one of its
    /// tab-separated fields (empty, a dictionary word, a number), or adds or removes a tab.
    mutating func replaceLineOrField(_ bytes: inout [UInt8], _ partner: [UInt8]) {
        let newline = UInt8(ascii: "\n"), tab = UInt8(ascii: "\t")
        var lines = bytes.split(separator: newline, omittingEmptySubsequences: false).map(Array.init)
        let l = below(lines.count)
        switch below(6) {
        case 0:
            let others = partner.split(separator: newline, omittingEmptySubsequences: false)
            if !others.isEmpty { lines[l] = Array(pick(others)) }
        case 1:
            lines.remove(at: l)
        case 2:
            lines[l].insert(tab, at: below(lines[l].count + 1))
        case 3:
            if let t = lines[l].firstIndex(of: tab) { lines[l].remove(at: t) }
        default:
            var fields = lines[l].split(separator: tab, omittingEmptySubsequences: false).map(Array.init)
            let f = below(fields.count)
            switch below(3) {
            case 0: fields[f] = []
            case 1: fields[f] = dictionary.isEmpty ? [] : pick(dictionary)
            default: fields[f] = Array(pick(Self.interestingNumbers).utf8)
            }
            lines[l] = Array(fields.joined(separator: [tab]))
        }
        bytes = Array(lines.joined(separator: [newline]))
    }

    // MARK: - Dictionary

    /// 32-bit words that steer binary formats (SentencePiece's double-array units: leaf flag, the
    /// offset-shift flag, labels, sizes).
    static let binaryWords: [UInt32] = [
        0, 1, 4, 0xFF, 0x100, 0x200, 0x400, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FC00,
        0x0000_0461, 0x0000_0561, 0x0001_0000 | 0x100,
    ]

    /// Overwrites four bytes at a multiple of four with a word of `binaryWords` (or a random one).
    mutating func setWord(_ bytes: inout [UInt8]) {
        guard bytes.count >= 4 else { return insertRandomBytes(&bytes) }
        let at = below(bytes.count / 4) * 4
        let word = below(4) == 0 ? UInt32(truncatingIfNeeded: rng.next()) : pick(Self.binaryWords)
        for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: word >> (8 * UInt32(k))) }
    }

    static func dictionary(for grammar: InputGrammar, corpus: [[UInt8]]) -> [[UInt8]] {
        var tokens: Set<[UInt8]> = [
            Array("\n".utf8), Array("\r\n".utf8), Array("\r".utf8), Array("\t".utf8), Array(" ".utf8),
            [0xEF, 0xBB, 0xBF], [0xFF], [0xC3], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x00],
            Array("\u{2028}".utf8), Array("e\u{301}".utf8), Array("\u{1F600}".utf8), Array("\u{202E}".utf8),
        ]
        let json = [
            "{", "}", "[", "]", ":", ",", "\"", "null", "true", "false", "\\u0000", "\\ud800", "\\", "1e400", "-0",
            "NaN", "{}", "[]",
        ]
        switch grammar {
        case .json, .jsonLines, .safetensors:
            json.forEach { tokens.insert(Array($0.utf8)) }
        case .tsv:
            ["sentence", "label", "sentence1", "sentence2", "gold_label", "question", "index", "idx", "\t\t"].forEach {
                tokens.insert(Array($0.utf8))
            }
        case .text:
            ["= Title =", "= = Section = =", "=", "==", " = = = ", "\n\n"].forEach { tokens.insert(Array($0.utf8)) }
        case .binary:
            for word in binaryWords { tokens.insert(withUnsafeBytes(of: word.littleEndian, Array.init)) }
        }
        for entry in corpus {
            if grammar == .tsv || grammar == .text {
                for word in entry.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D })
                where word.count <= 32 {
                    tokens.insert(Array(word))
                }
            } else {
                var i = 0
                while i < entry.count {
                    if entry[i] == UInt8(ascii: "\"") {
                        let end = valueEnd(entry, from: i)
                        if end - i <= 64 { tokens.insert(Array(entry[i..<end])) }
                        i = max(end, i + 1)
                    } else {
                        i += 1
                    }
                }
            }
        }
        return Array(tokens.sorted { $0.lexicographicallyPrecedes($1) }.prefix(2048))
    }
}
