/// Locale-independent formatting of numbers, times and lists for the corpus (no Foundation
/// formatters, whose output depends on the platform and the locale).
enum CorpusText {
    static let units = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    ]
    static let tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

    /// English words for an integer below a million: 342 → "three hundred and forty two".
    static func words(_ n: Int) -> String {
        if n < 0 { return "minus " + words(-n) }
        if n < 20 { return units[n] }
        if n < 100 { return n % 10 == 0 ? tens[n / 10] : tens[n / 10] + " " + units[n % 10] }
        if n < 1000 {
            let head = units[n / 100] + " hundred"
            return n % 100 == 0 ? head : head + " and " + words(n % 100)
        }
        let head = words(n / 1000) + " thousand"
        if n % 1000 == 0 { return head }
        return n % 1000 < 100 ? head + " and " + words(n % 1000) : head + " " + words(n % 1000)
    }

    /// 1 → "1st", 12 → "12th", 23 → "23rd".
    static func ordinal(_ n: Int) -> String {
        let suffix: String
        if (11...13).contains(n % 100) {
            suffix = "th"
        } else {
            switch n % 10 {
            case 1: suffix = "st"
            case 2: suffix = "nd"
            case 3: suffix = "rd"
            default: suffix = "th"
            }
        }
        return "\(n)\(suffix)"
    }

    /// Minutes after midnight → "08:05" (wrapping past midnight).
    static func clock(_ minutes: Int) -> String {
        let m = ((minutes % 1440) + 1440) % 1440
        return twoDigits(m / 60) + ":" + twoDigits(m % 60)
    }

    static func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// 125 → "2 hours and 5 minutes", 60 → "1 hour", 45 → "45 minutes".
    static func duration(_ minutes: Int) -> String {
        let h = minutes / 60
        let m = minutes % 60
        let hours = h == 1 ? "1 hour" : "\(h) hours"
        let mins = m == 1 ? "1 minute" : "\(m) minutes"
        if h == 0 { return mins }
        return m == 0 ? hours : hours + " and " + mins
    }

    /// Tenths → "12.5", "-0.3", "7" (an integral value has no decimal point).
    static func decimal(tenths: Int) -> String {
        let sign = tenths < 0 ? "-" : ""
        let a = abs(tenths)
        return a % 10 == 0 ? "\(sign)\(a / 10)" : "\(sign)\(a / 10).\(a % 10)"
    }

    /// Integer division rounded half away from zero.
    static func roundedDivision(_ numerator: Int, _ denominator: Int) -> Int {
        let q = (2 * abs(numerator) + abs(denominator)) / (2 * abs(denominator))
        return (numerator < 0) != (denominator < 0) ? -q : q
    }

    /// ["a", "b", "c"] → "a, b and c".
    static func list(_ items: [String]) -> String {
        if items.count <= 1 { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " and " + items[items.count - 1]
    }

    /// "a" or "an" before `word`, by its first letter.
    static func article(_ word: String) -> String {
        guard let first = word.first else { return "a" }
        return "aeiou".contains(first) ? "an" : "a"
    }

    /// Upper-cases the first ASCII letter.
    static func capitalized(_ s: String) -> String {
        guard let first = s.first else { return s }
        return first.uppercased() + s.dropFirst()
    }

    /// `count` followed by the singular or plural noun.
    static func count(_ n: Int, _ singular: String, _ plural: String) -> String {
        "\(n) \(n == 1 ? singular : plural)"
    }
}
