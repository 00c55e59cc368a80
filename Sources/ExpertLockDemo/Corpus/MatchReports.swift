import ExpertLock
import TensorCore

/// Match reports for football, basketball and tennis. Scores are consistent with everything said
/// about them: the winner has the higher score, the running score after each goal and the half-time
/// score follow from the goal minutes, the verb follows the margin ("edged" for one goal,
/// "thrashed" for three or more), basketball quarters add up to the final score, and tennis sets
/// are won 6–x or 7–5/7–6.
enum MatchReports: DomainGenerator {
    static let towns = [
        "Ashford", "Kingsbridge", "Millbrook", "Oakridge", "Riverton", "Stonehaven", "Westfield", "Northgate",
        "Eastwood", "Fairview", "Greenhill", "Bramley", "Castleton", "Dunmore", "Elmstead", "Foxborough",
        "Glenville", "Hartley", "Ironbridge", "Lakeside", "Marston", "Newbury", "Oldham", "Pembrook", "Redcliffe",
        "Sandown", "Thornbury", "Whitby", "Yarrow", "Ravenscroft",
    ]
    static let footballSuffixes = ["Rovers", "United", "City", "Athletic", "Wanderers", "Albion", "Rangers", "Town"]
    static let basketballSuffixes = ["Hawks", "Bears", "Wolves", "Eagles", "Lions", "Sharks", "Comets", "Giants"]
    static let surnames = [
        "Silva", "Dupont", "Jones", "Novak", "Moreau", "Okafor", "Kowalski", "Hansen", "Rossi", "Murphy", "Costa",
        "Fischer", "Berg", "Ivanov", "Larsen", "Nakamura", "Mensah", "Diaz", "Walsh", "Keller", "Petrov", "Lindqvist",
        "Osei", "Romero", "Varga", "Brennan", "Achebe", "Horvat", "Sato", "Nielsen",
    ]
    static let firstNames = [
        "Anna", "Maria", "Elena", "Sofia", "Laura", "Nina", "Clara", "Julia", "Marco", "Luca", "Jonas", "Felix",
        "Pablo", "Tomas", "Viktor", "Daniel",
    ]
    static let days = ["Saturday", "Sunday", "Wednesday", "Tuesday", "Friday"]

    /// A football match: goal events in minute order, each credited to a team and a scorer.
    struct FootballMatch {
        var home: String
        var away: String
        var goals: [(minute: Int, home: Bool, scorer: String)] = []
        var day: String

        init(_ rng: inout SplitMix64) {
            let pair = rng.sample(towns, count: 2)
            let suffixes = rng.sample(footballSuffixes, count: 2)
            home = pair[0] + " " + suffixes[0]
            away = pair[1] + " " + suffixes[1]
            day = rng.pick(days)
            let homeGoals = rng.pick([0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5])
            let awayGoals = rng.pick([0, 0, 1, 1, 1, 2, 2, 3, 4])
            var sides = Array(repeating: true, count: homeGoals) + Array(repeating: false, count: awayGoals)
            sides = rng.sample(sides, count: sides.count)
            let minutes = rng.sample(Array(1...90), count: sides.count).sorted()
            let homePlayers = rng.sample(surnames, count: 3)
            let awayPlayers = rng.sample(surnames.filter { !homePlayers.contains($0) }, count: 3)
            for (minute, isHome) in zip(minutes, sides) {
                goals.append((minute, isHome, rng.pick(isHome ? homePlayers : awayPlayers)))
            }
        }

        var homeScore: Int { goals.filter { $0.home }.count }
        var awayScore: Int { goals.count - homeScore }

        /// "Ashford Rovers beat Millbrook City 3 to 1." with the verb chosen by the margin.
        func result(_ rng: inout SplitMix64, day: Bool = false) -> String {
            let when = day ? " on \(self.day)" : ""
            if homeScore == awayScore {
                return "\(home) and \(away) drew \(homeScore) to \(awayScore)\(when)."
            }
            let (winner, loser, w, l) =
                homeScore > awayScore
                ? (home, away, homeScore, awayScore) : (away, home, awayScore, homeScore)
            let verb =
                w - l >= 3
                ? rng.pick(["thrashed", "crushed", "routed"])
                : w - l == 1 ? rng.pick(["edged", "beat", "narrowly beat"]) : rng.pick(["beat", "defeated"])
            return "\(winner) \(verb) \(loser) \(w) to \(l)\(when)."
        }

        var summary: String {
            if homeScore == awayScore { return "\(home) and \(away) drew \(homeScore) to \(awayScore)." }
            return homeScore > awayScore
                ? "\(home) beat \(away) \(homeScore) to \(awayScore)."
                : "\(away) beat \(home) \(awayScore) to \(homeScore)."
        }

        /// One sentence per goal; the wording follows the running score.
        func goalSentences(_ rng: inout SplitMix64, limit: Int) -> [String] {
            var h = 0
            var a = 0
            var out: [String] = []
            for goal in goals.prefix(limit) {
                let before = goal.home ? h - a : a - h
                if goal.home { h += 1 } else { a += 1 }
                let team = goal.home ? home : away
                let minute = "in the \(CorpusText.ordinal(goal.minute)) minute"
                let s: String
                if h + a == 1 {
                    s = rng.pick([
                        "\(goal.scorer) opened the scoring for \(team) \(minute).",
                        "\(goal.scorer) put \(team) ahead \(minute).",
                    ])
                } else if before == -1 {
                    s = "\(goal.scorer) equalised for \(team) \(minute) to make it \(h) to \(a)."
                } else if before == 0 {
                    s = "\(goal.scorer) gave \(team) the lead \(minute)."
                } else if before < 0 {
                    s = "\(goal.scorer) pulled one back for \(team) \(minute)."
                } else {
                    s = "\(goal.scorer) made it \(h) to \(a) \(minute)."
                }
                out.append(s)
            }
            return out
        }

        var halfTime: (Int, Int) {
            let first = goals.filter { $0.minute <= 45 }
            let h = first.filter { $0.home }.count
            return (h, first.count - h)
        }
    }

    static func football(_ rng: inout SplitMix64, maxSentences: Int) -> (String, String) {
        let match = FootballMatch(&rng)
        var sentences: [String] = []
        let resultFirst = rng.chance(0.7)
        if resultFirst {
            sentences.append(match.result(&rng, day: true))
        } else {
            sentences.append("\(match.home) hosted \(match.away) on \(match.day).")
        }
        let goalLimit = max(0, maxSentences - 3)
        sentences += match.goalSentences(&rng, limit: goalLimit)
        if match.goals.isEmpty { sentences.append("Neither side could find a goal.") }
        let (h, a) = match.halfTime
        if match.goals.count > goalLimit || sentences.count < 3 || rng.chance(0.5) {
            sentences.append("At half time the score was \(h) to \(a).")
        }
        if !resultFirst {
            sentences.append("The match finished \(match.homeScore) to \(match.awayScore).")
        }
        if sentences.count < maxSentences && rng.chance(0.5) {
            sentences.append("The attendance was \(rng.int(80...450) * 100).")
        }
        return (sentences.joined(separator: " "), match.summary)
    }

    static func basketball(_ rng: inout SplitMix64) -> (String, String) {
        let pair = rng.sample(towns, count: 2)
        let suffixes = rng.sample(basketballSuffixes, count: 2)
        let teams = [pair[0] + " " + suffixes[0], pair[1] + " " + suffixes[1]]
        var quarters = [(0..<4).map { _ in rng.int(14...34) }, (0..<4).map { _ in rng.int(14...34) }]
        var overtime = false
        if quarters[0].reduce(0, +) == quarters[1].reduce(0, +) {
            overtime = true
            let extra = rng.int(4...12)
            quarters[0].append(extra)
            quarters[1].append(extra + rng.offset(5))
        }
        let totals = quarters.map { $0.reduce(0, +) }
        let w = totals[0] > totals[1] ? 0 : 1
        let l = 1 - w
        let half = [quarters[0][0] + quarters[0][1], quarters[1][0] + quarters[1][1]]
        var sentences = [
            "The \(teams[w]) \(rng.pick(["beat", "defeated", "saw off"]))"
                + " the \(teams[l]) \(totals[w]) to \(totals[l]).",
            "\(rng.pick(surnames)) led the \(teams[w]) with \(rng.int(18...41)) points.",
        ]
        if half[0] != half[1] {
            let leader = half[0] > half[1] ? 0 : 1
            sentences.append("The \(teams[leader]) led \(half[leader]) to \(half[1 - leader]) at half time.")
        } else {
            sentences.append("The teams were level at \(half[0]) at half time.")
        }
        if overtime { sentences.append("The game went to overtime after a tie in regulation.") }
        if rng.chance(0.5) {
            sentences.append("\(rng.pick(surnames)) added \(rng.int(8...20)) rebounds for the \(teams[l]).")
        }
        return (sentences.joined(separator: " "), "The \(teams[w]) beat the \(teams[l]) \(totals[w]) to \(totals[l]).")
    }

    /// Best of three sets; each set is won 6–0…6–4, 7–5 or 7–6.
    static func tennis(_ rng: inout SplitMix64) -> (String, String) {
        let names = rng.sample(surnames, count: 2).map { rng.pick(firstNames) + " " + $0 }
        let winnerLosesSet = rng.chance(0.4)
        var sets: [(Int, Int)] = []
        let order = winnerLosesSet ? rng.pick([[true, false, true], [false, true, true]]) : [true, true]
        for winnerTakes in order {
            let loserGames = rng.pick([0, 1, 2, 3, 4, 4, 5, 6])
            let game = loserGames == 5 ? (7, 5) : loserGames == 6 ? (7, 6) : (6, loserGames)
            sets.append(winnerTakes ? game : (game.1, game.0))
        }
        let score = sets.map { "\($0.0)-\($0.1)" }.joined(separator: ", ")
        let setWord = sets.count == 3 ? "three" : "straight"
        var sentences = [
            "\(names[0]) beat \(names[1]) \(score)"
                + " in the \(rng.pick(["quarter final", "semi final", "final", "second round"])).",
            "The match lasted \(CorpusText.duration(rng.int(14...40) * 5)).",
        ]
        if sets.count == 3 {
            sentences.append("\(names[1]) took the \(sets[0].0 < sets[0].1 ? "first" : "second") set.")
        }
        sentences.append("\(names[0]) served \(rng.int(2...19)) aces.")
        return (sentences.joined(separator: " "), "\(names[0]) beat \(names[1]) in \(setWord) sets.")
    }

    static func document(_ rng: inout SplitMix64) -> String {
        let roll = rng.int(0...9)
        if roll == 0 { return reviews.review(positive: rng.chance(0.5), &rng) }
        if roll <= 5 { return football(&rng, maxSentences: 9).0 }
        return roll <= 8 ? basketball(&rng).0 : tennis(&rng).0
    }

    static func summarized(_ rng: inout SplitMix64) -> (document: String, summary: String) {
        let roll = rng.int(0...5)
        if roll <= 2 { return football(&rng, maxSentences: 6) }
        return roll <= 4 ? basketball(&rng) : tennis(&rng)
    }

    static func pair(entailed: Bool, _ rng: inout SplitMix64) -> (premise: String, hypothesis: String) {
        let match = FootballMatch(&rng)
        let (h, a) = (match.homeScore, match.awayScore)
        var facts = PremiseFacts(
            premise: rng.pick([
                "\(match.home) scored \(h) and \(match.away) scored \(a).",
                "The match between \(match.home) and \(match.away) ended \(h) to \(a).",
            ]))
        let draw = "The match ended in a draw."
        let homeWon = "\(match.home) won."
        let awayWon = "\(match.away) won."
        if h > a {
            facts.holds += [homeWon, "\(match.away) lost."]
            facts.fails += [awayWon, draw, "\(match.home) lost."]
        } else if a > h {
            facts.holds += [awayWon, "\(match.home) lost."]
            facts.fails += [homeWon, draw, "\(match.away) lost."]
        } else {
            facts.holds += [draw, "Neither team won."]
            facts.fails += [homeWon, awayWon]
        }
        if h != a {
            facts.fails.append("Neither team won.")
        }
        facts.holds.append("\(match.home) scored \(h) \(h == 1 ? "goal" : "goals").")
        let wrong = max(0, h + rng.offset(2))
        if wrong != h { facts.fails.append("\(match.home) scored \(wrong) \(wrong == 1 ? "goal" : "goals").") }
        facts.holds.append("The teams scored \(h + a) goals in total.")
        facts.fails.append("The teams scored \(h + a + rng.int(1...3)) goals in total.")
        return facts.pick(entailed: entailed, &rng)
    }

    static let reviews = ReviewLexicon(
        openings: [
            "I watched {} at the stadium on Saturday.", "Just got home from the {} game.",
            "Season ticket holder here, back from watching {}.", "Caught the {} match on television.",
        ],
        items: towns.map { $0 + " " + footballSuffixes[$0.count % footballSuffixes.count] },
        aspects: [
            ReviewAspect(
                "the defence", good: ["solid", "organised", "resolute"], bad: ["shaky", "sloppy", "disorganised"]),
            ReviewAspect(
                "the midfield", good: ["dominant", "creative", "tireless"], bad: ["overrun", "lifeless", "sluggish"]),
            ReviewAspect("the passing", good: ["crisp", "accurate", "sharp"], bad: ["sloppy", "careless", "wayward"]),
            ReviewAspect(
                "the finishing", good: ["clinical", "deadly", "composed"], bad: ["wasteful", "wayward", "toothless"]),
            ReviewAspect(
                "the goalkeeper", good: ["superb", "fearless", "agile"], bad: ["clumsy", "nervous", "hopeless"]),
            ReviewAspect(
                "the atmosphere", good: ["electric", "loud", "incredible"], bad: ["flat", "quiet", "lifeless"]),
            ReviewAspect(
                "the referee", good: ["fair", "consistent", "calm"], bad: ["biased", "inconsistent", "clueless"]),
            ReviewAspect(
                "the fans", plural: true, good: ["loud", "passionate", "magnificent"],
                bad: ["silent", "hostile", "quiet"]),
            ReviewAspect(
                "the substitutes", plural: true, good: ["decisive", "lively", "sharp"],
                bad: ["useless", "slow", "invisible"]),
            ReviewAspect(
                "the tactics", plural: true, good: ["bold", "clever", "brilliant"],
                bad: ["negative", "baffling", "naive"]),
        ],
        good: ["brilliant", "outstanding", "superb"],
        bad: ["woeful", "dreadful", "poor"],
        goodVerdicts: [
            "What a performance from the lads.", "Best game I have seen all season.",
            "Proud to support this club.",
        ],
        badVerdicts: [
            "A match to forget.", "The manager has a lot of work to do.",
            "I want my money back.",
        ])
}
