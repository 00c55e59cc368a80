import Foundation

@testable import ExpertLock
@testable import ExpertLockDemo

/// Helpers shared by the corpus tests: word splitting and number extraction, written apart from the
/// generator so that the tests check its output rather than repeat it.
enum CorpusProbe {
    /// Lower-cased runs of ASCII letters.
    static func words(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            if (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                out.append(current.lowercased())
                current = ""
            }
        }
        if !current.isEmpty { out.append(current.lowercased()) }
        return out
    }

    /// Runs of digits (with a leading minus sign when there is one), as strings.
    static func numbers(_ text: String) -> [String] {
        text.matches(of: #/-?\d+(\.\d+)?/#).map { String($0.output.0) }
    }

    /// Words that start with an upper-case letter and are not the first word of the text.
    static func namesAfterFirstWord(_ text: String) -> [String] {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        return tokens.dropFirst().compactMap { token in
            let trimmed = token.trimmingCharacters(in: .punctuationCharacters)
            guard let first = trimmed.unicodeScalars.first, first >= "A" && first <= "Z" else { return nil }
            return trimmed
        }
    }

    /// Parses English number words written by the corpus ("three hundred and forty two").
    static func value(ofWords text: String) -> Int? {
        let small: [String: Int] = [
            "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
            "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
            "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
        ]
        var total = 0
        var current = 0
        var sign = 1
        var seen = false
        for word in text.lowercased().split(separator: " ").map(String.init) {
            if word == "and" { continue }
            if word == "minus" && !seen {
                sign = -1
                continue
            }
            if let v = small[word] {
                current += v
            } else if word == "hundred" {
                current *= 100
            } else if word == "thousand" {
                total += current * 1000
                current = 0
            } else {
                return nil
            }
            seen = true
        }
        return seen ? sign * (total + current) : nil
    }

    /// Sentences of a document, split after ". ", "? " and newlines.
    static func sentences(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        var previous: Character = " "
        for ch in text {
            if ch == "\n" || (ch == " " && (previous == "." || previous == "?")) {
                if !current.isEmpty { out.append(current) }
                current = ""
            } else {
                current.append(ch)
            }
            previous = ch
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
