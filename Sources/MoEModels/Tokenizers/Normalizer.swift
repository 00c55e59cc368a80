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
    /// SentencePiece's compiled normalization rules (T5, mT5, XLM-R): see `PrecompiledCharsmap`.
    case Precompiled(PrecompiledCharsmap)

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
                try SplitPattern.parse(try field.required("pattern")), Array(try field.string("content").unicodeScalars)
            )
        case "Strip":
            return .Strip(
                left: try field.bool("strip_left", default: true), right: try field.bool("strip_right", default: true))
        case "StripAccents": return .StripAccents
        case "ByteLevel": return .ByteLevel
        case "Precompiled": return .Precompiled(try PrecompiledCharsmap(field))
        default:
            throw field.unknownType(type, stage: "normalizer")
        }
    }

    func normalize(_ text: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        switch self {
        case .Sequence(let stages):
            return stages.reduce(text) { $1.normalize($0) }
        case .NFC:
            return Self.unicodeNormalized(text, below: 0x300) { $0.precomposedStringWithCanonicalMapping }
        case .NFD:
            return Self.unicodeNormalized(text, below: 0xC0) { $0.decomposedStringWithCanonicalMapping }
        case .NFKC:
            // NFKC is NFKD then canonical composition. Spelled so because Foundation's own NFKC on
            // Linux leaves half-width voiced marks uncomposed ("ｷﾞ" gives キ + U+3099, not ギ).
            return Self.unicodeNormalized(text, below: 0xA0) {
                $0.decomposedStringWithCompatibilityMapping.precomposedStringWithCanonicalMapping
            }
        case .NFKD:
            return Self.unicodeNormalized(text, below: 0xA0) { $0.decomposedStringWithCompatibilityMapping }
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
        case .Precompiled(let charsmap):
            return charsmap.normalize(text)
        }
    }

    /// Applies a Unicode normalization form only where it can change something.
    ///
    /// Every scalar below `stable` is a starter that the form leaves alone and that never composes
    /// with what precedes it, so the text can be cut before any such scalar and each part normalized
    /// on its own. Only the parts holding a scalar at or above `stable` (plus the starter before
    /// them, which may compose with them) go through Foundation: mostly-ASCII text stays cheap.
    private static func unicodeNormalized(
        _ text: ArraySlice<Unicode.Scalar>, below stable: UInt32, _ transform: (String) -> String
    ) -> ArraySlice<Unicode.Scalar> {
        var out: [Unicode.Scalar] = []
        var copied = text.startIndex  // text before this index is already in `out`
        var i = text.startIndex
        while i < text.endIndex {
            if text[i].value < stable {
                i += 1
                continue
            }
            let start = i > copied ? i - 1 : i
            var end = i + 1
            while end < text.endIndex, text[end].value >= stable { end += 1 }
            if out.isEmpty { out.reserveCapacity(text.count + 16) }
            out.append(contentsOf: text[copied..<start])
            var part = ""
            part.unicodeScalars.append(contentsOf: text[start..<end])
            out.append(contentsOf: transform(part).unicodeScalars)
            copied = end
            i = end
        }
        if copied == text.startIndex { return text }
        out.append(contentsOf: text[copied...])
        return out[...]
    }
}
