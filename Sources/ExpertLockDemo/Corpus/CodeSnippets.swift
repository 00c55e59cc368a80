import ExpertLock
import TensorCore

/// Small Python-like functions. Each is syntactically consistent (indentation, colons, matching
/// brackets, one name per variable throughout) and its example calls show the value the function
/// really returns on those arguments.
enum CodeSnippets: DomainGenerator {
    /// One function: its source lines, a call with its true result, a one-line description and its
    /// parameter count.
    struct Function {
        var name: String
        var lines: [String]
        var call: String
        var result: String
        var wrongResult: String
        var description: String
        var arity: Int
    }

    static let listNames = ["values", "numbers", "items", "scores", "prices", "counts", "data", "samples"]
    static let accumulators = ["result", "total", "acc", "running"]
    static let elementNames = ["value", "x", "item", "n", "v", "entry"]
    static let words = [
        "apple", "banana", "river", "planet", "window", "garden", "rocket", "pencil", "orange",
        "tiger", "silver", "coffee", "marble", "engine", "violin",
    ]
    static let people = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Dennis", "Margaret", "Guido", "Edsger"]

    static func listLiteral(_ xs: [Int]) -> String { "[" + xs.map(String.init).joined(separator: ", ") + "]" }

    static func randomList(_ rng: inout SplitMix64, _ range: ClosedRange<Int> = 0...20) -> [Int] {
        (0..<rng.int(3...6)).map { _ in rng.int(range) }
    }

    static func wrong(_ value: Int, _ rng: inout SplitMix64) -> String { "\(value + rng.offset(3))" }

    // Each maker draws names and arguments and returns a consistent function.
    static let makers: [@Sendable (inout SplitMix64) -> Function] = [
        { rng in
            let ops: [(names: [String], symbol: String, word: String, apply: (Int, Int) -> Int)] = [
                (["add", "plus", "add_two"], "+", "the sum of", { $0 + $1 }),
                (["subtract", "minus", "difference"], "-", "the difference of", { $0 - $1 }),
                (["multiply", "times", "product"], "*", "the product of", { $0 * $1 }),
            ]
            let op = rng.pick(ops)
            let params = rng.pick([("a", "b"), ("x", "y"), ("left", "right"), ("first", "second")])
            let name = rng.pick(op.names)
            let (p, q) = (rng.int(0...30), rng.int(0...12))
            let r = op.apply(p, q)
            return Function(
                name: name,
                lines: ["def \(name)(\(params.0), \(params.1)):", "    return \(params.0) \(op.symbol) \(params.1)"],
                call: "\(name)(\(p), \(q))", result: "\(r)", wrongResult: wrong(r, &rng),
                description: "returns \(op.word) \(params.0) and \(params.1)", arity: 2)
        },
        { rng in
            let name = rng.pick(["total", "sum_values", "add_all"])
            let list = rng.pick(listNames)
            let acc = rng.pick(accumulators)
            let element = rng.pick(elementNames)
            let xs = randomList(&rng)
            let r = xs.reduce(0, +)
            return Function(
                name: name,
                lines: [
                    "def \(name)(\(list)):", "    \(acc) = 0", "    for \(element) in \(list):",
                    "        \(acc) += \(element)", "    return \(acc)",
                ],
                call: "\(name)(\(listLiteral(xs)))", result: "\(r)", wrongResult: wrong(r, &rng),
                description: "returns the sum of \(list)", arity: 1)
        },
        { rng in
            let tests: [(name: String, condition: (String) -> String, check: (Int) -> Bool, words: String)] = [
                ("count_even", { "\($0) % 2 == 0" }, { $0 % 2 == 0 }, "even"),
                ("count_odd", { "\($0) % 2 == 1" }, { $0 % 2 == 1 }, "odd"),
                ("count_large", { "\($0) > 10" }, { $0 > 10 }, "greater than 10"),
                ("count_small", { "\($0) < 5" }, { $0 < 5 }, "less than 5"),
            ]
            let test = rng.pick(tests)
            let list = rng.pick(listNames)
            let element = rng.pick(elementNames)
            let counter = rng.pick(["count", "matches", "found"])
            let xs = randomList(&rng)
            let r = xs.filter(test.check).count
            return Function(
                name: test.name,
                lines: [
                    "def \(test.name)(\(list)):", "    \(counter) = 0", "    for \(element) in \(list):",
                    "        if \(test.condition(element)):", "            \(counter) += 1", "    return \(counter)",
                ],
                call: "\(test.name)(\(listLiteral(xs)))", result: "\(r)", wrongResult: wrong(r, &rng),
                description: "counts the \(list) that are \(test.words)", arity: 1)
        },
        { rng in
            let largest = rng.chance(0.5)
            let name =
                largest ? rng.pick(["largest", "maximum", "find_max"]) : rng.pick(["smallest", "minimum", "find_min"])
            let list = rng.pick(listNames)
            let element = rng.pick(elementNames)
            let best = rng.pick(["best", "current", "champion"])
            let xs = randomList(&rng, 1...99)
            let r = largest ? xs.max() ?? 0 : xs.min() ?? 0
            return Function(
                name: name,
                lines: [
                    "def \(name)(\(list)):", "    \(best) = \(list)[0]", "    for \(element) in \(list):",
                    "        if \(element) \(largest ? ">" : "<") \(best):", "            \(best) = \(element)",
                    "    return \(best)",
                ],
                call: "\(name)(\(listLiteral(xs)))", result: "\(r)", wrongResult: wrong(r, &rng),
                description: "returns the \(largest ? "largest" : "smallest") of \(list)", arity: 1)
        },
        { rng in
            let name = rng.pick(["greet", "welcome", "say_hello"])
            let greeting = rng.pick(["Hello", "Hi", "Welcome", "Good morning"])
            let param = rng.pick(["name", "user", "person"])
            let who = rng.pick(people)
            let other = rng.pick(people.filter { $0 != who })
            return Function(
                name: name,
                lines: ["def \(name)(\(param)):", "    return \"\(greeting), \" + \(param) + \"!\""],
                call: "\(name)(\"\(who)\")", result: "\"\(greeting), \(who)!\"",
                wrongResult: "\"\(greeting), \(other)!\"",
                description: "greets \(param) by name", arity: 1)
        },
        { rng in
            let name = rng.pick(["factorial", "fact"])
            let param = rng.pick(["n", "k", "count"])
            let acc = rng.pick(accumulators)
            let i = rng.pick(["i", "j", "step"])
            let n = rng.int(1...7)
            let r = (1...n).reduce(1, *)
            return Function(
                name: name,
                lines: [
                    "def \(name)(\(param)):", "    \(acc) = 1", "    for \(i) in range(2, \(param) + 1):",
                    "        \(acc) *= \(i)", "    return \(acc)",
                ],
                call: "\(name)(\(n))", result: "\(r)", wrongResult: wrong(r, &rng),
                description: "returns the factorial of \(param)", arity: 1)
        },
        { rng in
            let name = rng.pick(["clamp", "limit", "bound"])
            let (low, high) = (rng.int(0...10), rng.int(20...50))
            let x = rng.int(-10...70)
            let r = min(max(x, low), high)
            return Function(
                name: name,
                lines: [
                    "def \(name)(value, low, high):", "    if value < low:", "        return low",
                    "    if value > high:", "        return high", "    return value",
                ],
                call: "\(name)(\(x), \(low), \(high))", result: "\(r)", wrongResult: wrong(r, &rng),
                description: "keeps value between low and high", arity: 3)
        },
        { rng in
            let name = rng.pick(["count_vowels", "vowels_in"])
            let param = rng.pick(["text", "word", "s"])
            let ch = rng.pick(["ch", "c", "letter"])
            let word = rng.pick(words)
            let r = word.filter { "aeiou".contains($0) }.count
            return Function(
                name: name,
                lines: [
                    "def \(name)(\(param)):", "    found = 0", "    for \(ch) in \(param):",
                    "        if \(ch) in \"aeiou\":", "            found += 1", "    return found",
                ],
                call: "\(name)(\"\(word)\")", result: "\(r)", wrongResult: wrong(r, &rng),
                description: "counts the vowels in \(param)", arity: 1)
        },
        { rng in
            let name = rng.pick(["power", "raise_to"])
            let (b, e) = (rng.int(2...5), rng.int(0...4))
            var r = 1
            for _ in 0..<e { r *= b }
            return Function(
                name: name,
                lines: [
                    "def \(name)(base, exponent):", "    result = 1", "    for _ in range(exponent):",
                    "        result *= base", "    return result",
                ],
                call: "\(name)(\(b), \(e))", result: "\(r)", wrongResult: wrong(r, &rng),
                description: "raises base to exponent", arity: 2)
        },
        { rng in
            let positive = rng.chance(0.5)
            let name = positive ? "keep_positive" : "keep_negative"
            let list = rng.pick(listNames)
            let element = rng.pick(elementNames)
            let xs = randomList(&rng, -9...9)
            let kept = xs.filter { positive ? $0 > 0 : $0 < 0 }
            var wrongList = kept
            if wrongList.isEmpty { wrongList = [positive ? 1 : -1] } else { wrongList.removeLast() }
            return Function(
                name: name,
                lines: [
                    "def \(name)(\(list)):",
                    "    return [\(element) for \(element) in \(list) if \(element) \(positive ? ">" : "<") 0]",
                ],
                call: "\(name)(\(listLiteral(xs)))", result: listLiteral(kept), wrongResult: listLiteral(wrongList),
                description: "keeps the \(positive ? "positive" : "negative") \(list)", arity: 1)
        },
        { rng in
            let name = rng.pick(["is_even", "even"])
            let n = rng.int(0...99)
            return Function(
                name: name, lines: ["def \(name)(n):", "    return n % 2 == 0"],
                call: "\(name)(\(n))", result: n % 2 == 0 ? "True" : "False",
                wrongResult: n % 2 == 0 ? "False" : "True",
                description: "tells whether n is even", arity: 1)
        },
    ]

    static func function(_ rng: inout SplitMix64) -> Function { rng.pick(makers)(&rng) }

    /// The function's lines, with a docstring and an example line now and then.
    static func render(_ f: Function, _ rng: inout SplitMix64, docstring: Bool, example: Bool) -> [String] {
        var lines = [f.lines[0]]
        if docstring { lines.append("    \"\"\"\(CorpusText.capitalized(f.description)).\"\"\"") }
        lines += f.lines.dropFirst()
        if example {
            lines.append(
                rng.pick([
                    "# \(f.call) returns \(f.result)", "assert \(f.call) == \(f.result)",
                    "print(\(f.call))  # \(f.result)",
                ]))
        }
        return lines
    }

    static func document(_ rng: inout SplitMix64) -> String {
        if rng.chance(0.1) { return reviews.review(positive: rng.chance(0.5), &rng) }
        var lines: [String] = []
        if rng.chance(0.3) { lines.append("# \(rng.pick(["helpers", "utilities", "small functions", "exercises"]))") }
        for _ in 0..<rng.int(1...3) {
            lines += render(function(&rng), &rng, docstring: rng.chance(0.5), example: rng.chance(0.7))
        }
        return lines.joined(separator: "\n")
    }

    static func summarized(_ rng: inout SplitMix64) -> (document: String, summary: String) {
        let f = function(&rng)
        let lines = render(f, &rng, docstring: false, example: true)
        return (lines.joined(separator: "\n"), "The function \(f.name) \(f.description); \(f.call) gives \(f.result).")
    }

    static func pair(entailed: Bool, _ rng: inout SplitMix64) -> (premise: String, hypothesis: String) {
        let f = function(&rng)
        var facts = PremiseFacts(premise: f.lines.joined(separator: "\n"))
        facts.holds.append("\(f.call) returns \(f.result).")
        facts.fails.append("\(f.call) returns \(f.wrongResult).")
        facts.holds.append(
            "The function \(f.name) takes \(CorpusText.words(f.arity)) \(f.arity == 1 ? "argument" : "arguments").")
        let wrongArity = f.arity == 1 ? 2 : f.arity - 1
        facts.fails.append(
            "The function \(f.name) takes \(CorpusText.words(wrongArity))"
                + " \(wrongArity == 1 ? "argument" : "arguments")."
        )
        return facts.pick(entailed: entailed, &rng)
    }

    static let reviews = ReviewLexicon(
        openings: [
            "I reviewed the changes to {} this morning.", "Comment on the patch for {}:",
            "We merged the rewrite of {} last week.", "I tried the new version of {} today.",
        ],
        items: [
            "the parser", "the cache layer", "the login module", "the test runner", "the build script",
            "the date helpers", "the CSV reader", "the web client",
        ],
        aspects: [
            ReviewAspect(
                "the function", good: ["clean", "concise", "elegant"], bad: ["bloated", "convoluted", "messy"]),
            ReviewAspect(
                "the tests", plural: true, good: ["thorough", "fast", "reliable"], bad: ["flaky", "missing", "slow"]),
            ReviewAspect(
                "the naming", good: ["clear", "consistent", "descriptive"],
                bad: ["cryptic", "inconsistent", "misleading"]),
            ReviewAspect(
                "the documentation", good: ["thorough", "accurate", "helpful"], bad: ["outdated", "sparse", "wrong"]),
            ReviewAspect(
                "the error handling", good: ["robust", "careful", "explicit"], bad: ["fragile", "missing", "sloppy"]),
            ReviewAspect(
                "the loop", good: ["efficient", "simple", "correct"], bad: ["inefficient", "buggy", "quadratic"]),
            ReviewAspect(
                "this pull request", good: ["focused", "tidy", "small"], bad: ["huge", "unfocused", "risky"]),
            ReviewAspect(
                "the API", good: ["intuitive", "consistent", "stable"], bad: ["awkward", "leaky", "confusing"]),
            ReviewAspect("the build", good: ["green", "fast", "reproducible"], bad: ["broken", "red", "slow"]),
            ReviewAspect(
                "the type hints", plural: true, good: ["precise", "complete", "helpful"],
                bad: ["wrong", "missing", "sloppy"]),
            ReviewAspect(
                "the logging", good: ["useful", "quiet", "structured"], bad: ["noisy", "verbose", "useless"]),
        ],
        good: ["solid", "excellent", "great"],
        bad: ["terrible", "unacceptable", "poor"],
        goodVerdicts: ["Approved, ready to merge.", "Nice work, ship it.", "Looks good to me."],
        badVerdicts: ["Please rework this before merging.", "Requesting changes.", "This needs another pass."])
}
