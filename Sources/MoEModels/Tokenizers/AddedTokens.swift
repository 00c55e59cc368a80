/// One entry of `added_tokens`: text cut out of the input before normalization and
/// pre-tokenization and mapped straight to its id.
struct AddedToken {
    let content: [Unicode.Scalar]
    let id: Int
    /// Only matches when not glued to word characters on either side.
    let singleWord: Bool
    /// Swallows the whitespace on its left / right.
    let lstrip: Bool
    let rstrip: Bool
    /// Matched against normalized text (content normalized too) rather than the raw input.
    let normalized: Bool
    /// Dropped by `decode(skipSpecialTokens: true)`.
    let special: Bool

    static func parse(_ field: JSONField, model: Vocabulary) throws -> AddedToken {
        let content = try field.string("content")
        let special = try field.bool("special", default: false)
        // The library gives a token the model already knows the model's id.
        let id = try model.id(content) ?? field.required("id").asInt()
        return AddedToken(
            content: Array(content.unicodeScalars), id: id,
            singleWord: try field.bool("single_word", default: false),
            lstrip: try field.bool("lstrip", default: false), rstrip: try field.bool("rstrip", default: false),
            normalized: try field.bool("normalized", default: !special), special: special)
    }
}

/// The added tokens and how they are found, as the library's `AddedVocabulary`: first the
/// non-normalized tokens are cut out of the raw text; each remaining stretch is normalized and the
/// normalized tokens are cut out of it.
struct AddedVocabulary {
    /// Special tokens first, then the others, each in file order (the order the library tries them).
    let tokens: [AddedToken]
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    let idByContent: [ScalarKey: Int]
    /// The text each added id decodes from: its content, normalized when the token is `normalized`.
    let spellingById: [Int: String]
    /// Spellings dropped by `skipSpecialTokens`.
    let specialSpellings: Set<ScalarKey>

    init(_ list: [AddedToken], normalizer: Normalizer?) {
        let ordered =
            list.filter { $0.special && !$0.content.isEmpty } + list.filter { !$0.special && !$0.content.isEmpty }
        tokens = ordered
        rawMatcher = AddedTokenMatcher(
            ordered.enumerated().filter { !$0.element.normalized }.map { ($0.element.content, $0.offset) })
        // A normalized token is matched, and decoded, in its normalized spelling ("▁xyz" after
        // Llama 2's Prepend), so that the decoder undoes the normalizer as for any other token.
        func spelling(_ token: AddedToken) -> [Unicode.Scalar] {
            guard token.normalized, let normalizer else { return token.content }
            return Array(normalizer.normalize(token.content[...]))
        }
        normalizedMatcher = AddedTokenMatcher(
            ordered.enumerated().filter { $0.element.normalized }.map { (spelling($0.element), $0.offset) })
        var idByContent: [ScalarKey: Int] = [:]
        var spellingById: [Int: String] = [:]
        var specialSpellings: Set<ScalarKey> = []
        for token in list {
            idByContent[ScalarKey(token.content[...])] = token.id
            spellingById[token.id] = String(String.UnicodeScalarView(spelling(token)))
            if token.special {
                specialSpellings.insert(ScalarKey(token.content[...]))
                specialSpellings.insert(ScalarKey(spelling(token)[...]))
            }
        }
        self.idByContent = idByContent
        self.spellingById = spellingById
        self.specialSpellings = specialSpellings
    }

    enum Segment {
        case text(TextPiece)
        case token(Int)
    }

    /// Step 1: cut the non-normalized tokens out of raw text.
    func splitRaw(_ piece: TextPiece, _ emit: (Segment) -> Void) { split(piece, rawMatcher, emit) }

    /// Step 2: cut the normalized tokens out of normalized text.
    func splitNormalized(_ piece: TextPiece, _ emit: (Segment) -> Void) { split(piece, normalizedMatcher, emit) }

    /// The library's `find_matches` (with `single_word`, `lstrip`, `rstrip`); empty text pieces dropped.
    private func split(_ piece: TextPiece, _ matcher: AddedTokenMatcher, _ emit: (Segment) -> Void) {
        if piece.scalars.isEmpty { return }
        if matcher.isEmpty { return emit(.text(piece)) }
        let base = piece.scalars.startIndex
        func text(_ range: Range<Int>) -> Segment {
            .text(
                TextPiece(
                    scalars: piece.scalars[base + range.lowerBound..<base + range.upperBound],
                    atStart: piece.atStart && range.lowerBound == 0))
        }
        piece.scalars.withUnsafeBufferPointer { buffer in
            var startOffset = 0
            matcher.forEachMatch(in: buffer) { range, index in
                let token = tokens[index]
                var start = range.lowerBound
                var stop = range.upperBound
                if token.singleWord {
                    // The regex crate's \w decides what a word character is.
                    let startsClear = start == 0 || !UnicodeClasses.isRustRegexWord(buffer[start - 1])
                    let stopsClear = stop == buffer.count || !UnicodeClasses.isRustRegexWord(buffer[stop])
                    guard startsClear && stopsClear else { return }
                }
                if token.lstrip {
                    while start > 0, UnicodeClasses.isWhitespace(buffer[start - 1]) { start -= 1 }
                }
                start = max(start, startOffset)  // a previous token may already own those spaces
                if token.rstrip {
                    while stop < buffer.count, UnicodeClasses.isWhitespace(buffer[stop]) { stop += 1 }
                }
                if startOffset < start { emit(text(startOffset..<start)) }
                emit(.token(token.id))
                startOffset = stop
            }
            if startOffset < buffer.count { emit(text(startOffset..<buffer.count)) }
        }
    }
}

/// Finds added-token contents leftmost-longest and without overlap, like the library's
/// Aho-Corasick automaton (`MatchKind::LeftmostLongest`). Vocabularies hold at most a few hundred
/// added tokens, so candidates are looked up by first scalar.
struct AddedTokenMatcher {
    /// Per first scalar: (content, token index), longest first, ties in token order.
    private let candidates: [UInt32: [([Unicode.Scalar], Int)]]
    /// ASCII first scalars, checked without hashing (most text never starts a token).
    private let asciiStarts: [Bool]
    private let hasNonASCIIStarts: Bool

    init(_ patterns: [([Unicode.Scalar], Int)]) {
        var candidates: [UInt32: [([Unicode.Scalar], Int)]] = [:]
        for (content, index) in patterns where !content.isEmpty {
            candidates[content[0].value, default: []].append((content, index))
        }
        for key in candidates.keys {
            candidates[key] = candidates[key]!.enumerated()
                .sorted { ($0.element.0.count, -$0.offset) > ($1.element.0.count, -$1.offset) }
                .map(\.element)
        }
        self.candidates = candidates
        asciiStarts = (0..<128).map { candidates[UInt32($0)] != nil }
        hasNonASCIIStarts = candidates.keys.contains { $0 >= 128 }
    }

    var isEmpty: Bool { candidates.isEmpty }

    func forEachMatch(in text: UnsafeBufferPointer<Unicode.Scalar>, _ body: (Range<Int>, Int) -> Void) {
        var p = 0
        let n = text.count
        scan: while p < n {
            let v = text[p].value
            if v < 128 ? asciiStarts[Int(v)] : hasNonASCIIStarts, let list = candidates[v] {
                for (content, index) in list where content.count <= n - p {
                    var k = 1
                    while k < content.count, text[p + k] == content[k] { k += 1 }
                    if k == content.count {
                        body(p..<p + k, index)
                        p += k
                        continue scan
                    }
                }
            }
            p += 1
        }
    }
}
