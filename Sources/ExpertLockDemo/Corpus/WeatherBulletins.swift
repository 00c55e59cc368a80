import ExpertLock
import TensorCore

/// Weather bulletins. The numbers follow the condition words: snow comes with sub-zero highs, a
/// storm with gale winds and rain, a heatwave with highs above 33 degrees; the low is always below
/// the high; advice depends on the figures (heat, ice, flooding).
enum WeatherBulletins: DomainGenerator {
    struct Condition {
        var name: String
        var high: ClosedRange<Int>
        var wind: ClosedRange<Int>
        /// Millimetres of rain (or centimetres of snow when `snow`).
        var precipitation: ClosedRange<Int>
        var snow = false
        var phrases: [String]
        /// The adjective used when the condition is named in passing ("it was rainy in Bergen").
        var adjective: String
        /// Conditions of one family can be described by each other's words (a storm is rainy, a
        /// heatwave sunny), so a false hypothesis names a condition of another family.
        var family: Int
    }

    static let conditions: [Condition] = [
        Condition(
            name: "sunny", high: 16...32, wind: 5...20, precipitation: 0...0,
            phrases: [
                "Sunshine is expected all day", "Skies will be clear and sunny", "It will be a bright, sunny day",
                "Plenty of sunshine is forecast",
            ], adjective: "sunny", family: 0),
        Condition(
            name: "cloudy", high: 6...21, wind: 10...30, precipitation: 0...0,
            phrases: [
                "Skies will stay grey and cloudy", "Thick cloud will cover the region",
                "It will be a dull, overcast day",
            ], adjective: "cloudy", family: 1),
        Condition(
            name: "drizzle", high: 5...15, wind: 5...20, precipitation: 1...4,
            phrases: ["Light drizzle will fall at times", "A damp day with patchy drizzle is expected"],
            adjective: "damp", family: 2),
        Condition(
            name: "rain", high: 4...19, wind: 10...35, precipitation: 5...24,
            phrases: [
                "Rain will spread in from the west", "Showers will continue on and off",
                "Outbreaks of rain are expected",
            ], adjective: "rainy", family: 2),
        Condition(
            name: "heavy rain", high: 5...17, wind: 15...45, precipitation: 25...70,
            phrases: [
                "Heavy rain will fall for most of the day", "Persistent heavy rain is forecast",
                "Torrential downpours are expected",
            ], adjective: "rainy", family: 2),
        Condition(
            name: "thunderstorms", high: 20...31, wind: 20...50, precipitation: 10...40,
            phrases: [
                "Thunderstorms will develop in the humid air", "Thunder and lightning are likely",
                "Scattered thunderstorms will break out",
            ], adjective: "stormy", family: 2),
        Condition(
            name: "storm", high: 3...13, wind: 70...120, precipitation: 20...60,
            phrases: [
                "A severe storm will reach the coast", "Gale force winds and driving rain will batter the region",
                "A deep depression will bring a violent storm",
            ], adjective: "stormy", family: 2),
        Condition(
            name: "snow", high: -10...1, wind: 5...30, precipitation: 2...40, snow: true,
            phrases: ["Snow will fall through the day", "A heavy snowfall is expected", "Snow showers will sweep in"],
            adjective: "snowy", family: 3),
        Condition(
            name: "fog", high: 0...12, wind: 0...8, precipitation: 0...0,
            phrases: [
                "Dense fog will linger for hours", "Thick fog will reduce visibility to a few hundred metres",
                "A murky, foggy day is expected",
            ], adjective: "foggy", family: 1),
        Condition(
            name: "frost", high: -12...2, wind: 0...12, precipitation: 0...0,
            phrases: [
                "Clear skies will bring a hard frost", "A bitterly cold, frosty day is expected",
                "An icy high pressure system will settle over the region",
            ], adjective: "frosty", family: 3),
        Condition(
            name: "wind", high: 7...19, wind: 40...65, precipitation: 0...3,
            phrases: [
                "Strong winds will blow all day", "A blustery wind will sweep across the region",
                "Gusty winds are expected",
            ], adjective: "windy", family: 4),
        Condition(
            name: "heatwave", high: 33...41, wind: 0...15, precipitation: 0...0,
            phrases: [
                "The heatwave will continue", "Scorching heat will build again", "Another very hot day is expected",
            ],
            adjective: "hot", family: 0),
    ]

    static let cities = [
        "Oslo", "Bergen", "Trondheim", "Stavanger", "Stockholm", "Uppsala", "Gothenburg", "Malmo", "Helsinki",
        "Tampere", "Turku", "Copenhagen", "Aarhus", "Odense", "Reykjavik", "Tallinn", "Riga", "Vilnius", "Gdansk",
        "Hamburg", "Bremen", "Kiel", "Dublin", "Cork", "Galway", "Glasgow", "Aberdeen", "Edinburgh", "Inverness",
        "Cardiff", "Bristol", "Leeds", "Geneva", "Zurich", "Innsbruck", "Salzburg", "Graz", "Marseille", "Bordeaux",
        "Nantes", "Toulouse", "Bilbao", "Valencia", "Malaga",
    ]
    static let days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    static let directions = ["north", "north east", "east", "south east", "south", "south west", "west", "north west"]
    static let periods = ["this morning", "this afternoon", "this evening", "overnight", "from midday", "later today"]

    /// The facts of one bulletin.
    struct Forecast {
        var city: String
        var day: String
        var condition: Condition
        var high: Int
        var low: Int
        var wind: Int
        var direction: String
        var amount: Int

        init(_ rng: inout SplitMix64, city: String? = nil, condition: Condition? = nil) {
            self.city = city ?? rng.pick(cities)
            day = rng.pick(days)
            self.condition = condition ?? rng.pick(conditions)
            high = rng.int(self.condition.high)
            low = high - rng.int(3...11)
            wind = rng.int(self.condition.wind)
            direction = rng.pick(directions)
            amount = rng.int(self.condition.precipitation)
        }

        var summary: String {
            switch condition.name {
            case "storm": "Storm warning for \(city) with winds of \(wind) km/h."
            case "heavy rain": "Heavy rain warning for \(city) with \(amount) mm of rain."
            case "rain", "drizzle", "thunderstorms":
                "\(CorpusText.capitalized(condition.name)) in \(city) with \(amount) mm of rain."
            case "snow": "Snow in \(city) with \(amount) cm and a high of \(high) degrees."
            case "frost": "Frost in \(city) with a low of \(low) degrees."
            case "wind": "Windy in \(city) with winds of \(wind) km/h."
            case "heatwave": "Heatwave in \(city) with a high of \(high) degrees."
            default: "\(CorpusText.capitalized(condition.name)) in \(city) with a high of \(high) degrees."
            }
        }

        func headline(_ rng: inout SplitMix64) -> String {
            rng.pick([
                "Weather bulletin for \(city) on \(day).", "Here is the forecast for \(city) for \(day).",
                "\(day) forecast for \(city).", "The weather service has issued the \(day) forecast for \(city).",
                "Forecast for \(city), \(day).",
            ])
        }

        /// The condition, with its amount when it has one.
        func conditionSentence(_ rng: inout SplitMix64) -> String {
            var s = rng.pick(condition.phrases)
            // Phrases that already say how long it lasts take no time of day.
            if !s.contains("day") && !s.contains("hours") && rng.chance(0.5) { s += " " + rng.pick(periods) }
            guard amount > 0 else { return s + "." }
            if condition.snow {
                return s + rng.pick([", with \(amount) cm of snow.", ". Up to \(amount) cm of snow could settle."])
            }
            return s
                + rng.pick([", with \(amount) mm of rain expected.", ". Rainfall totals will reach \(amount) mm."])
        }

        func temperatureSentence(_ rng: inout SplitMix64) -> String {
            rng.pick([
                "The high will be \(high) degrees and the low \(low) degrees.",
                "Temperatures will range from \(low) to \(high) degrees.",
                "Expect a high of \(high) degrees, falling to \(low) degrees at night.",
                "Highs of \(high) degrees and lows of \(low) degrees are expected.",
            ])
        }

        func windSentence(_ rng: inout SplitMix64) -> String {
            if wind < 5 { return "The air will be almost calm." }
            var s = rng.pick([
                "Winds from the \(direction) at \(wind) km/h.", "A \(direction) wind will blow at \(wind) km/h.",
                "Wind: \(direction), \(wind) km/h.",
            ])
            if wind >= 60 { s += " Gusts could reach \(wind + 15 + 5 * (wind % 4)) km/h." }
            return s
        }

        /// Advice that follows from the figures.
        func advice(_ rng: inout SplitMix64) -> String? {
            if high >= 30 {
                return rng.pick(["Drink plenty of water in the afternoon heat.", "Avoid the midday sun."])
            }
            if wind >= 60 { return rng.pick(["Stay away from the sea front.", "Secure loose objects in gardens."]) }
            if condition.name == "heavy rain" { return "Flooding is possible on low roads." }
            if low < 0 { return rng.pick(["Roads may be icy overnight.", "Watch out for black ice on pavements."]) }
            if amount >= 5 { return rng.pick(["Take an umbrella.", "Keep a raincoat handy."]) }
            if condition.name == "fog" { return "Drivers should allow extra time." }
            if condition.name == "sunny" {
                return rng.pick(["A good day for a walk in the park.", "Remember sun cream."])
            }
            return nil
        }
    }

    static func document(_ rng: inout SplitMix64) -> String {
        if rng.chance(0.1) { return reviews.review(positive: rng.chance(0.5), &rng) }
        let forecast = Forecast(&rng)
        var sentences = [forecast.headline(&rng), forecast.conditionSentence(&rng)]
        var figures = [forecast.temperatureSentence(&rng), forecast.windSentence(&rng)]
        if rng.chance(0.5) { figures.reverse() }
        sentences += figures
        if let advice = forecast.advice(&rng) { sentences.append(advice) }
        if rng.chance(0.5) {
            let next = Forecast(&rng, city: forecast.city)
            sentences.append(
                "\(rng.pick(["Tomorrow", next.day, "The rest of the week"])) will be \(next.condition.adjective)"
                    + " with a high of \(next.high) degrees.")
        }
        if rng.chance(0.4) {
            let other = Forecast(&rng)
            sentences.append(
                "In \(other.city) it will be \(other.condition.adjective) with a high of \(other.high) degrees.")
        }
        return sentences.joined(separator: " ")
    }

    static func summarized(_ rng: inout SplitMix64) -> (document: String, summary: String) {
        let forecast = Forecast(&rng)
        var sentences = [
            forecast.headline(&rng), forecast.conditionSentence(&rng), forecast.temperatureSentence(&rng),
            forecast.windSentence(&rng),
        ]
        if let advice = forecast.advice(&rng) { sentences.append(advice) }
        return (sentences.joined(separator: " "), forecast.summary)
    }

    static func pair(entailed: Bool, _ rng: inout SplitMix64) -> (premise: String, hypothesis: String) {
        let a = Forecast(&rng)
        var b = Forecast(&rng)
        while b.city == a.city || b.high == a.high { b = Forecast(&rng) }
        var facts = PremiseFacts(
            premise: rng.pick([
                "In \(a.city) it was \(a.high) degrees and \(a.condition.adjective),"
                    + " while \(b.city) had \(b.high) degrees"
                    + " and was \(b.condition.adjective).",
                "\(a.city) was \(a.condition.adjective) at \(a.high) degrees and \(b.city) was \(b.condition.adjective)"
                    + " at \(b.high) degrees.",
            ]))
        let (warm, cold) = a.high > b.high ? (a, b) : (b, a)
        facts.holds += [
            "\(warm.city) was warmer than \(cold.city).", "\(cold.city) was colder than \(warm.city).",
            "It was \(a.high) degrees in \(a.city).", "It was \(a.condition.adjective) in \(a.city).",
            "It was \(b.condition.adjective) in \(b.city).",
        ]
        facts.fails += [
            "\(cold.city) was warmer than \(warm.city).", "\(warm.city) was colder than \(cold.city).",
            "It was \(a.high + rng.offset(6)) degrees in \(a.city).",
            "It was \(b.high + rng.offset(6)) degrees in \(b.city).",
        ]
        for city in [a, b] {
            let other = rng.pick(
                conditions.filter {
                    $0.family != city.condition.family && !($0.name == "wind" && city.wind >= 40)
                })
            facts.fails.append("It was \(other.adjective) in \(city.city).")
        }
        if cold.high < 0 { facts.holds.append("It was below freezing in \(cold.city).") }
        if warm.high > 0 { facts.fails.append("It was below freezing in \(warm.city).") }
        return facts.pick(entailed: entailed, &rng)
    }

    static let reviews = ReviewLexicon(
        openings: [
            "We spent a week in {} in the spring.", "I went hiking near {} last weekend.",
            "Our family holiday in {} was last month.", "We planned a picnic in {} on Sunday.",
        ],
        items: cities,
        aspects: [
            ReviewAspect(
                "the weather", good: ["glorious", "warm", "pleasant", "lovely"],
                bad: ["miserable", "bleak", "wet", "cold"]),
            ReviewAspect("the sky", good: ["clear", "blue", "bright"], bad: ["grey", "gloomy", "overcast"]),
            ReviewAspect(
                "the afternoons", plural: true, good: ["sunny", "warm", "balmy"], bad: ["chilly", "wet", "stormy"]),
            ReviewAspect("the sea breeze", good: ["refreshing", "gentle", "cool"], bad: ["bitter", "icy", "fierce"]),
            ReviewAspect(
                "the mornings", plural: true, good: ["crisp", "bright", "calm"], bad: ["foggy", "freezing", "dark"]),
            ReviewAspect(
                "the evenings", plural: true, good: ["mild", "balmy", "calm"], bad: ["freezing", "damp", "windy"]),
            ReviewAspect(
                "the forecast", good: ["accurate", "reliable", "spot on"], bad: ["wrong", "useless", "misleading"]),
            ReviewAspect(
                "the temperatures", plural: true, good: ["mild", "comfortable", "pleasant"],
                bad: ["freezing", "unbearable", "extreme"]),
            ReviewAspect(
                "the sunsets", plural: true, good: ["gorgeous", "stunning", "golden"], bad: ["hidden", "dull", "grey"]),
            ReviewAspect(
                "the rain", good: ["light", "brief", "gentle"], bad: ["relentless", "torrential", "endless"]),
        ],
        good: ["great", "perfect", "wonderful"],
        bad: ["terrible", "dreadful", "awful"],
        goodVerdicts: ["We were lucky with the weather.", "It was a lovely week.", "Perfect conditions overall."],
        badVerdicts: [
            "We barely left the hotel.", "We will pick a different month next time.",
            "The weather ruined the trip.",
        ])
}
