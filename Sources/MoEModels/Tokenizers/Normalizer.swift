import Foundation

/// The `normalizer` stage of tokenizer.json, applied to each stretch of text between added tokens.
/// Cases are spelled like the library's `type` strings.
indirect enum Normalizer {
    case Sequence([Normalizer])
    case NFC
    case NFD
    case NFKC
    case NFKD
    case Lowercase
    /// Prepends the text to a non-empty input (Llama 2's "▁").
    case Prepend([Unicode.Scalar])
    /// Replaces every match of the pattern.
    case Replace(SplitPattern, [Unicode.Scalar])
    /// Removes leading and/or trailing whitespace.
    case Strip(left: Bool, right: Bool)
    /// Removes combining marks (usually after NFD).
    case StripAccents
    /// Maps each UTF-8 byte to its byte-level scalar.
    case ByteLevel

    static func parse(_ field: JSONField) throws -> Normalizer {
        let type = try field.typeName()
        switch type {
        case "Sequence":
            return .Sequence(try field.required("normalizers").asArray().map(parse))
        case "NFC": return .NFC
        case "NFD": return .NFD
        case "NFKC": return .NFKC
        case "NFKD": return .NFKD
        case "Lowercase": return .Lowercase
        case "Prepend": return .Prepend(Array(try field.string("prepend").unicodeScalars))
        case "Replace":
            return .Replace(
                try SplitPattern.parse(try field.required("pattern")), Array(try field.string("content").unicodeScalars))
        case "Strip":
            return .Strip(
                left: try field.bool("strip_left", default: true), right: try field.bool("strip_right", default: true))
        case "StripAccents": return .StripAccents
        case "ByteLevel": return .ByteLevel
        default:
            throw field.unknownType(type, stage: "normalizer")
        }
    }

    func normalize(_ text: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        switch self {
        case .Sequence(let stages):
            return stages.reduce(text) { $1.normalize($0) }
        case .NFC:
            // Text below U+0300 has nothing to compose: skip Foundation for it.
            return text.allSatisfy({ $0.value < 0x300 }) ? text : Self.unicodeNormalized(text) { $0.precomposedStringWithCanonicalMapping }
        case .NFD:
            return text.allSatisfy({ $0.value < 0xC0 }) ? text : Self.unicodeNormalized(text) { $0.decomposedStringWithCanonicalMapping }
        case .NFKC:
            return text.allSatisfy({ $0.value < 0xA0 })
                ? text : Self.unicodeNormalized(text) { $0.precomposedStringWithCompatibilityMapping }
        case .NFKD:
            return text.allSatisfy({ $0.value < 0xA0 })
                ? text : Self.unicodeNormalized(text) { $0.decomposedStringWithCompatibilityMapping }
        case .Lowercase:
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(text.count)
            for s in text {
                if s.value < 0x80 {
                    out.append((0x41...0x5A).contains(s.value) ? Unicode.Scalar(s.value + 0x20)! : s)
                } else {
                    // Rust's char::to_lowercase: the full, context-free mapping (İ -> i̇).
                    out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
                }
            }
            return out[...]
        case .Prepend(let prefix):
            return text.isEmpty ? text : (prefix + text)[...]
        case .Replace(let pattern, let content):
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(text.count)
            text.withUnsafeBufferPointer { buffer in
                pattern.forEachPiece(in: buffer) { range, isMatch in
                    if isMatch { out.append(contentsOf: content) } else { out.append(contentsOf: buffer[range]) }
                }
            }
            return out[...]
        case .Strip(let left, let right):
            var lower = text.startIndex
            var upper = text.endIndex
            if left { while lower < upper, UnicodeClasses.isWhitespace(text[lower]) { lower += 1 } }
            if right { while upper > lower, UnicodeClasses.isWhitespace(text[upper - 1]) { upper -= 1 } }
            return text[lower..<upper]
        case .StripAccents:
            return text.filter { s in
                switch s.properties.generalCategory {
                case .nonspacingMark, .spacingMark, .enclosingMark: return false
                default: return true
                }
            }[...]
        case .ByteLevel:
            return ByteLevelAlphabet.encode(text)[...]
        }
    }

    private static func unicodeNormalized(
        _ text: ArraySlice<Unicode.Scalar>, _ transform: (String) -> String
    ) -> ArraySlice<Unicode.Scalar> {
        var string = ""
        string.unicodeScalars.append(contentsOf: text)
        return Array(transform(string).unicodeScalars)[...]
    }
}
