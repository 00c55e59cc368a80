import ExpertLock
import TensorCore

/// Company results, market closes and loan interest. The percentage is computed from the two
/// figures (rounded), the direction words ("rose", "fell") follow the sign, a loss is a negative
/// profit, the chief executive's tone follows the results, index moves are consistent with the
/// closing level, and simple interest is principal × rate × years / 100.
enum FinanceReports: DomainGenerator {
    static let prefixes = [
        "North", "Blue", "Silver", "Red", "Iron", "Oak", "Bright", "Summit", "Harbor", "Pioneer",
        "Granite", "Cedar", "Atlas", "Crescent", "Falcon", "Maple", "Golden", "Stone",
    ]
    static let stems = ["field", "stone", "line", "bridge", "wood", "point", "gate", "crest", "water", "ridge"]
    static let industries = [
        "Energy", "Logistics", "Foods", "Motors", "Pharma", "Telecom", "Retail", "Airlines",
        "Mining", "Software", "Insurance", "Textiles", "Chemicals", "Shipping",
    ]
    static let executives = [
        "Karen Holt", "David Reyes", "Priya Nair", "Martin Cole", "Sara Lund", "Omar Haddad",
        "Helen Park", "James Okoro", "Lucia Ferrante", "Peter Brandt",
    ]
    static let quarters = ["first", "second", "third", "fourth"]
    static let indexNames = ["Harbor 100", "Meridian 50", "Continental 200", "Northern Composite", "Summit 30"]

    static func company(_ rng: inout SplitMix64) -> String {
        rng.pick(prefixes) + rng.pick(stems) + " " + rng.pick(industries)
    }

    /// One quarter's results.
    struct Results {
        var company: String
        var quarter: String
        var year: Int
        var before: Int
        var after: Int
        var profit: Int
        var executive: String
        var shareMove: Int

        init(_ rng: inout SplitMix64) {
            company = FinanceReports.company(&rng)
            quarter = rng.pick(quarters)
            year = rng.int(2012...2024)
            before = rng.int(40...900)
            repeat {
                after = before * (100 + rng.int(-30...40)) / 100
            } while after == before
            profit = after * rng.int(-12...25) / 100
            executive = rng.pick(executives)
            // Shares usually follow the results, but not always.
            let sign = (after > before) == rng.chance(0.8) ? 1 : -1
            shareMove = sign * rng.int(1...12)
        }

        var rose: Bool { after > before }
        var percent: Int { abs(CorpusText.roundedDivision((after - before) * 100, before)) }

        func revenueSentence(_ rng: inout SplitMix64) -> String {
            let change =
                rose
                ? rng.pick(["an increase of", "up", "a rise of"]) : rng.pick(["a decrease of", "down", "a fall of"])
            return rng.pick([
                "\(company) reported revenue of \(after) million dollars in the \(quarter) quarter of \(year),"
                    + " \(change) \(percent) percent from \(before) million a year earlier.",
                "In the \(quarter) quarter of \(year), revenue at \(company) \(rose ? "rose" : "fell")"
                    + " from \(before) million"
                    + " to \(after) million dollars, \(change) \(percent) percent.",
            ])
        }

        var profitSentence: String {
            if profit > 0 { return "Net profit was \(profit) million dollars." }
            if profit < 0 { return "The company made a net loss of \(-profit) million dollars." }
            return "The company broke even."
        }

        func quote(_ rng: inout SplitMix64) -> String {
            let line =
                rose
                ? rng.pick([
                    "We are pleased with the strong demand", "Our strategy is paying off",
                    "This was a record quarter for us",
                ])
                : rng.pick([
                    "It has been a difficult quarter", "Demand was weaker than we hoped",
                    "We are cutting costs to protect margins",
                ])
            return "\"\(line),\" said chief executive \(executive)."
        }

        func shareSentence(_ rng: inout SplitMix64) -> String {
            shareMove > 0
                ? "The shares \(rng.pick(["gained", "rose", "climbed"])) \(shareMove) percent in early trading."
                : "The shares \(rng.pick(["lost", "fell", "dropped"])) \(-shareMove) percent in early trading."
        }

        var summary: String {
            "\(company) revenue \(rose ? "rose" : "fell") \(percent) percent to \(after) million dollars."
        }
    }

    static func market(_ rng: inout SplitMix64) -> String {
        let index = rng.pick(indexNames)
        let previous = rng.int(1500...9000)
        let change = previous * rng.int(-35...35) / 1000
        let close = previous + change
        let tenths = CorpusText.roundedDivision(change * 1000, previous)
        let direction = change >= 0 ? "up" : "down"
        var sentences = [
            "The \(index) index closed at \(close) points"
                + " on \(rng.pick(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"])),"
                + " \(direction) \(abs(change)) points or \(CorpusText.decimal(tenths: abs(tenths))) percent.",
            rng.pick([
                "\(rng.pick(industries)) stocks led the \(change >= 0 ? "gains" : "losses").",
                "Trading volume was \(rng.pick(["light", "heavy", "average"])).",
            ]),
        ]
        if rng.chance(0.5) {
            let cents = rng.int(60...160)
            sentences.append("The dollar traded at \(cents / 100).\(CorpusText.twoDigits(cents % 100)) euros.")
        }
        return sentences.joined(separator: " ")
    }

    static func loan(_ rng: inout SplitMix64) -> String {
        let principal = rng.int(1...50) * 1000
        let rate = rng.int(2...9)
        let years = rng.int(1...10)
        let interest = principal * rate * years / 100
        return
            "A loan of \(principal) dollars at \(rate) percent simple interest"
            + " for \(CorpusText.count(years, "year", "years"))"
            + " costs \(interest) dollars in interest. The borrower repays \(principal + interest) dollars in total."
    }

    static func document(_ rng: inout SplitMix64) -> String {
        let roll = rng.int(0...9)
        if roll == 0 { return reviews.review(positive: rng.chance(0.5), &rng) }
        if roll == 1 { return market(&rng) }
        if roll == 2 { return loan(&rng) }
        let results = Results(&rng)
        var sentences = [results.revenueSentence(&rng), results.profitSentence]
        if rng.chance(0.7) { sentences.append(results.shareSentence(&rng)) }
        if rng.chance(0.6) { sentences.append(results.quote(&rng)) }
        if rng.chance(0.4) {
            sentences.append(
                "The board \(results.profit > 0 ? "kept" : "cut") the dividend"
                    + " \(results.profit > 0 ? "at" : "to")"
                    + " \(results.profit > 0 ? rng.int(5...60) : rng.int(0...4)) cents per share."
            )
        }
        if rng.chance(0.3) { sentences.append(market(&rng)) }
        return sentences.joined(separator: " ")
    }

    static func summarized(_ rng: inout SplitMix64) -> (document: String, summary: String) {
        let results = Results(&rng)
        var sentences = [results.revenueSentence(&rng), results.profitSentence, results.shareSentence(&rng)]
        if rng.chance(0.7) { sentences.append(results.quote(&rng)) }
        return (sentences.joined(separator: " "), results.summary)
    }

    static func pair(entailed: Bool, _ rng: inout SplitMix64) -> (premise: String, hypothesis: String) {
        let r = Results(&rng)
        var facts = PremiseFacts(
            premise:
                "\(r.company) revenue \(r.rose ? "rose" : "fell") from \(r.before) million"
                + " to \(r.after) million dollars."
        )
        let diff = abs(r.after - r.before)
        facts.holds += [
            "Revenue \(r.rose ? "increased" : "decreased").",
            "Revenue \(r.rose ? "grew" : "shrank") by \(diff) million dollars.",
        ]
        facts.fails += [
            "Revenue \(r.rose ? "decreased" : "increased").",
            "Revenue \(r.rose ? "grew" : "shrank") by \(diff + 10 * rng.int(1...3)) million dollars.",
        ]
        return facts.pick(entailed: entailed, &rng)
    }

    static let reviews = ReviewLexicon(
        openings: [
            "I have banked with {} for two years.", "I opened a savings account at {} in March.",
            "We moved our business account to {} last year.", "My pension is managed by {}.",
        ],
        items: prefixes.map { $0 + "field Bank" },
        aspects: [
            ReviewAspect(
                "the fees", plural: true, good: ["fair", "low", "transparent"],
                bad: ["hidden", "outrageous", "excessive"]),
            ReviewAspect("the mobile app", good: ["fast", "intuitive", "reliable"], bad: ["buggy", "slow", "clunky"]),
            ReviewAspect(
                "customer support", good: ["helpful", "patient", "quick"], bad: ["unhelpful", "rude", "unreachable"]),
            ReviewAspect(
                "the interest rate", good: ["competitive", "generous", "attractive"],
                bad: ["miserly", "pathetic", "uncompetitive"]),
            ReviewAspect(
                "the advisor", good: ["knowledgeable", "honest", "attentive"], bad: ["pushy", "clueless", "dishonest"]),
            ReviewAspect(
                "the account opening", good: ["quick", "painless", "simple"], bad: ["slow", "painful", "bureaucratic"]),
            ReviewAspect(
                "the transfers", plural: true, good: ["instant", "cheap", "reliable"],
                bad: ["delayed", "expensive", "lost"]),
            ReviewAspect(
                "the statements", plural: true, good: ["clear", "accurate", "detailed"],
                bad: ["confusing", "wrong", "late"]),
            ReviewAspect(
                "the returns", plural: true, good: ["strong", "steady", "impressive"],
                bad: ["weak", "negative", "disappointing"]),
        ],
        good: ["excellent", "outstanding", "great"],
        bad: ["terrible", "shocking", "awful"],
        goodVerdicts: ["I would recommend them to anyone.", "Five stars from me.", "A bank that actually cares."],
        badVerdicts: ["I am moving my savings elsewhere.", "Avoid this bank.", "I have filed a complaint."])
}
