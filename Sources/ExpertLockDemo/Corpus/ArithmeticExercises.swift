import ExpertLock
import TensorCore

/// Arithmetic in symbols ("17 + 25 = 42"), in words ("seven times eight is fifty six"), as number
/// facts ("17 is a prime number") and as word problems. Every result is computed, so every stated
/// fact is true.
enum ArithmeticExercises: DomainGenerator {
    static let names = [
        "Maria", "Tom", "Aisha", "Ben", "Chen", "Lucy", "Omar", "Sara", "Ivan", "Nora", "Pedro",
        "Hana", "Leo", "Mia", "Raj", "Zoe",
    ]
    /// The pronoun of each of `names`, in the same order.
    static let pronouns = [
        "she", "he", "she", "he", "he", "she", "he", "she", "he", "she", "he", "she", "he", "she",
        "he", "she",
    ]
    static let objects = [
        "apples", "marbles", "stickers", "pencils", "cookies", "stamps", "coins", "books", "shells",
        "cards", "eggs", "balloons",
    ]
    static let places = ["at the market", "at school", "in the park", "from a friend", "at the shop"]

    /// Two operands, an operator symbol and word, and the result; division is always exact.
    struct Operation {
        var a: Int
        var b: Int
        var symbol: String
        var word: String
        var result: Int

        init(_ rng: inout SplitMix64, limit: Int = 99) {
            switch rng.int(0...3) {
            case 0:
                a = rng.int(0...limit)
                b = rng.int(0...limit)
                symbol = "+"
                word = "plus"
                result = a + b
            case 1:
                a = rng.int(0...limit)
                b = rng.int(0...a)
                symbol = "-"
                word = "minus"
                result = a - b
            case 2:
                a = rng.int(0...12)
                b = rng.int(0...12)
                symbol = "*"
                word = "times"
                result = a * b
            default:
                b = rng.int(1...12)
                result = rng.int(0...12)
                a = b * result
                symbol = "/"
                word = "divided by"
            }
        }

        var symbolic: String { "\(a) \(symbol) \(b) = \(result)" }
        var worded: String { "\(CorpusText.words(a)) \(word) \(CorpusText.words(b)) is \(CorpusText.words(result))" }
    }

    static func isPrime(_ n: Int) -> Bool {
        if n < 2 { return false }
        var d = 2
        while d * d <= n {
            if n % d == 0 { return false }
            d += 1
        }
        return true
    }

    /// A true statement about numbers.
    static func fact(_ rng: inout SplitMix64) -> String {
        let a = rng.int(2...99)
        let b = rng.int(2...99)
        switch rng.int(0...8) {
        case 0: return "The sum of \(a) and \(b) is \(a + b)."
        case 1: return "The difference between \(max(a, b)) and \(min(a, b)) is \(abs(a - b))."
        case 2: return "The product of \(a % 13) and \(b % 13) is \((a % 13) * (b % 13))."
        case 3: return "Half of \(2 * a) is \(a)."
        case 4: return "Twice \(a) is \(2 * a)."
        case 5: return "The square of \(a % 16) is \((a % 16) * (a % 16))."
        case 6: return "\(a) is \(a % 2 == 0 ? "an even" : "an odd") number."
        case 7: return "\(a) is \(isPrime(a) ? "a prime number" : "not a prime number")."
        default:
            return a == b ? "\(a) is equal to \(b)." : "\(max(a, b)) is greater than \(min(a, b))."
        }
    }

    /// A story of two to four changes to a count, ending with the true total.
    struct Story {
        var sentences: [String] = []
        var name: String
        var object: String
        var total: Int

        init(_ rng: inout SplitMix64, steps: Int) {
            let who = rng.int(0...(names.count - 1))
            name = names[who]
            object = rng.pick(objects)
            total = rng.int(3...30)
            let pronoun = pronouns[who]
            sentences.append("\(name) has \(total) \(object).")
            for _ in 0..<steps {
                let friend = rng.pick(names.filter { $0 != name })
                switch rng.int(0...3) {
                case 0:
                    let n = rng.int(1...20)
                    total += n
                    sentences.append("Then \(pronoun) gets \(n) more \(rng.pick(places)).")
                case 1 where total > 1:
                    let n = rng.int(1...(total - 1))
                    total -= n
                    sentences.append("Then \(pronoun) gives \(n) to \(friend).")
                case 2 where total < 50:
                    total *= 2
                    sentences.append("Then \(friend) doubles the pile.")
                default:
                    let n = rng.int(1...9)
                    total += n
                    sentences.append("Then \(pronoun) finds \(n) more.")
                }
            }
            sentences.append("How many \(object) does \(name) have now?")
            sentences.append(rng.pick(["\(name) has \(total) \(object).", "The answer is \(total)."]))
        }

        var summary: String { "\(name) ends up with \(total) \(object)." }
    }

    static func document(_ rng: inout SplitMix64) -> String {
        switch rng.int(0...9) {
        case 0: return reviews.review(positive: rng.chance(0.5), &rng)
        case 1, 2:
            let lines = (0..<rng.int(4...9)).map { _ in Operation(&rng).symbolic }
            return (rng.chance(0.5) ? "Exercise \(rng.int(1...40)).\n" : "") + lines.joined(separator: "\n")
        case 3, 4:
            return (0..<rng.int(3...6)).map { _ in CorpusText.capitalized(Operation(&rng, limit: 40).worded) + "." }
                .joined(separator: " ")
        case 5, 6:
            return (0..<rng.int(3...7)).map { _ in fact(&rng) }.joined(separator: " ")
        default:
            return Story(&rng, steps: rng.int(1...4)).sentences.joined(separator: " ")
        }
    }

    static func summarized(_ rng: inout SplitMix64) -> (document: String, summary: String) {
        let story = Story(&rng, steps: rng.int(1...3))
        return (story.sentences.joined(separator: " "), story.summary)
    }

    static func pair(entailed: Bool, _ rng: inout SplitMix64) -> (premise: String, hypothesis: String) {
        if rng.chance(0.5) {
            let name = rng.pick(names)
            let object = rng.pick(objects)
            let (a, b) = (rng.int(2...40), rng.int(1...20))
            let gains = rng.chance(0.5)
            let premise =
                gains
                ? "\(name) has \(a) \(object) and gets \(b) more."
                : "\(name) has \(a + b) \(object) and gives away \(b)."
            let total = gains ? a + b : a
            var facts = PremiseFacts(premise: premise)
            facts.holds.append("\(name) now has \(total) \(object).")
            facts.fails.append("\(name) now has \(total + rng.offset(3)) \(object).")
            facts.holds.append("\(name) now has \(gains ? "more" : "fewer") than \(gains ? a : a + b) \(object).")
            facts.fails.append("\(name) now has \(gains ? "fewer" : "more") than \(gains ? a : a + b) \(object).")
            return facts.pick(entailed: entailed, &rng)
        }
        let op = Operation(&rng, limit: 60)
        var facts = PremiseFacts(premise: op.symbolic + ".")
        let reverse =
            op.symbol == "+"
            ? "\(op.result) - \(op.b) = \(op.a)"
            : op.symbol == "-"
                ? "\(op.result) + \(op.b) = \(op.a)"
                : op.symbol == "/" ? "\(op.b) * \(op.result) = \(op.a)" : "\(op.b) * \(op.a) = \(op.result)"
        facts.holds += [reverse + ".", "The result is \(op.result)."]
        facts.fails += [
            "The result is \(op.result + rng.offset(4)).",
            "\(op.a) \(op.symbol) \(op.b) = \(op.result + rng.offset(4)).",
        ]
        return facts.pick(entailed: entailed, &rng)
    }

    static let reviews = ReviewLexicon(
        openings: [
            "My son used {} for his homework.", "I took {} this term.", "Our class switched to {} in January.",
            "I bought {} to revise for the exam.",
        ],
        items: [
            "the fractions course", "the times tables app", "the algebra workbook", "the mental maths game",
            "the long division video series", "the geometry textbook",
        ],
        aspects: [
            ReviewAspect(
                "the exercises", plural: true, good: ["well chosen", "varied", "challenging"],
                bad: ["repetitive", "tedious", "pointless"]),
            ReviewAspect(
                "the explanations", plural: true, good: ["clear", "logical", "simple"],
                bad: ["confusing", "muddled", "wrong"]),
            ReviewAspect(
                "the teacher", good: ["patient", "encouraging", "clear"], bad: ["impatient", "rushed", "unclear"]),
            ReviewAspect(
                "the homework", good: ["manageable", "useful", "fair"], bad: ["endless", "tedious", "unfair"]),
            ReviewAspect(
                "the worksheets", plural: true, good: ["clear", "neat", "useful"],
                bad: ["messy", "full of errors", "confusing"]),
            ReviewAspect("the app", good: ["engaging", "fun", "intuitive"], bad: ["buggy", "boring", "confusing"]),
            ReviewAspect(
                "the lessons", plural: true, good: ["well paced", "engaging", "clear"],
                bad: ["rushed", "boring", "chaotic"]),
            ReviewAspect(
                "the examples", plural: true, good: ["helpful", "relevant", "clear"],
                bad: ["unhelpful", "irrelevant", "wrong"]),
            ReviewAspect(
                "the practice tests", plural: true, good: ["realistic", "useful", "fair"],
                bad: ["unfair", "unrealistic", "useless"]),
        ],
        good: ["excellent", "helpful", "great"],
        bad: ["terrible", "frustrating", "useless"],
        goodVerdicts: ["Maths finally makes sense.", "Our grades went up.", "Worth every penny."],
        badVerdicts: ["We gave up after a week.", "It made maths harder, not easier.", "Not worth the money."])
}
