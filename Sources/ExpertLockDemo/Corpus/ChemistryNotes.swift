import ExpertLock
import TensorCore

/// Chemistry notes: element facts from the periodic table, balanced reactions, and mole
/// calculations whose numbers are consistent (molar masses are sums of atomic masses, product moles
/// follow the coefficients of the balanced equation, masses are moles times molar mass).
enum ChemistryNotes: DomainGenerator {
    struct Element {
        var name: String
        var symbol: String
        var number: Int
        /// Atomic mass in tenths of a gram per mole.
        var mass: Int
        var category: String
        var state: String
    }

    static let elements: [Element] = [
        Element(name: "hydrogen", symbol: "H", number: 1, mass: 10, category: "nonmetal", state: "gas"),
        Element(name: "helium", symbol: "He", number: 2, mass: 40, category: "noble gas", state: "gas"),
        Element(name: "lithium", symbol: "Li", number: 3, mass: 69, category: "alkali metal", state: "solid"),
        Element(name: "beryllium", symbol: "Be", number: 4, mass: 90, category: "alkaline earth metal", state: "solid"),
        Element(name: "boron", symbol: "B", number: 5, mass: 108, category: "metalloid", state: "solid"),
        Element(name: "carbon", symbol: "C", number: 6, mass: 120, category: "nonmetal", state: "solid"),
        Element(name: "nitrogen", symbol: "N", number: 7, mass: 140, category: "nonmetal", state: "gas"),
        Element(name: "oxygen", symbol: "O", number: 8, mass: 160, category: "nonmetal", state: "gas"),
        Element(name: "fluorine", symbol: "F", number: 9, mass: 190, category: "halogen", state: "gas"),
        Element(name: "neon", symbol: "Ne", number: 10, mass: 202, category: "noble gas", state: "gas"),
        Element(name: "sodium", symbol: "Na", number: 11, mass: 230, category: "alkali metal", state: "solid"),
        Element(
            name: "magnesium", symbol: "Mg", number: 12, mass: 243, category: "alkaline earth metal", state: "solid"),
        Element(
            name: "aluminium", symbol: "Al", number: 13, mass: 270, category: "post transition metal", state: "solid"),
        Element(name: "silicon", symbol: "Si", number: 14, mass: 281, category: "metalloid", state: "solid"),
        Element(name: "phosphorus", symbol: "P", number: 15, mass: 310, category: "nonmetal", state: "solid"),
        Element(name: "sulfur", symbol: "S", number: 16, mass: 321, category: "nonmetal", state: "solid"),
        Element(name: "chlorine", symbol: "Cl", number: 17, mass: 355, category: "halogen", state: "gas"),
        Element(name: "argon", symbol: "Ar", number: 18, mass: 399, category: "noble gas", state: "gas"),
        Element(name: "potassium", symbol: "K", number: 19, mass: 391, category: "alkali metal", state: "solid"),
        Element(name: "calcium", symbol: "Ca", number: 20, mass: 401, category: "alkaline earth metal", state: "solid"),
        Element(name: "titanium", symbol: "Ti", number: 22, mass: 479, category: "transition metal", state: "solid"),
        Element(name: "chromium", symbol: "Cr", number: 24, mass: 520, category: "transition metal", state: "solid"),
        Element(name: "manganese", symbol: "Mn", number: 25, mass: 549, category: "transition metal", state: "solid"),
        Element(name: "iron", symbol: "Fe", number: 26, mass: 559, category: "transition metal", state: "solid"),
        Element(name: "cobalt", symbol: "Co", number: 27, mass: 589, category: "transition metal", state: "solid"),
        Element(name: "nickel", symbol: "Ni", number: 28, mass: 587, category: "transition metal", state: "solid"),
        Element(name: "copper", symbol: "Cu", number: 29, mass: 635, category: "transition metal", state: "solid"),
        Element(name: "zinc", symbol: "Zn", number: 30, mass: 654, category: "transition metal", state: "solid"),
        Element(name: "bromine", symbol: "Br", number: 35, mass: 799, category: "halogen", state: "liquid"),
        Element(name: "krypton", symbol: "Kr", number: 36, mass: 838, category: "noble gas", state: "gas"),
        Element(name: "silver", symbol: "Ag", number: 47, mass: 1079, category: "transition metal", state: "solid"),
        Element(name: "tin", symbol: "Sn", number: 50, mass: 1187, category: "post transition metal", state: "solid"),
        Element(name: "iodine", symbol: "I", number: 53, mass: 1269, category: "halogen", state: "solid"),
        Element(name: "gold", symbol: "Au", number: 79, mass: 1970, category: "transition metal", state: "solid"),
        Element(name: "mercury", symbol: "Hg", number: 80, mass: 2006, category: "transition metal", state: "liquid"),
        Element(name: "lead", symbol: "Pb", number: 82, mass: 2072, category: "post transition metal", state: "solid"),
    ]

    static func element(_ symbol: String) -> Element { elements.first { $0.symbol == symbol } ?? elements[0] }

    struct Substance {
        var name: String
        var formula: String
        var atoms: [(symbol: String, count: Int)]

        /// Molar mass in tenths of a gram per mole.
        var molarMass: Int { atoms.reduce(0) { $0 + ChemistryNotes.element($1.symbol).mass * $1.count } }
    }

    static func sub(_ name: String, _ formula: String, _ atoms: [(String, Int)]) -> Substance {
        Substance(name: name, formula: formula, atoms: atoms.map { (symbol: $0.0, count: $0.1) })
    }

    static let water = sub("water", "H2O", [("H", 2), ("O", 1)])
    static let oxygen = sub("oxygen", "O2", [("O", 2)])
    static let hydrogen = sub("hydrogen", "H2", [("H", 2)])
    static let carbonDioxide = sub("carbon dioxide", "CO2", [("C", 1), ("O", 2)])
    static let sodiumChloride = sub("sodium chloride", "NaCl", [("Na", 1), ("Cl", 1)])
    static let hydrochloricAcid = sub("hydrochloric acid", "HCl", [("H", 1), ("Cl", 1)])
    static let iron = sub("iron", "Fe", [("Fe", 1)])

    static let compounds: [Substance] = [
        water, carbonDioxide, sodiumChloride, hydrochloricAcid,
        sub("methane", "CH4", [("C", 1), ("H", 4)]), sub("ammonia", "NH3", [("N", 1), ("H", 3)]),
        sub("sodium hydroxide", "NaOH", [("Na", 1), ("O", 1), ("H", 1)]),
        sub("magnesium oxide", "MgO", [("Mg", 1), ("O", 1)]),
        sub("calcium carbonate", "CaCO3", [("Ca", 1), ("C", 1), ("O", 3)]),
        sub("calcium oxide", "CaO", [("Ca", 1), ("O", 1)]), sub("iron sulfide", "FeS", [("Fe", 1), ("S", 1)]),
        sub("hydrogen peroxide", "H2O2", [("H", 2), ("O", 2)]), sub("iron oxide", "Fe2O3", [("Fe", 2), ("O", 3)]),
        sub("glucose", "C6H12O6", [("C", 6), ("H", 12), ("O", 6)]),
        sub("potassium hydroxide", "KOH", [("K", 1), ("O", 1), ("H", 1)]),
        sub("copper oxide", "CuO", [("Cu", 1), ("O", 1)]), sub("zinc chloride", "ZnCl2", [("Zn", 1), ("Cl", 2)]),
        sub("sulfuric acid", "H2SO4", [("H", 2), ("S", 1), ("O", 4)]),
    ]

    static func compound(_ formula: String) -> Substance { compounds.first { $0.formula == formula } ?? water }

    /// A balanced reaction; `sentence` says it in words.
    struct Reaction {
        var reactants: [(Int, Substance)]
        var products: [(Int, Substance)]
        var kind: String
        var sentence: String

        var equation: String {
            func side(_ terms: [(Int, Substance)]) -> String {
                terms.map { $0.0 == 1 ? $0.1.formula : "\($0.0) \($0.1.formula)" }.joined(separator: " + ")
            }
            return side(reactants) + " -> " + side(products)
        }
    }

    static let reactions: [Reaction] = [
        Reaction(
            reactants: [(2, hydrogen), (1, oxygen)], products: [(2, water)], kind: "synthesis",
            sentence: "Hydrogen and oxygen react to form water."),
        Reaction(
            reactants: [(1, compound("CH4")), (2, oxygen)], products: [(1, carbonDioxide), (2, water)],
            kind: "combustion", sentence: "Methane burns in oxygen to form carbon dioxide and water."),
        Reaction(
            reactants: [(2, sub("sodium", "Na", [("Na", 1)])), (1, sub("chlorine", "Cl2", [("Cl", 2)]))],
            products: [(2, sodiumChloride)], kind: "synthesis",
            sentence: "Sodium and chlorine react to form sodium chloride."),
        Reaction(
            reactants: [(1, sub("carbon", "C", [("C", 1)])), (1, oxygen)], products: [(1, carbonDioxide)],
            kind: "combustion", sentence: "Carbon burns in oxygen to form carbon dioxide."),
        Reaction(
            reactants: [(1, sub("nitrogen", "N2", [("N", 2)])), (3, hydrogen)], products: [(2, compound("NH3"))],
            kind: "synthesis", sentence: "Nitrogen and hydrogen react to form ammonia."),
        Reaction(
            reactants: [(1, compound("CaCO3"))], products: [(1, compound("CaO")), (1, carbonDioxide)],
            kind: "decomposition", sentence: "Calcium carbonate breaks down into calcium oxide and carbon dioxide."),
        Reaction(
            reactants: [(2, sub("magnesium", "Mg", [("Mg", 1)])), (1, oxygen)], products: [(2, compound("MgO"))],
            kind: "combustion", sentence: "Magnesium burns in oxygen to form magnesium oxide."),
        Reaction(
            reactants: [(1, sub("zinc", "Zn", [("Zn", 1)])), (2, hydrochloricAcid)],
            products: [(1, compound("ZnCl2")), (1, hydrogen)], kind: "displacement",
            sentence: "Zinc reacts with hydrochloric acid to form zinc chloride and hydrogen."),
        Reaction(
            reactants: [(1, hydrochloricAcid), (1, compound("NaOH"))], products: [(1, sodiumChloride), (1, water)],
            kind: "neutralisation",
            sentence: "Hydrochloric acid and sodium hydroxide react to form sodium chloride and water."),
        Reaction(
            reactants: [(1, iron), (1, sub("sulfur", "S", [("S", 1)]))], products: [(1, compound("FeS"))],
            kind: "synthesis", sentence: "Iron and sulfur react to form iron sulfide."),
        Reaction(
            reactants: [(2, compound("H2O2"))], products: [(2, water), (1, oxygen)], kind: "decomposition",
            sentence: "Hydrogen peroxide breaks down into water and oxygen."),
        Reaction(
            reactants: [(4, iron), (3, oxygen)], products: [(2, compound("Fe2O3"))], kind: "oxidation",
            sentence: "Iron and oxygen react to form iron oxide, which we call rust."),
        Reaction(
            reactants: [(1, compound("C6H12O6")), (6, oxygen)], products: [(6, carbonDioxide), (6, water)],
            kind: "respiration", sentence: "Glucose and oxygen react to form carbon dioxide and water."),
        Reaction(
            reactants: [(2, sub("potassium", "K", [("K", 1)])), (2, water)],
            products: [(2, compound("KOH")), (1, hydrogen)], kind: "displacement",
            sentence: "Potassium reacts with water to form potassium hydroxide and hydrogen."),
        Reaction(
            reactants: [(1, compound("CuO")), (1, hydrogen)],
            products: [(1, sub("copper", "Cu", [("Cu", 1)])), (1, water)],
            kind: "reduction", sentence: "Copper oxide and hydrogen react to form copper and water."),
    ]

    static func grams(_ tenths: Int) -> String { CorpusText.decimal(tenths: tenths) }

    static func elementSentences(_ e: Element, _ rng: inout SplitMix64) -> [String] {
        let name = CorpusText.capitalized(e.name)
        var out = [
            rng.pick([
                "\(name) has the symbol \(e.symbol) and atomic number \(e.number).",
                "The element \(e.name) has atomic number \(e.number) and the symbol \(e.symbol).",
                "\(e.symbol) is the symbol of \(e.name), element number \(e.number).",
            ])
        ]
        out.append(
            rng.pick([
                "It is \(CorpusText.article(e.category)) \(e.category) and a \(e.state) at room temperature.",
                "\(name) is \(CorpusText.article(e.category)) \(e.category) and a \(e.state) at room temperature.",
            ]))
        if rng.chance(0.6) { out.append("Its atomic mass is about \(grams(e.mass)).") }
        if rng.chance(0.6) {
            out.append("A neutral atom of \(e.name) has \(e.number) protons and \(e.number) electrons.")
        }
        switch e.category {
        case "noble gas": out.append("Like the other noble gases it hardly reacts.")
        case "alkali metal": out.append("It reacts strongly with water.")
        case "halogen": out.append("It forms salts with metals.")
        default: break
        }
        return out
    }

    static func reactionSentences(_ r: Reaction, _ rng: inout SplitMix64) -> [String] {
        var out = [
            r.sentence, rng.pick(["The balanced equation is \(r.equation).", "Equation: \(r.equation)."]),
            "This is a \(r.kind) reaction.",
        ]
        let (a, reactant) = rng.pick(r.reactants)
        let (b, product) = rng.pick(r.products)
        let t = rng.int(1...4)
        out.append("When \(a * t) moles of \(reactant.name) react, \(b * t) moles of \(product.name) form.")
        if rng.chance(0.6) {
            out.append(
                "The molar mass of \(product.name) is \(grams(product.molarMass)) grams per mole,"
                    + " so that is \(grams(product.molarMass * b * t)) grams.")
        }
        return out
    }

    static func compoundSentences(_ c: Substance, moles: Int, _ rng: inout SplitMix64) -> [String] {
        let parts = c.atoms.map { atom in
            "\(CorpusText.words(atom.count)) \(atom.count == 1 ? "atom" : "atoms") of \(element(atom.symbol).name)"
        }
        return [
            "\(CorpusText.capitalized(c.name)) has the formula \(c.formula).",
            "Each unit contains \(CorpusText.list(parts)).",
            "Its molar mass is \(grams(c.molarMass)) grams per mole.",
            "So \(moles) moles of \(c.name) weigh \(grams(c.molarMass * moles)) grams.",
        ]
    }

    static func document(_ rng: inout SplitMix64) -> String {
        let roll = rng.int(0...9)
        if roll == 0 { return reviews.review(positive: rng.chance(0.5), &rng) }
        var sentences: [String]
        if roll <= 3 {
            sentences = rng.sample(elements, count: rng.int(1...2)).flatMap { elementSentences($0, &rng) }
        } else if roll <= 7 {
            sentences = reactionSentences(rng.pick(reactions), &rng)
        } else {
            sentences = compoundSentences(rng.pick(compounds), moles: rng.int(2...9), &rng)
        }
        return sentences.joined(separator: " ")
    }

    static func summarized(_ rng: inout SplitMix64) -> (document: String, summary: String) {
        switch rng.int(0...2) {
        case 0:
            let e = rng.pick(elements)
            let summary = "\(CorpusText.capitalized(e.name)), symbol \(e.symbol), has atomic number \(e.number)."
            var sentences = elementSentences(e, &rng)
            if sentences.count < 3 { sentences.append("Its atomic mass is about \(grams(e.mass)).") }
            return (sentences.joined(separator: " "), summary)
        case 1:
            let r = rng.pick(reactions)
            return (reactionSentences(r, &rng).joined(separator: " "), r.sentence)
        default:
            let c = rng.pick(compounds)
            return (
                compoundSentences(c, moles: rng.int(2...9), &rng).joined(separator: " "),
                "\(CorpusText.capitalized(c.name)) has a molar mass of \(grams(c.molarMass)) grams per mole."
            )
        }
    }

    static func pair(entailed: Bool, _ rng: inout SplitMix64) -> (premise: String, hypothesis: String) {
        switch rng.int(0...2) {
        case 0:
            let two = rng.sample(elements, count: 2)
            let (a, b) = (two[0], two[1])
            var facts = PremiseFacts(
                premise:
                    "\(CorpusText.capitalized(a.name)) has atomic number \(a.number)"
                    + " and \(b.name) has atomic number \(b.number)."
            )
            let (big, small) = a.number > b.number ? (a, b) : (b, a)
            facts.holds += [
                "\(CorpusText.capitalized(big.name)) has more protons than \(small.name).",
                "An atom of \(a.name) has \(a.number) electrons.",
            ]
            facts.fails += [
                "\(CorpusText.capitalized(small.name)) has more protons than \(big.name).",
                "An atom of \(a.name) has \(a.number + rng.int(1...4)) electrons.",
            ]
            return facts.pick(entailed: entailed, &rng)
        case 1:
            let e = rng.pick(elements)
            var facts = PremiseFacts(
                premise:
                    "\(CorpusText.capitalized(e.name)), with symbol \(e.symbol), is"
                    + " \(CorpusText.article(e.category)) \(e.category)"
                    + " and a \(e.state) at room temperature.")
            let otherCategory = rng.pick(elements.map(\.category).filter { $0 != e.category })
            let otherState = rng.pick(["gas", "liquid", "solid"].filter { $0 != e.state })
            facts.holds += [
                "\(CorpusText.capitalized(e.name)) is \(CorpusText.article(e.category)) \(e.category).",
                "\(CorpusText.capitalized(e.name)) is a \(e.state) at room temperature.",
            ]
            facts.fails += [
                "\(CorpusText.capitalized(e.name)) is \(CorpusText.article(otherCategory)) \(otherCategory).",
                "\(CorpusText.capitalized(e.name)) is a \(otherState) at room temperature.",
            ]
            return facts.pick(entailed: entailed, &rng)
        default:
            let r = rng.pick(reactions)
            var facts = PremiseFacts(premise: "\(r.sentence) The equation is \(r.equation).")
            let products = r.products.map(\.1.name)
            let involved = products + r.reactants.map(\.1.name)
            let absent = rng.pick(compounds.map(\.name).filter { !involved.contains($0) })
            facts.holds.append("\(CorpusText.capitalized(rng.pick(products))) is produced.")
            facts.fails.append("\(CorpusText.capitalized(absent)) is produced.")
            return facts.pick(entailed: entailed, &rng)
        }
    }

    static let reviews = ReviewLexicon(
        openings: [
            "We ran {} in the school lab this week.", "Our class did {} on Thursday.",
            "I bought a kit for {} for my daughter.", "The teacher demonstrated {} today.",
        ],
        items: [
            "the titration practical", "the flame test", "the electrolysis experiment",
            "the rates of reaction practical",
            "the crystal growing project", "the chromatography practical",
        ],
        aspects: [
            ReviewAspect(
                "the experiment", good: ["fascinating", "exciting", "successful"],
                bad: ["dull", "disappointing", "pointless"]),
            ReviewAspect(
                "the lab manual", good: ["clear", "detailed", "well organised"],
                bad: ["vague", "confusing", "outdated"]),
            ReviewAspect(
                "the instructions", plural: true, good: ["clear", "precise", "easy to follow"],
                bad: ["vague", "confusing", "contradictory"]),
            ReviewAspect(
                "the chemistry set", good: ["complete", "safe", "well made"], bad: ["incomplete", "flimsy", "cheap"]),
            ReviewAspect(
                "the results", plural: true, good: ["accurate", "consistent", "reproducible"],
                bad: ["inconsistent", "inaccurate", "meaningless"]),
            ReviewAspect(
                "the demonstrations", plural: true, good: ["spectacular", "memorable", "vivid"],
                bad: ["boring", "messy", "underwhelming"]),
            ReviewAspect(
                "the safety briefing", good: ["thorough", "clear", "sensible"],
                bad: ["rushed", "careless", "inadequate"]),
            ReviewAspect("the equipment", good: ["modern", "reliable", "clean"], bad: ["broken", "faulty", "dirty"]),
            ReviewAspect(
                "the reagents", plural: true, good: ["pure", "fresh", "clearly labelled"],
                bad: ["contaminated", "expired", "unlabelled"]),
            ReviewAspect(
                "the measurements", plural: true, good: ["precise", "careful", "accurate"],
                bad: ["sloppy", "imprecise", "wrong"]),
        ],
        good: ["excellent", "impressive", "superb"],
        bad: ["useless", "dangerous", "awful"],
        goodVerdicts: ["The students loved it.", "A great introduction to chemistry.", "We will repeat it next year."],
        badVerdicts: [
            "Nobody learned anything.", "We had to abandon the practical.",
            "I would not buy this kit again.",
        ])
}
