import Foundation
import Testing

@testable import MoEModels

/// The hand-written GPT-2 and Qwen/Llama 3 matchers against ICU running the same patterns, on
/// text where ICU and Oniguruma agree (ASCII, common letters, digits, whitespace).
@Suite struct PretokenizationRegexTests {
    private func pieces(_ regex: PatternRegex, _ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var out: [String] = []
        scalars.withUnsafeBufferPointer { buffer in
            regex.forEachMatch(in: buffer) { range in
                out.append(String(String.UnicodeScalarView(scalars[range])))
            }
        }
        return out
    }

    private func randomTexts() -> [String] {
        // A fixed linear congruential sequence keeps the cases reproducible.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let alphabet: [String] = [
            "a", "B", "z", "é", "Ж", "日", "1", "7", "٣", " ", " ", "  ", "\t", "\n", "\r\n", "'", "'s",
            "'LL", "'re", "!", ",", "-", "😀", "\u{00A0}", "\u{3000}", ".",
        ]
        return (0..<400).map { _ in (0..<next(24)).map { _ in alphabet[next(alphabet.count)] }.joined() }
    }

    @Test func gpt2MatchesICU() throws {
        let icu = PatternRegex.icu(ICURegex(try NSRegularExpression(pattern: PatternRegex.gpt2Pattern)))
        for text in randomTexts() {
            #expect(pieces(.gpt2, text) == pieces(icu, text), "\(text.debugDescription)")
        }
    }

    @Test(arguments: [(PatternRegex.qwenPattern, 1), (PatternRegex.llama3Pattern, 3)])
    func llama3StyleMatchesICU(pattern: String, digits: Int) throws {
        let icu = PatternRegex.icu(ICURegex(try NSRegularExpression(pattern: pattern)))
        for text in randomTexts() {
            #expect(pieces(.llama3(maxDigits: digits), text) == pieces(icu, text), "\(text.debugDescription)")
        }
    }

    @Test func knownTraps() {
        #expect(pieces(.gpt2, "  hello world") == [" ", " hello", " world"])
        #expect(pieces(.gpt2, "it's  \n") == ["it", "'s", "  \n"])
        #expect(pieces(.llama3(maxDigits: 1), "IT'S it'ſ") == ["IT", "'S", " it", "'ſ"])
        #expect(pieces(.llama3(maxDigits: 3), "12345") == ["123", "45"])
        #expect(pieces(.llama3(maxDigits: 1), "  \n\n  a") == ["  \n\n", " ", " a"])
        #expect(pieces(.llama3(maxDigits: 1), "\u{00A0}a\u{3000}b") == ["\u{00A0}a", "\u{3000}b"])
    }
}
