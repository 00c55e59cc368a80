import ExpertLock
import Foundation
import TensorCore

/// What one domain of the built-in corpus supplies. Every method draws only from the generator it
/// is given, so the corpus is the same on every platform for a given seed.
protocol DomainGenerator {
    /// A language-modelling document of a few sentences (or lines, for code).
    static func document(_ rng: inout SplitMix64) -> String

    /// A document of three to six sentences and its one-line summary, built from the same facts.
    static func summarized(_ rng: inout SplitMix64) -> (document: String, summary: String)

    /// A premise and a hypothesis that follows from it (`entailed`) or does not.
    static func pair(entailed: Bool, _ rng: inout SplitMix64) -> (premise: String, hypothesis: String)

    /// The words of this domain's reviews and comments, for the sentiment task.
    static var reviews: ReviewLexicon { get }
}

/// A premise with statements that follow from it and statements that do not; the entailment task
/// picks one of either kind. Domains fill it from the facts they drew.
struct PremiseFacts {
    var premise: String
    var holds: [String] = []
    var fails: [String] = []

    func pick(entailed: Bool, _ rng: inout SplitMix64) -> (premise: String, hypothesis: String) {
        let pool = entailed ? holds : fails
        precondition(!pool.isEmpty, "a domain produced a premise without \(entailed ? "true" : "false") hypotheses")
        return (premise, rng.pick(pool))
    }
}

/// An aspect a review judges ("the soup"), with the words that praise or fault it.
struct ReviewAspect: Sendable {
    var phrase: String
    /// Whether the aspect takes a plural verb ("the fries were").
    var plural: Bool
    var good: [String]
    var bad: [String]

    init(_ phrase: String, plural: Bool = false, good: [String], bad: [String]) {
        self.phrase = phrase
        self.plural = plural
        self.good = good
        self.bad = bad
    }
}

/// The vocabulary a domain's reviews are written with. A review is an opening that sets the scene
/// (no opinion), two or three opinion clauses about aspects, and sometimes a verdict. The label is
/// the polarity of the majority of the clauses, so it is determined by the words of the text.
struct ReviewLexicon: Sendable {
    /// Scene-setting sentences; `{}` is replaced by one of `items`.
    var openings: [String]
    var items: [String]
    var aspects: [ReviewAspect]
    /// Words of praise or fault that fit any aspect of the domain.
    var good: [String]
    var bad: [String]
    var goodVerdicts: [String]
    var badVerdicts: [String]

    /// A review whose majority opinion is `positive`.
    func review(positive isPositive: Bool, _ rng: inout SplitMix64) -> String {
        var sentences = [rng.pick(openings).replacingFirstSlot(with: rng.pick(items))]
        let clauseCount = rng.int(2...3)
        // With three clauses one may disagree; the majority still decides the label.
        let dissent = clauseCount == 3 && rng.chance(0.4) ? rng.int(1...2) : -1
        let chosen = rng.sample(aspects, count: clauseCount)
        var clauses: [(text: String, positive: Bool)] = []
        for (index, aspect) in chosen.enumerated() {
            let polarity = index == dissent ? !isPositive : isPositive
            clauses.append((clause(aspect, positive: polarity, &rng), polarity))
        }
        // Clauses of the same polarity join with "and", a change of polarity with "but".
        var sentence = clauses[0].text
        for index in 1..<clauses.count {
            let joiner = clauses[index].positive == clauses[index - 1].positive ? " and " : " but "
            // "A but B but C" reads badly: after a "but" the third clause starts a new sentence.
            if index == 2 && (clauses[1].positive != clauses[0].positive || rng.chance(0.5)) {
                sentences.append(CorpusText.capitalized(sentence) + ".")
                sentence = clauses[index].text
            } else {
                sentence += joiner + clauses[index].text
            }
        }
        sentences.append(CorpusText.capitalized(sentence) + ".")
        if rng.chance(0.6) {
            sentences.append(rng.pick(isPositive ? goodVerdicts : badVerdicts))
        }
        return sentences.joined(separator: " ")
    }

    /// "the soup was bland", or a negated opposite word ("the soup was not rich") now and then.
    private func clause(_ aspect: ReviewAspect, positive: Bool, _ rng: inout SplitMix64) -> String {
        let verb = aspect.plural ? "were" : "was"
        if rng.chance(0.15) {
            return "\(aspect.phrase) \(verb) not \(rng.pick(positive ? aspect.bad : aspect.good))"
        }
        let adverb = rng.chance(0.3) ? rng.pick(["really ", "very ", "quite ", "truly "]) : ""
        let words = rng.chance(0.25) ? (positive ? good : bad) : (positive ? aspect.good : aspect.bad)
        return "\(aspect.phrase) \(verb) \(adverb)\(rng.pick(words))"
    }
}

extension String {
    /// Replaces the first `{}` with `value` (templates here hold at most one slot).
    func replacingFirstSlot(with value: String) -> String {
        guard let range = range(of: "{}") else { return self }
        return replacingCharacters(in: range, with: value)
    }
}
