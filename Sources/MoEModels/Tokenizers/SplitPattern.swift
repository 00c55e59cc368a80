import Foundation

/// What a `Split` pre-tokenizer or a `Replace` normalizer/decoder looks for: `{"String": ...}` or
/// `{"Regex": ...}` in tokenizer.json.
enum SplitPattern {
    case string([Unicode.Scalar])
    case regex(PatternRegex)

    static func parse(_ field: JSONField) throws -> SplitPattern {
        if let literal = field.child("String") {
            return .string(Array(try literal.asString().unicodeScalars))
        }
        if let regex = field.child("Regex") {
            return .regex(try PatternRegex(pattern: try regex.asString(), field: regex))
        }
        throw field.invalid("{\"String\": ...} or {\"Regex\": ...}")
    }

    /// Calls `body` with every match, left to right, never overlapping (offsets are scalar indices).
    func forEachMatch(in text: UnsafeBufferPointer<Unicode.Scalar>, _ body: (Range<Int>) -> Void) {
        switch self {
        case .string(let needle):
            // The library's &str pattern: no matches for an empty needle.
            guard let first = needle.first, needle.count <= text.count else { return }
            var i = 0
            let last = text.count - needle.count
            while i <= last {
                if text[i] == first, needle.indices.allSatisfy({ text[i + $0] == needle[$0] }) {
                    body(i..<i + needle.count)
                    i += needle.count
                } else {
                    i += 1
                }
            }
        case .regex(let regex):
            regex.forEachMatch(in: text, body)
        }
    }

    /// The library's `Pattern::find_matches`: consecutive pieces covering `text`, each flagged when
    /// it is a match (flags flipped when `invert`). An empty text is one empty non-match.
    func forEachPiece(
        in text: UnsafeBufferPointer<Unicode.Scalar>, invert: Bool = false, _ body: (Range<Int>, Bool) -> Void
    ) {
        if text.isEmpty {
            body(0..<0, invert)
            return
        }
        var previous = 0
        forEachMatch(in: text) { match in
            if previous != match.lowerBound { body(previous..<match.lowerBound, invert) }
            body(match, !invert)
            previous = match.upperBound
        }
        if previous != text.count { body(previous..<text.count, invert) }
    }
}

/// A regex of tokenizer.json. The library runs them with Oniguruma; the pre-tokenizer patterns of
/// GPT-2, Qwen2/3 and Llama 3 are matched here by hand, exactly as Oniguruma does (leftmost-first
/// alternation, greedy with backtracking) and fast. Any other pattern goes to NSRegularExpression
/// (ICU), which agrees on ordinary text but may classify rare characters differently.
enum PatternRegex {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,k}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// with k = 1 (Qwen2/3, spelled `\p{N}`) or 3 (Llama 3).
    case llama3(maxDigits: Int)
    case icu(ICURegex)

    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let qwenPattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"#
        + #"\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"#
        + #"\s*[\r\n]+|\s+(?!\S)|\s+"#

    init(pattern: String, field: JSONField) throws {
        // Compared by UTF-8 bytes: String == would treat canonically equivalent spellings as equal.
        if pattern.utf8.elementsEqual(Self.gpt2Pattern.utf8) {
            self = .gpt2
        } else if pattern.utf8.elementsEqual(Self.qwenPattern.utf8) {
            self = .llama3(maxDigits: 1)
        } else if pattern.utf8.elementsEqual(Self.llama3Pattern.utf8) {
            self = .llama3(maxDigits: 3)
        } else {
            do {
                self = .icu(ICURegex(try NSRegularExpression(pattern: pattern)))
            } catch {
                throw TokenizerError.invalidRegex(
                    file: field.file, field: field.path, pattern: pattern, reason: "\(error)")
            }
        }
    }

    func forEachMatch(in text: UnsafeBufferPointer<Unicode.Scalar>, _ body: (Range<Int>) -> Void) {
        switch self {
        case .gpt2:
            var p = 0
            while p < text.count {
                let end = Self.gpt2MatchEnd(text, p)
                body(p..<end)
                p = end
            }
        case .llama3(let maxDigits):
            var p = 0
            while p < text.count {
                let end = Self.llama3MatchEnd(text, p, maxDigits: maxDigits)
                body(p..<end)
                p = end
            }
        case .icu(let regex):
            regex.forEachMatch(in: text, body)
        }
    }

    // MARK: Hand-written matchers. Every position starts a match, so matches tile the text.

    @inline(__always)
    private static func runEnd(_ t: UnsafeBufferPointer<Unicode.Scalar>, from start: Int, _ kind: UnicodeClasses.Kind)
        -> Int
    {
        var q = start + 1
        while q < t.count, UnicodeClasses.kind(t[q]) == kind { q += 1 }
        return q
    }

    /// The end of `\s+(?!\S)|\s+` at `p`: a whitespace run keeps its last scalar for the next word
    /// unless the run ends the text or is a single scalar.
    @inline(__always)
    private static func whitespaceEnd(_ t: UnsafeBufferPointer<Unicode.Scalar>, _ p: Int, runEnd q: Int) -> Int {
        (q == t.count || q - p == 1) ? q : q - 1
    }

    static func gpt2MatchEnd(_ t: UnsafeBufferPointer<Unicode.Scalar>, _ p: Int) -> Int {
        let n = t.count
        let c = t[p]
        if c == "'", p + 1 < n {  // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
            switch t[p + 1] {
            case "s", "t", "m", "d": return p + 2
            case "r", "v": if p + 2 < n, t[p + 2] == "e" { return p + 3 }
            case "l": if p + 2 < n, t[p + 2] == "l" { return p + 3 }
            default: break
            }
        }
        // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+`: an optional space then a run of one class.
        if c == " ", p + 1 < n {
            let next = UnicodeClasses.kind(t[p + 1])
            if next != .whitespace { return runEnd(t, from: p + 1, next) }
        }
        let kind = UnicodeClasses.kind(c)
        if kind != .whitespace { return runEnd(t, from: p, kind) }
        return whitespaceEnd(t, p, runEnd: runEnd(t, from: p, .whitespace))
    }

    /// Oniguruma's (?i) folds `ſ` (U+017F) to `s`; no other non-ASCII scalar folds to s t r e v m l d.
    @inline(__always)
    private static func folded(_ s: Unicode.Scalar) -> Unicode.Scalar {
        if s.value >= 0x41 && s.value <= 0x5A { return Unicode.Scalar(s.value + 0x20)! }
        return s.value == 0x17F ? "s" : s
    }

    static func llama3MatchEnd(_ t: UnsafeBufferPointer<Unicode.Scalar>, _ p: Int, maxDigits: Int) -> Int {
        let n = t.count
        let c = t[p]
        if c == "'", p + 1 < n {  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            switch folded(t[p + 1]) {
            case "s", "t", "m", "d": return p + 2
            case "r", "v": if p + 2 < n, folded(t[p + 2]) == "e" { return p + 3 }
            case "l": if p + 2 < n, folded(t[p + 2]) == "l" { return p + 3 }
            default: break
            }
        }
        let kind = UnicodeClasses.kind(c)
        switch kind {
        case .letter:  // [^\r\n\p{L}\p{N}]?\p{L}+ with the option empty
            return runEnd(t, from: p, .letter)
        case .number:  // \p{N}{1,k}
            var q = p + 1
            while q < n, q - p < maxDigits, UnicodeClasses.kind(t[q]) == .number { q += 1 }
            return q
        default:
            break
        }
        // [^\r\n\p{L}\p{N}]\p{L}+: any other scalar but CR/LF may lead a run of letters.
        if c != "\r", c != "\n", p + 1 < n, UnicodeClasses.kind(t[p + 1]) == .letter {
            return runEnd(t, from: p + 1, .letter)
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var end = -1
        if kind == .other {
            end = runEnd(t, from: p, .other)
        } else if c == " ", p + 1 < n, UnicodeClasses.kind(t[p + 1]) == .other {
            end = runEnd(t, from: p + 1, .other)
        }
        if end >= 0 {
            while end < n, t[end] == "\r" || t[end] == "\n" { end += 1 }
            return end
        }
        // `c` is whitespace. `\s*[\r\n]+`: backtracking stops at the last CR/LF of the run.
        let q = runEnd(t, from: p, .whitespace)
        var j = q - 1
        while j >= p {
            if t[j] == "\r" || t[j] == "\n" { return j + 1 }
            j -= 1
        }
        return whitespaceEnd(t, p, runEnd: q)
    }
}

/// A pattern run by NSRegularExpression. Matching is serialized: a tokenizer may be shared across
/// threads and Foundation on Linux does not promise that one regex object can match concurrently.
final class ICURegex: @unchecked Sendable {
    private let regex: NSRegularExpression
    private let lock = NSLock()

    init(_ regex: NSRegularExpression) { self.regex = regex }

    func forEachMatch(in text: UnsafeBufferPointer<Unicode.Scalar>, _ body: (Range<Int>) -> Void) {
        var string = ""
        string.unicodeScalars.append(contentsOf: text)
        // NSRegularExpression reports UTF-16 offsets; map them back to scalar indices.
        var scalarAt = [Int](repeating: 0, count: string.utf16.count + 1)
        var u = 0
        for (i, s) in text.enumerated() {
            scalarAt[u] = i
            if s.value > 0xFFFF { scalarAt[u + 1] = i + 1 }
            u += s.value > 0xFFFF ? 2 : 1
        }
        scalarAt[u] = text.count
        lock.lock()
        let matches = regex.matches(in: string, range: NSRange(location: 0, length: u))
        lock.unlock()
        for match in matches where match.range.location != NSNotFound {
            body(scalarAt[match.range.location]..<scalarAt[match.range.location + match.range.length])
        }
    }
}
