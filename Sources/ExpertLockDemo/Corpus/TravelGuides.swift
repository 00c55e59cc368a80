import ExpertLock
import TensorCore

/// Journeys and hotel stays. Distances come from fixed city positions, so the same route always has
/// the same length; journey times follow from the distance and the mode (a flight is faster than a
/// train, a train than a bus), the arrival time is the departure plus the journey, and a hotel bill
/// is nights × rate.
enum TravelGuides: DomainGenerator {
    /// Cities with approximate positions in kilometres on a flat map of Europe.
    static let cities: [(name: String, x: Int, y: Int)] = [
        ("Paris", 0, 0), ("Lyon", 110, -390), ("Madrid", -650, -1050), ("Barcelona", -60, -830),
        ("Lisbon", -1200, -1100),
        ("Rome", 780, -1080), ("Florence", 700, -820), ("Venice", 830, -620), ("Berlin", 890, 360), ("Prague", 890, 50),
        ("Budapest", 1400, -270), ("Amsterdam", 350, 420), ("Brussels", 220, 250), ("London", -270, 340),
        ("Krakow", 1390, 60), ("Warsaw", 1430, 360), ("Athens", 1800, -1500), ("Naples", 950, -1220),
        ("Seville", -900, -1450), ("Munich", 780, -200), ("Vienna", 1200, -180), ("Milan", 500, -560),
        ("Copenhagen", 750, 840), ("Edinburgh", -380, 880),
    ]

    struct Mode {
        var name: String
        /// Kilometres per hour, and fixed minutes added (boarding, check-in).
        var speed: Int
        var overhead: Int
        /// Euro cents per kilometre, and a fixed fare.
        var centsPerKm: Int
        var base: Int
        var maxDistance: Int
        var station: String
    }

    static let modes = [
        Mode(name: "train", speed: 140, overhead: 10, centsPerKm: 12, base: 10, maxDistance: 1300, station: "station"),
        Mode(name: "bus", speed: 75, overhead: 10, centsPerKm: 6, base: 5, maxDistance: 1100, station: "bus station"),
        Mode(name: "flight", speed: 650, overhead: 40, centsPerKm: 8, base: 40, maxDistance: 5000, station: "airport"),
    ]
    static let classes = ["second class", "first class", "standard", "saver"]
    static let hotels = [
        "Grand Hotel", "Hotel Central", "Riverside Inn", "Park Lodge", "Old Town Hostel",
        "Station Hotel", "Hotel Bellevue", "Harbour House",
    ]
    static let amenities = [
        "There is a restaurant car on board.", "Free wifi is available on board.",
        "Seats can be reserved in advance.", "Bicycles are allowed on this service.",
        "Snacks and drinks are sold on board.",
    ]

    static func distance(_ a: (name: String, x: Int, y: Int), _ b: (name: String, x: Int, y: Int)) -> Int {
        let dx = Double(a.x - b.x)
        let dy = Double(a.y - b.y)
        // sqrt is correctly rounded in IEEE 754, so this is the same on every platform.
        return Int((dx * dx + dy * dy).squareRoot())
    }

    struct Journey {
        var from: String
        var to: String
        var mode: Mode
        var distance: Int
        var departure: Int
        var minutes: Int
        var price: Int

        init(_ rng: inout SplitMix64) {
            mode = rng.pick(modes)
            var pair = rng.sample(TravelGuides.cities, count: 2)
            while TravelGuides.distance(pair[0], pair[1]) > mode.maxDistance {
                pair = rng.sample(TravelGuides.cities, count: 2)
            }
            from = pair[0].name
            to = pair[1].name
            distance = TravelGuides.distance(pair[0], pair[1])
            departure = rng.int(60...275) * 5
            // Rounded to five minutes, as timetables are.
            minutes = ((distance * 60 / mode.speed + mode.overhead) + 2) / 5 * 5
            price = (distance * mode.centsPerKm / 100 + mode.base) * rng.int(90...120) / 100
        }

        var arrival: Int { departure + minutes }
        var arrivalText: String {
            CorpusText.clock(arrival) + (arrival >= 1440 ? " the next day" : "")
        }
        var title: String { CorpusText.capitalized(mode.name) }

        var summary: String {
            "\(title) from \(from) to \(to) takes \(CorpusText.duration(minutes)) and costs \(price) euros."
        }

        func sentences(_ rng: inout SplitMix64) -> [String] {
            var out = [
                rng.pick([
                    "The \(CorpusText.clock(departure)) \(mode.name) from \(from) arrives in \(to) at \(arrivalText),"
                        + " a journey of \(CorpusText.duration(minutes)).",
                    "The \(mode.name) leaves \(from) at \(CorpusText.clock(departure))"
                        + " and reaches \(to) at \(arrivalText)."
                        + " The journey takes \(CorpusText.duration(minutes)).",
                ])
            ]
            out.append(rng.pick(["The distance is about \(distance) km.", "The route covers \(distance) km."]))
            out.append(
                rng.pick([
                    "A \(rng.pick(classes)) ticket costs \(price) euros.", "Fares start at \(price) euros.",
                    "Tickets cost \(price) euros if booked early.",
                ]))
            if mode.name == "flight" {
                out.append("Passengers should be at the airport \(rng.pick([60, 90, 120])) minutes before departure.")
            } else if rng.chance(0.5) {
                out.append(rng.pick(amenities))
            }
            return out
        }
    }

    struct Stay {
        var hotel: String
        var city: String
        var nights: Int
        var rate: Int
        var breakfast: Int

        init(_ rng: inout SplitMix64) {
            hotel = rng.pick(hotels)
            city = rng.pick(TravelGuides.cities).name
            nights = rng.int(1...7)
            rate = rng.int(9...40) * 5
            breakfast = rng.chance(0.5) ? 0 : rng.int(8...20)
        }

        func sentences(_ rng: inout SplitMix64) -> [String] {
            var out = [
                "We stayed \(CorpusText.count(nights, "night", "nights")) at the \(hotel) in \(city).",
                "The room cost \(rate) euros per night, so the stay came to \(nights * rate) euros.",
            ]
            out.append(
                breakfast == 0
                    ? "Breakfast was included."
                    : "Breakfast was extra at \(breakfast) euros per person.")
            return out
        }
    }

    static func document(_ rng: inout SplitMix64) -> String {
        let roll = rng.int(0...9)
        if roll == 0 { return reviews.review(positive: rng.chance(0.5), &rng) }
        if roll <= 2 { return Stay(&rng).sentences(&rng).joined(separator: " ") }
        let journey = Journey(&rng)
        var sentences = journey.sentences(&rng)
        if rng.chance(0.3) {
            var stay = Stay(&rng)
            stay.city = journey.to
            sentences += stay.sentences(&rng)
        }
        return sentences.joined(separator: " ")
    }

    static func summarized(_ rng: inout SplitMix64) -> (document: String, summary: String) {
        let journey = Journey(&rng)
        return (journey.sentences(&rng).joined(separator: " "), journey.summary)
    }

    static func pair(entailed: Bool, _ rng: inout SplitMix64) -> (premise: String, hypothesis: String) {
        if rng.chance(0.3) {
            let stay = Stay(&rng)
            var facts = PremiseFacts(
                premise:
                    "\(CorpusText.count(stay.nights, "night", "nights")) at the \(stay.hotel)"
                    + " cost \(stay.nights * stay.rate) euros."
            )
            facts.holds.append("One night at the \(stay.hotel) costs \(stay.rate) euros.")
            facts.fails.append("One night at the \(stay.hotel) costs \(stay.rate + 5 * rng.offset(4)) euros.")
            return facts.pick(entailed: entailed, &rng)
        }
        let j = Journey(&rng)
        var facts = PremiseFacts(
            premise:
                "The \(j.mode.name) leaves \(j.from) at \(CorpusText.clock(j.departure))"
                + " and arrives in \(j.to) at \(j.arrivalText)."
        )
        facts.holds.append("The journey takes \(CorpusText.duration(j.minutes)).")
        facts.fails.append("The journey takes \(CorpusText.duration(max(5, j.minutes + 5 * rng.offset(12)))).")
        facts.holds.append("The \(j.mode.name) goes to \(j.to).")
        facts.fails.append(
            "The \(j.mode.name) goes to \(rng.pick(cities.map(\.name).filter { $0 != j.to && $0 != j.from })).")
        return facts.pick(entailed: entailed, &rng)
    }

    static let reviews = ReviewLexicon(
        openings: [
            "We stayed in {} for three nights.", "I spent a long weekend in {} with friends.",
            "Our tour of {} ended yesterday.", "I travelled to {} for work last month.",
        ],
        items: cities.map(\.name),
        aspects: [
            ReviewAspect("the room", good: ["spotless", "spacious", "quiet"], bad: ["dirty", "cramped", "noisy"]),
            ReviewAspect(
                "the staff", plural: true, good: ["friendly", "helpful", "welcoming"],
                bad: ["rude", "unhelpful", "indifferent"]),
            ReviewAspect(
                "the breakfast", good: ["delicious", "varied", "generous"], bad: ["cold", "meagre", "stale"]),
            ReviewAspect("the bed", good: ["comfortable", "soft", "huge"], bad: ["lumpy", "hard", "tiny"]),
            ReviewAspect(
                "the location", good: ["convenient", "central", "perfect"], bad: ["remote", "sketchy", "inconvenient"]),
            ReviewAspect(
                "the view", good: ["stunning", "breathtaking", "lovely"], bad: ["ugly", "blocked", "depressing"]),
            ReviewAspect("the train", good: ["punctual", "clean", "fast"], bad: ["delayed", "packed", "filthy"]),
            ReviewAspect("the bathroom", good: ["spotless", "modern", "clean"], bad: ["filthy", "mouldy", "tiny"]),
            ReviewAspect(
                "the tour guide", good: ["knowledgeable", "funny", "charming"], bad: ["boring", "late", "rude"]),
            ReviewAspect(
                "the neighbourhood", good: ["charming", "lively", "safe"], bad: ["unsafe", "noisy", "shabby"]),
        ],
        good: ["wonderful", "fantastic", "lovely"],
        bad: ["awful", "horrible", "disappointing"],
        goodVerdicts: ["We would happily come back.", "A wonderful trip.", "Book it, you will not regret it."],
        badVerdicts: ["Never again.", "We checked out early.", "Stay somewhere else."])
}
