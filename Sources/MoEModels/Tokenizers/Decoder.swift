/// The `decoder` stage of tokenizer.json: turns token strings back into text. Each stage maps the
/// list of token strings to a new list (`decode_chain`); the result is their concatenation. Cases are
/// spelled like the library's `type` strings.
indirect enum Decoder {
    case Sequence([Decoder])
    /// Byte-level scalars back to bytes, then UTF-8 with U+FFFD for invalid sequences.
    case ByteLevel
    /// Runs of `<0xXX>` tokens back to the text they encode (one U+FFFD per byte if invalid UTF-8).
    case ByteFallback
    /// All tokens into one.
    case Fuse
    /// Removes up to `start` leading and `stop` trailing `content` scalars from each token.
    case Strip(content: Unicode.Scalar, start: Int, stop: Int)
    case Replace(SplitPattern, [Unicode.Scalar])
    /// "▁" back to spaces; the first token loses its "▁"s unless the scheme is `never`.
    case Metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)
    /// BERT: glue `##` continuations, a space before other tokens, optional cleanup of " ." and co.
    case WordPiece(prefix: [Unicode.Scalar], cleanup: Bool)
    /// Replaces the end-of-word suffix by a space (none after the last token).
    case BPEDecoder(suffix: [Unicode.Scalar])

    typealias Token = [Unicode.Scalar]

    static func parse(_ field: JSONField) throws -> Decoder {
        let type = try field.typeName()
        switch type {
        case "Sequence":
            return .Sequence(try field.required("decoders").asArray().map(parse))
        case "ByteLevel": return .ByteLevel
        case "ByteFallback": return .ByteFallback
        case "Fuse": return .Fuse
        case "Strip":
            let content = try field.required("content")
            let scalars = Array(try content.asString().unicodeScalars)
            guard scalars.count == 1 else { throw content.invalid("one character") }
            return .Strip(
                content: scalars[0], start: try field.int("start", default: 0), stop: try field.int("stop", default: 0))
        case "Replace":
            return .Replace(
                try SplitPattern.parse(try field.required("pattern")), Array(try field.string("content").unicodeScalars)
            )
        case "Metaspace":
            return .Metaspace(
                replacement: try PreTokenizer.parseReplacement(field),
                prependScheme: try PreTokenizer.parsePrependScheme(field))
        case "WordPiece":
            return .WordPiece(
                prefix: Array((try field.optionalString("prefix") ?? "##").unicodeScalars),
                cleanup: try field.bool("cleanup", default: true))
        case "BPEDecoder":
            return .BPEDecoder(suffix: Array((try field.optionalString("suffix") ?? "</w>").unicodeScalars))
        default:
            throw field.unknownType(type, stage: "decoder")
        }
    }

    func decode(_ tokens: [Token]) -> String {
        var text = ""
        for token in decodeChain(tokens) { text.unicodeScalars.append(contentsOf: token) }
        return text
    }

    func decodeChain(_ tokens: [Token]) -> [Token] {
        switch self {
        case .Sequence(let stages):
            return stages.reduce(tokens) { $1.decodeChain($0) }
        case .ByteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                let mapped = token.compactMap { ByteLevelAlphabet.byteForScalar[$0.value] }
                // A token with any scalar outside the alphabet (an added token) goes through as UTF-8.
                if mapped.count == token.count {
                    bytes += mapped
                } else {
                    for s in token { bytes += s.utf8 }
                }
            }
            return [Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)]
        case .ByteFallback:
            var out: [Token] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let text = String(validating: pending, as: UTF8.self) {
                    out.append(Array(text.unicodeScalars))
                } else {
                    out += repeatElement(["\u{FFFD}"], count: pending.count)
                }
                pending.removeAll()
            }
            for token in tokens {
                if let byte = Self.fallbackByte(token) {
                    pending.append(byte)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        case .Fuse:
            return [tokens.flatMap { $0 }]
        case .Strip(let content, let start, let stop):
            return tokens.map { token in
                var lower = 0
                while lower < min(start, token.count), token[lower] == content { lower += 1 }
                var upper = token.count
                var removed = 0
                while removed < stop, upper > 0, token[upper - 1] == content {
                    upper -= 1
                    removed += 1
                }
                return lower < upper ? Array(token[lower..<upper]) : []
            }
        case .Replace(let pattern, let content):
            return tokens.map { token in
                Array(Normalizer.Replace(pattern, content).normalize(token[...]))
            }
        case .Metaspace(let replacement, let scheme):
            return tokens.enumerated().map { i, token in
                token.compactMap { s in
                    guard s == replacement else { return s }
                    return i == 0 && scheme != .never ? nil : " "
                }
            }
        case .WordPiece(let prefix, let cleanup):
            return tokens.enumerated().map { i, token in
                var t = token
                if i != 0 {
                    if t.starts(with: prefix) { t.removeFirst(prefix.count) } else { t.insert(" ", at: 0) }
                }
                return cleanup ? Self.wordPieceCleanup(t) : t
            }
        case .BPEDecoder(let suffix):
            return tokens.enumerated().map { i, token in
                let replacement: Token = i == tokens.count - 1 ? [] : [" "]
                return Array(Normalizer.Replace(.string(suffix), replacement).normalize(token[...]))
            }
        }
    }

    /// The byte of a `<0xXX>` token.
    private static func fallbackByte(_ token: Token) -> UInt8? {
        guard token.count == 6, token[0] == "<", token[1] == "0", token[2] == "x", token[5] == ">" else { return nil }
        var text = ""
        text.unicodeScalars.append(contentsOf: token[3...4])
        return UInt8(text, radix: 16)
    }

    /// The library's `decoders::wordpiece::cleanup`.
    private static func wordPieceCleanup(_ token: Token) -> Token {
        var text = ""
        text.unicodeScalars.append(contentsOf: token)
        let replacements = [
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
            (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ]
        var scalars = Array(text.unicodeScalars)
        for (from, to) in replacements {
            scalars = Array(
                Normalizer.Replace(.string(Array(from.unicodeScalars)), Array(to.unicodeScalars)).normalize(
                    scalars[...]))
        }
        return scalars
    }
}
