// Port of rouge-score's rouge_score/tokenize.py (DefaultTokenizer in tokenizers.py).

/// Splits text into ROUGE tokens the way Google's rouge-score does (itself replicating Lin's
/// ROUGE-1.5.5): `text.lower()`, every run of characters outside `[a-z0-9]` becomes a space, split
/// on whitespace, stem tokens longer than 3 characters, drop empty tokens.
///
/// Non-ASCII letters are therefore dropped ("café" gives "caf"), except where Python's full
/// lowercase mapping yields ASCII: U+0130 "İ" lowercases to "i" + U+0307 and U+212A (Kelvin sign)
/// to "k". Lowercasing each scalar with its full Unicode mapping reproduces both.
public struct RougeTokenizer: Sendable {
    /// nltk's PorterStemmer in its default mode, as rouge-score builds it; nil without `--stemmer`.
    public let stemmer: PorterStemmer?

    public init(useStemmer: Bool) {
        stemmer = useStemmer ? PorterStemmer(mode: .nltkExtensions) : nil
    }

    public func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var current: [UInt8] = []
        func flush() {
            guard !current.isEmpty else { return }
            let token = String(decoding: current, as: UTF8.self)
            current.removeAll(keepingCapacity: true)
            // rouge-score: "Only stem words more than 3 characters long."
            if let stemmer, token.utf8.count > 3 {
                let stemmed = stemmer.stem(token)
                if !stemmed.isEmpty { tokens.append(stemmed) }
            } else {
                tokens.append(token)
            }
        }
        for scalar in text.unicodeScalars {
            if scalar.isASCII {
                let byte = UInt8(scalar.value)
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    current.append(byte)
                case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                    current.append(byte + 32)
                default:
                    flush()
                }
            } else {
                // Full lowercase mapping, then keep only what lands in [a-z0-9]; anything else
                // ends the current token, as the regex substitution would.
                for lowered in scalar.properties.lowercaseMapping.unicodeScalars {
                    let value = lowered.value
                    if (0x61...0x7A).contains(value) || (0x30...0x39).contains(value) {
                        current.append(UInt8(value))
                    } else {
                        flush()
                    }
                }
            }
        }
        flush()
        return tokens
    }
}
