// Port of nltk's nltk/stem/porter.py (PorterStemmer, nltk 3.x), all three modes.
//
// rouge-score's DefaultTokenizer builds `porter.PorterStemmer()`, i.e. the default NLTK_EXTENSIONS
// mode (not ORIGINAL_ALGORITHM), so that is the default here. Words are handled as arrays of Unicode
// scalars because Python indexes strings by code point; rouge-score only ever passes [a-z0-9]+.

/// The Porter suffix-stripping stemmer, exactly as nltk implements it.
public struct PorterStemmer: Sendable {
    /// nltk's three variants of the algorithm.
    public enum Mode: String, Sendable, CaseIterable {
        /// The published 1980 algorithm.
        case originalAlgorithm = "ORIGINAL_ALGORITHM"
        /// The changes in Martin Porter's own reference implementations.
        case martinExtensions = "MARTIN_EXTENSIONS"
        /// nltk's further changes (the default, and what rouge-score uses).
        case nltkExtensions = "NLTK_EXTENSIONS"
    }

    public let mode: Mode

    public init(mode: Mode = .nltkExtensions) {
        self.mode = mode
    }

    private typealias Word = [Unicode.Scalar]

    /// Irregular forms nltk maps directly (NLTK_EXTENSIONS only).
    private static let irregularForms: [String: String] = {
        let forms: [String: [String]] = [
            "sky": ["sky", "skies"], "die": ["dying"], "lie": ["lying"], "tie": ["tying"],
            "news": ["news"], "inning": ["innings", "inning"], "outing": ["outings", "outing"],
            "canning": ["cannings", "canning"], "howe": ["howe"], "proceed": ["proceed"],
            "exceed": ["exceed"], "succeed": ["succeed"],
        ]
        var pool: [String: String] = [:]
        for (key, values) in forms {
            for value in values { pool[value] = key }
        }
        return pool
    }()

    /// The stem of `word` (lowercased first, as nltk's `stem(word, to_lowercase=True)`).
    public func stem(_ word: String) -> String {
        let lowered = word.lowercased()
        if mode == .nltkExtensions, let irregular = Self.irregularForms[lowered] {
            return irregular
        }
        // nltk tests the length of the word as given (before lowercasing), in code points.
        if mode != .originalAlgorithm && word.unicodeScalars.count <= 2 {
            return lowered
        }
        var w = Word(lowered.unicodeScalars)
        w = step1a(w)
        w = step1b(w)
        w = step1c(w)
        w = step2(w)
        w = step3(w)
        w = step4(w)
        w = step5a(w)
        w = step5b(w)
        var result = String.UnicodeScalarView()
        result.append(contentsOf: w)
        return String(result)
    }

    // MARK: - Consonants, vowels and the measure m

    private static func isVowelLetter(_ c: Unicode.Scalar) -> Bool {
        c == "a" || c == "e" || c == "i" || c == "o" || c == "u"
    }

    /// Consonant flag of every position: a `y` is a consonant iff it starts the word or follows a
    /// vowel (nltk's `_consonant_flags`, equal to its recursive `_is_consonant`).
    private static func consonantFlags(_ w: Word) -> [Bool] {
        var flags: [Bool] = []
        flags.reserveCapacity(w.count)
        for (i, c) in w.enumerated() {
            if isVowelLetter(c) {
                flags.append(false)
            } else if c == "y" {
                flags.append(i == 0 ? true : !flags[i - 1])
            } else {
                flags.append(true)
            }
        }
        return flags
    }

    /// nltk's iterative `_is_consonant`: walk back over a run of y's, each one flipping the answer.
    private static func isConsonant(_ w: Word, _ i: Int) -> Bool {
        var i = i
        var negate = false
        while i > 0 && w[i] == "y" {
            negate.toggle()
            i -= 1
        }
        return !isVowelLetter(w[i]) != negate
    }

    /// m in [C](VC){m}[V]: the number of vowel→consonant transitions.
    private static func measure(_ w: Word) -> Int {
        var m = 0
        var previousIsConsonant = true
        for (i, c) in w.enumerated() {
            let consonant = isVowelLetter(c) ? false : (c == "y" ? (i == 0 ? true : !previousIsConsonant) : true)
            if consonant && !previousIsConsonant && i > 0 { m += 1 }
            previousIsConsonant = consonant
        }
        return m
    }

    private static func hasPositiveMeasure(_ w: Word) -> Bool { measure(w) > 0 }

    private static func containsVowel(_ w: Word) -> Bool {
        var previousIsConsonant = true
        for (i, c) in w.enumerated() {
            let consonant = isVowelLetter(c) ? false : (c == "y" ? (i == 0 ? true : !previousIsConsonant) : true)
            if !consonant { return true }
            previousIsConsonant = consonant
        }
        return false
    }

    /// Condition *d: ends with a double consonant.
    private static func endsDoubleConsonant(_ w: Word) -> Bool {
        w.count >= 2 && w[w.count - 1] == w[w.count - 2] && isConsonant(w, w.count - 1)
    }

    /// Condition *o: ends consonant-vowel-consonant, the last not w, x or y. NLTK_EXTENSIONS also
    /// accepts a two-letter vowel-consonant word.
    private func endsCVC(_ w: Word) -> Bool {
        let n = w.count
        if n >= 3 {
            let flags = Self.consonantFlags(w)
            if flags[n - 3] && !flags[n - 2] && flags[n - 1] && !["w", "x", "y"].contains(w[n - 1]) {
                return true
            }
        }
        if mode == .nltkExtensions && n == 2 {
            let flags = Self.consonantFlags(w)
            return !flags[0] && flags[1]
        }
        return false
    }

    // MARK: - Rule lists

    private static func endsWith(_ w: Word, _ suffix: String) -> Bool {
        var i = w.count
        for c in suffix.unicodeScalars.reversed() {
            i -= 1
            if i < 0 || w[i] != c { return false }
        }
        return true
    }

    /// Python's `w[:-count]` (empty when count exceeds the length).
    private static func dropping(_ w: Word, _ count: Int) -> Word { Word(w.prefix(max(w.count - count, 0))) }

    private static func appending(_ w: Word, _ suffix: String) -> Word { w + Array(suffix.unicodeScalars) }

    private enum Suffix {
        case literal(String)
        /// The `*d` pseudo-suffix: a double consonant, whose two letters are removed.
        case doubleConsonant
    }

    private struct Rule {
        var suffix: Suffix
        var replacement: String
        var condition: (@Sendable (Word) -> Bool)?

        init(_ suffix: String, _ replacement: String, _ condition: (@Sendable (Word) -> Bool)? = nil) {
            self.suffix = .literal(suffix)
            self.replacement = replacement
            self.condition = condition
        }

        init(doubleConsonant replacement: String, _ condition: @escaping @Sendable (Word) -> Bool) {
            self.suffix = .doubleConsonant
            self.replacement = replacement
            self.condition = condition
        }
    }

    /// nltk's `_apply_rule_list`: the first rule whose suffix matches decides; if its condition
    /// fails the word is returned unchanged (no later rule is tried).
    private static func applyRuleList(_ w: Word, _ rules: [Rule]) -> Word {
        for rule in rules {
            switch rule.suffix {
            case .doubleConsonant:
                if endsDoubleConsonant(w) {
                    let stem = dropping(w, 2)
                    return (rule.condition?(stem) ?? true) ? appending(stem, rule.replacement) : w
                }
            case .literal(let suffix):
                if endsWith(w, suffix) {
                    let stem = dropping(w, suffix.unicodeScalars.count)
                    return (rule.condition?(stem) ?? true) ? appending(stem, rule.replacement) : w
                }
            }
        }
        return w
    }

    // MARK: - Steps

    private func step1a(_ w: Word) -> Word {
        // NLTK: 'flies' -> 'fli' but 'dies' -> 'die'.
        if mode == .nltkExtensions && w.count == 4 && Self.endsWith(w, "ies") {
            return Self.appending(Self.dropping(w, 3), "ie")
        }
        return Self.applyRuleList(w, Self.step1aRules)
    }

    private static let step1aRules = [Rule("sses", "ss"), Rule("ies", "i"), Rule("ss", "ss"), Rule("s", "")]

    private func step1b(_ w: Word) -> Word {
        // NLTK: 'spied' -> 'spi' but 'died' -> 'die'; skips the rest of step 1b.
        if mode == .nltkExtensions && Self.endsWith(w, "ied") {
            return Self.appending(Self.dropping(w, 3), w.count == 4 ? "ie" : "i")
        }
        // (m>0) EED -> EE; when the condition fails the word is kept ('feed' stays, not 'fe').
        if Self.endsWith(w, "eed") {
            let stem = Self.dropping(w, 3)
            return Self.measure(stem) > 0 ? Self.appending(stem, "ee") : w
        }
        var intermediate: Word?
        for suffix in ["ed", "ing"] where Self.endsWith(w, suffix) {
            let stem = Self.dropping(w, suffix.unicodeScalars.count)
            if Self.containsVowel(stem) {
                intermediate = stem
                break
            }
        }
        guard let stem = intermediate, let last = stem.last else { return w }
        return Self.applyRuleList(
            stem,
            [
                Rule("at", "ate"), Rule("bl", "ble"), Rule("iz", "ize"),
                // (*d and not (*L or *S or *Z)) -> single letter
                Rule(doubleConsonant: String(last)) { _ in !["l", "s", "z"].contains(last) },
                // (m=1 and *o) -> E; the empty suffix always matches.
                Rule("", "e") { s in Self.measure(s) == 1 && self.endsCVC(s) },
            ])
    }

    private func step1c(_ w: Word) -> Word {
        let condition: @Sendable (Word) -> Bool
        if mode == .nltkExtensions {
            // (*c and not c) Y -> I: 'happy' -> 'happi', 'enjoy' and 'sky' stay.
            condition = { s in s.count > 1 && Self.isConsonant(s, s.count - 1) }
        } else {
            condition = { s in Self.containsVowel(s) }
        }
        return Self.applyRuleList(w, [Rule("y", "i", condition)])
    }

    private func step2(_ w: Word) -> Word {
        if mode == .nltkExtensions && Self.endsWith(w, "alli") && Self.hasPositiveMeasure(Self.dropping(w, 4)) {
            // NLTK applies ALLI -> AL first and runs step 2 again on the result.
            return step2(Self.appending(Self.dropping(w, 4), "al"))
        }
        let rules =
            switch mode {
            case .nltkExtensions: Self.step2RulesNLTK
            case .martinExtensions: Self.step2RulesMartin
            case .originalAlgorithm: Self.step2RulesOriginal
            }
        return Self.applyRuleList(w, rules)
    }

    private static func step2Rules(_ mode: Mode) -> [Rule] {
        let positive: @Sendable (Word) -> Bool = { hasPositiveMeasure($0) }
        var rules = [
            Rule("ational", "ate", positive), Rule("tional", "tion", positive),
            Rule("enci", "ence", positive), Rule("anci", "ance", positive), Rule("izer", "ize", positive),
            mode == .originalAlgorithm ? Rule("abli", "able", positive) : Rule("bli", "ble", positive),
            Rule("alli", "al", positive), Rule("entli", "ent", positive), Rule("eli", "e", positive),
            Rule("ousli", "ous", positive), Rule("ization", "ize", positive), Rule("ation", "ate", positive),
            Rule("ator", "ate", positive), Rule("alism", "al", positive), Rule("iveness", "ive", positive),
            Rule("fulness", "ful", positive), Rule("ousness", "ous", positive), Rule("aliti", "al", positive),
            Rule("iviti", "ive", positive), Rule("biliti", "ble", positive),
        ]
        switch mode {
        case .nltkExtensions:
            rules.append(Rule("fulli", "ful", positive))
            // The 'l' of 'logi' stays with the stem for the measure (nltk tests word[:-3]), so
            // short stems like 'geo' and 'theo' work like 'archaeo'.
            rules.append(Rule("logi", "log") { stem in positive(stem + ["l"]) })
        case .martinExtensions:
            rules.append(Rule("logi", "log", positive))
        case .originalAlgorithm:
            break
        }
        return rules
    }

    private static let step2RulesNLTK = step2Rules(.nltkExtensions)
    private static let step2RulesMartin = step2Rules(.martinExtensions)
    private static let step2RulesOriginal = step2Rules(.originalAlgorithm)

    private func step3(_ w: Word) -> Word { Self.applyRuleList(w, Self.step3Rules) }

    private static let step3Rules: [Rule] = {
        let positive: @Sendable (Word) -> Bool = { hasPositiveMeasure($0) }
        return [
            Rule("icate", "ic", positive), Rule("ative", "", positive), Rule("alize", "al", positive),
            Rule("iciti", "ic", positive), Rule("ical", "ic", positive), Rule("ful", "", positive),
            Rule("ness", "", positive),
        ]
    }()

    private func step4(_ w: Word) -> Word { Self.applyRuleList(w, Self.step4Rules) }

    private static let step4Rules: [Rule] = {
        let above1: @Sendable (Word) -> Bool = { measure($0) > 1 }
        return [
            Rule("al", "", above1), Rule("ance", "", above1), Rule("ence", "", above1),
            Rule("er", "", above1), Rule("ic", "", above1), Rule("able", "", above1),
            Rule("ible", "", above1), Rule("ant", "", above1), Rule("ement", "", above1),
            Rule("ment", "", above1), Rule("ent", "", above1),
            // (m>1 and (*S or *T)) ION ->
            Rule("ion", "") { s in above1(s) && (s.last == "s" || s.last == "t") },
            Rule("ou", "", above1), Rule("ism", "", above1), Rule("ate", "", above1),
            Rule("iti", "", above1), Rule("ous", "", above1), Rule("ive", "", above1),
            Rule("ize", "", above1),
        ]
    }()

    /// (m>1) E -> ; (m=1 and not *o) E -> . Both conditions are tried (unlike a rule list).
    private func step5a(_ w: Word) -> Word {
        guard Self.endsWith(w, "e") else { return w }
        let stem = Self.dropping(w, 1)
        let m = Self.measure(stem)
        if m > 1 || (m == 1 && !endsCVC(stem)) { return stem }
        return w
    }

    /// (m>1 and *d and *L) -> single letter; nltk measures the word minus one letter.
    private func step5b(_ w: Word) -> Word {
        let minusOne = w.isEmpty ? w : Self.dropping(w, 1)
        return Self.applyRuleList(w, [Rule("ll", "l") { _ in Self.measure(minusOne) > 1 }])
    }
}
