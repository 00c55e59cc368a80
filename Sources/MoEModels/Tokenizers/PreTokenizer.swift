/// A stretch of text on its way through the pipeline.
struct TextPiece {
    var scalars: ArraySlice<Unicode.Scalar>
    /// Whether the piece begins at offset 0 of the original input (Metaspace's `"first"` scheme
    /// prepends "▁" only there, so text right after a leading special token gets none).
    var atStart: Bool
}

/// What a split keeps of the matches (`SplitDelimiterBehavior`).
enum SplitBehavior: String {
    case Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous

    static func parse(_ field: JSONField?, default fallback: SplitBehavior) throws -> SplitBehavior {
        guard let field else { return fallback }
        // The Python bindings spell them snake_case; files always hold the PascalCase names.
        let name = try field.asString()
        let pascal = name.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        guard let behavior = SplitBehavior(rawValue: name) ?? SplitBehavior(rawValue: pascal) else {
            throw field.invalid("one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous")
        }
        return behavior
    }

}

/// `NormalizedString::split` as a stream: fed the flagged pieces of a pattern in order, it emits the
/// ranges to keep under a behavior, holding back at most one range.
struct SplitAccumulator {
    let behavior: SplitBehavior
    private var pending: Range<Int>?
    private var previousMatch = false

    init(_ behavior: SplitBehavior) { self.behavior = behavior }

    mutating func add(_ range: Range<Int>, isMatch: Bool, _ emit: (Range<Int>) -> Void) {
        switch behavior {
        case .Isolated:
            emit(range)
        case .Removed:
            if !isMatch { emit(range) }
        case .Contiguous, .MergedWithPrevious:
            let merge = behavior == .Contiguous ? isMatch == previousMatch : (isMatch && !previousMatch)
            if merge, let held = pending {
                pending = held.lowerBound..<range.upperBound
            } else {
                if let held = pending { emit(held) }
                pending = range
            }
            previousMatch = isMatch
        case .MergedWithNext:
            // A match joins the non-match right after it.
            if isMatch {
                if let held = pending { emit(held) }
                pending = range
            } else if let held = pending {
                emit(held.lowerBound..<range.upperBound)
                pending = nil
            } else {
                emit(range)
            }
        }
    }

    mutating func finish(_ emit: (Range<Int>) -> Void) {
        if let held = pending { emit(held) }
        pending = nil
    }
}

/// Where a pre-tokenizer cuts.
enum Splitter {
    /// A tokenizer.json pattern (flags flipped when `invert`).
    case pattern(SplitPattern, invert: Bool)
    /// Every scalar satisfying the predicate is a match of its own (the library's `Fn(char) -> bool`).
    case scalars((Unicode.Scalar) -> Bool)
    /// `\w+|[^\w\s]+` inverted, so that `Removed` keeps the words (the Whitespace pre-tokenizer,
    /// which runs the regex crate, whose \w includes the zero-width joiners).
    case words

    func forEachPiece(in buffer: UnsafeBufferPointer<Unicode.Scalar>, _ body: (Range<Int>, Bool) -> Void) {
        switch self {
        case .pattern(let pattern, let invert):
            pattern.forEachPiece(in: buffer, invert: invert, body)
        case .scalars(let predicate):
            if buffer.isEmpty { return body(0..<0, false) }
            var last = 0
            for i in 0..<buffer.count where predicate(buffer[i]) {
                if last < i { body(last..<i, false) }
                body(i..<i + 1, true)
                last = i + 1
            }
            if last < buffer.count { body(last..<buffer.count, false) }
        case .words:
            var p = 0
            let n = buffer.count
            while p < n {
                if UnicodeClasses.isWhitespace(buffer[p]) {
                    var q = p + 1
                    while q < n, UnicodeClasses.isWhitespace(buffer[q]) { q += 1 }
                    body(p..<q, true)
                    p = q
                    continue
                }
                let word = UnicodeClasses.isRustRegexWord(buffer[p])
                var q = p + 1
                while q < n, UnicodeClasses.isRustRegexWord(buffer[q]) == word,
                    word || !UnicodeClasses.isWhitespace(buffer[q])
                {
                    q += 1
                }
                body(p..<q, false)
                p = q
            }
        }
    }
}

/// Metaspace's rule for adding "▁" in front of a piece.
enum PrependScheme: String {
    case always, never, first
}

/// The `pre_tokenizer` stage of tokenizer.json: cuts normalized text into words for the model.
/// Cases are spelled like the library's `type` strings.
indirect enum PreTokenizer {
    case Sequence([PreTokenizer])
    /// GPT-2: optional prefix space, optional split with the GPT-2 regex, then bytes to scalars.
    case ByteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// SentencePiece: spaces become "▁", "▁" prepended per the scheme, optional split before each "▁".
    case Metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    case Split(pattern: SplitPattern, behavior: SplitBehavior, invert: Bool)
    /// `\w+|[^\w\s]+` (Oniguruma classes).
    case Whitespace
    case WhitespaceSplit
    case Digits(individualDigits: Bool)
    case Punctuation(behavior: SplitBehavior)
    case CharDelimiterSplit(Unicode.Scalar)
    case BertPreTokenizer

    static func parse(_ field: JSONField) throws -> PreTokenizer {
        let type = try field.typeName()
        switch type {
        case "Sequence":
            return .Sequence(try field.required("pretokenizers").asArray().map(parse))
        case "ByteLevel":
            return .ByteLevel(
                addPrefixSpace: try field.bool("add_prefix_space", default: true),
                useRegex: try field.bool("use_regex", default: true))
        case "Metaspace":
            return .Metaspace(
                replacement: try parseReplacement(field), prependScheme: try parsePrependScheme(field),
                split: try field.bool("split", default: true))
        case "Split":
            return .Split(
                pattern: try SplitPattern.parse(try field.required("pattern")),
                behavior: try SplitBehavior.parse(try field.required("behavior"), default: .Isolated),
                invert: try field.bool("invert", default: false))
        case "Whitespace": return .Whitespace
        case "WhitespaceSplit": return .WhitespaceSplit
        case "Digits": return .Digits(individualDigits: try field.bool("individual_digits", default: false))
        case "Punctuation":
            return .Punctuation(behavior: try SplitBehavior.parse(field.child("behavior"), default: .Isolated))
        case "CharDelimiterSplit":
            let delimiter = try field.required("delimiter")
            guard let scalar = singleScalar(try delimiter.asString()) else { throw delimiter.invalid("one character") }
            return .CharDelimiterSplit(scalar)
        case "BertPreTokenizer": return .BertPreTokenizer
        default:
            throw field.unknownType(type, stage: "pre_tokenizer")
        }
    }

    static func parseReplacement(_ field: JSONField) throws -> Unicode.Scalar {
        guard let replacement = field.child("replacement") else { return "\u{2581}" }
        guard let scalar = singleScalar(try replacement.asString()) else { throw replacement.invalid("one character") }
        return scalar
    }

    static func parsePrependScheme(_ field: JSONField) throws -> PrependScheme {
        if let scheme = field.child("prepend_scheme") {
            guard let value = PrependScheme(rawValue: try scheme.asString()) else {
                throw scheme.invalid("one of first, always, never")
            }
            return value
        }
        // Files written before prepend_scheme existed say add_prefix_space.
        return try field.bool("add_prefix_space", default: true) ? .always : .never
    }

    private static func singleScalar(_ s: String) -> Unicode.Scalar? {
        var it = s.unicodeScalars.makeIterator()
        guard let first = it.next(), it.next() == nil else { return nil }
        return first
    }

    /// Calls `emit` with each non-empty word of `piece`, in order.
    func preTokenize(_ piece: TextPiece, _ emit: (TextPiece) -> Void) {
        switch self {
        case .Sequence(let stages):
            Self.run(stages[...], piece, emit)
        case .ByteLevel(let addPrefixSpace, let useRegex):
            var text = piece.scalars
            if addPrefixSpace, text.first != " " { text = ([" "] + text)[...] }
            if useRegex {
                text.withUnsafeBufferPointer { buffer in
                    PatternRegex.gpt2.forEachMatch(in: buffer) { range in
                        emit(
                            TextPiece(
                                scalars: ByteLevelAlphabet.encode(
                                    text[text.startIndex + range.lowerBound..<text.startIndex + range.upperBound])[...],
                                atStart: piece.atStart && range.lowerBound == 0))
                    }
                }
            } else if !text.isEmpty {
                emit(TextPiece(scalars: ByteLevelAlphabet.encode(text)[...], atStart: piece.atStart))
            }
        case .Metaspace(let replacement, let scheme, let split):
            var text = piece.scalars.map { $0 == " " ? replacement : $0 }
            let prepend: Bool
            switch scheme {
            case .always: prepend = true
            case .first: prepend = piece.atStart
            case .never: prepend = false
            }
            if prepend, text.first != replacement { text.insert(replacement, at: 0) }
            let words = TextPiece(scalars: text[...], atStart: piece.atStart)
            if split {
                Self.split(words, .MergedWithNext, .scalars({ $0 == replacement }), emit)
            } else if !text.isEmpty {
                emit(words)
            }
        case .Split(let pattern, let behavior, let invert):
            Self.split(piece, behavior, .pattern(pattern, invert: invert), emit)
        case .Whitespace:
            Self.split(piece, .Removed, .words, emit)
        case .WhitespaceSplit:
            Self.split(piece, .Removed, .scalars(UnicodeClasses.isWhitespace), emit)
        case .Digits(let individual):
            Self.split(piece, individual ? .Isolated : .Contiguous, .scalars(UnicodeClasses.isNumber), emit)
        case .Punctuation(let behavior):
            Self.split(piece, behavior, .scalars(UnicodeClasses.isPunctuation), emit)
        case .CharDelimiterSplit(let delimiter):
            Self.split(piece, .Removed, .scalars({ $0 == delimiter }), emit)
        case .BertPreTokenizer:
            Self.split(piece, .Removed, .scalars(UnicodeClasses.isWhitespace)) { word in
                Self.split(word, .Isolated, .scalars(UnicodeClasses.isPunctuation), emit)
            }
        }
    }

    private static func run(_ stages: ArraySlice<PreTokenizer>, _ piece: TextPiece, _ emit: (TextPiece) -> Void) {
        guard let first = stages.first else { return emit(piece) }
        first.preTokenize(piece) { run(stages.dropFirst(), $0, emit) }
    }

    /// Splits `piece` where `splitter` cuts, keeping what `behavior` keeps; drops empty words.
    private static func split(
        _ piece: TextPiece, _ behavior: SplitBehavior, _ splitter: Splitter, _ emit: (TextPiece) -> Void
    ) {
        let base = piece.scalars.startIndex
        func word(_ range: Range<Int>) {
            guard !range.isEmpty else { return }
            emit(
                TextPiece(
                    scalars: piece.scalars[base + range.lowerBound..<base + range.upperBound],
                    atStart: piece.atStart && range.lowerBound == 0))
        }
        piece.scalars.withUnsafeBufferPointer { buffer in
            var accumulator = SplitAccumulator(behavior)
            splitter.forEachPiece(in: buffer) { range, isMatch in accumulator.add(range, isMatch: isMatch, word) }
            accumulator.finish(word)
        }
    }
}
