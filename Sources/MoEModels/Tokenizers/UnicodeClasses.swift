/// Character classes exactly as the reference engines see them.
///
/// The `tokenizers` library matches its regexes with Oniguruma (Unicode 16.0 tables) and uses Rust's
/// `char` methods and the `regex` crate elsewhere. Swift's scalar properties are newer (Unicode 17), so
/// scalars assigned after 16.0 are treated as unassigned, which makes `\p{L}`, `\p{N}` and `\s` agree
/// with Oniguruma on every code point (checked against the library over the whole code space).
enum UnicodeClasses {
    private static let letter: UInt8 = 1  // \p{L}
    private static let number: UInt8 = 2  // \p{N}, Rust `char::is_numeric`
    private static let whitespace: UInt8 = 4  // \s, Rust `char::is_whitespace` (White_Space)
    private static let rustWord: UInt8 = 16  // regex crate \w
    private static let punctuation: UInt8 = 32  // `is_ascii_punctuation || \p{P}`

    /// Flags of every BMP scalar, computed once (65,536 property look-ups, a few milliseconds).
    private static let bmp: [UInt8] = (0..<0x10000).map { v in
        Unicode.Scalar(UInt32(v)).map(computeFlags) ?? 0
    }

    @inline(__always)
    private static func flags(_ s: Unicode.Scalar) -> UInt8 {
        s.value < 0x10000 ? bmp[Int(s.value)] : computeFlags(s)
    }

    private static func computeFlags(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        guard let age = p.age, age.major < 16 || (age.major == 16 && age.minor == 0) else { return 0 }
        var f: UInt8 = 0
        let gc = p.generalCategory
        var isMark = false
        switch gc {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: f |= letter
        case .decimalNumber, .letterNumber, .otherNumber: f |= number
        case .nonspacingMark, .spacingMark, .enclosingMark: isMark = true
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            f |= punctuation
        default: break
        }
        let v = s.value
        if (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
            || (0x7B...0x7E).contains(v)
        {
            f |= punctuation  // Rust's is_ascii_punctuation also counts $+<=>^`|~
        }
        if p.isWhitespace { f |= whitespace }
        let wordCore = p.isAlphabetic || isMark || gc == .decimalNumber || gc == .connectorPunctuation
        // The regex crate's \w (added tokens' single_word, the Whitespace pre-tokenizer). Oniguruma's
        // \w differs (it takes ² ³ ¹ ¼ ½ ¾ and not the joiners) but no supported stage uses it.
        if wordCore || p.isJoinControl { f |= rustWord }
        return f
    }

    @inline(__always) static func isLetter(_ s: Unicode.Scalar) -> Bool { flags(s) & letter != 0 }
    @inline(__always) static func isNumber(_ s: Unicode.Scalar) -> Bool { flags(s) & number != 0 }
    @inline(__always) static func isWhitespace(_ s: Unicode.Scalar) -> Bool { flags(s) & whitespace != 0 }
    @inline(__always) static func isRustRegexWord(_ s: Unicode.Scalar) -> Bool { flags(s) & rustWord != 0 }
    @inline(__always) static func isPunctuation(_ s: Unicode.Scalar) -> Bool { flags(s) & punctuation != 0 }

    /// The class a pre-tokenizer regex sorts a scalar into: exactly one of letter, number, whitespace,
    /// other (`[^\s\p{L}\p{N}]`).
    enum Kind: UInt8 { case letter, number, whitespace, other }

    @inline(__always)
    static func kind(_ s: Unicode.Scalar) -> Kind {
        let f = flags(s)
        if f & letter != 0 { return .letter }
        if f & number != 0 { return .number }
        if f & whitespace != 0 { return .whitespace }
        return .other
    }
}
