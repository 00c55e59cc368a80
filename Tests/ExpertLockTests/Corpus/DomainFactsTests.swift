import Foundation
import Testing

@testable import ExpertLock
@testable import ExpertLockDemo

/// The corpus states true, consistent facts: these tests read a sample back and check them.
@Suite struct DomainFactsTests {
    let corpus = BuiltinCorpus(seed: 5)

    static func apply(_ a: Int, _ op: Substring, _ b: Int) -> Int? {
        switch op {
        case "+": a + b
        case "-": a - b
        case "*": a * b
        case "/": b == 0 ? nil : (a % b == 0 ? a / b : nil)
        default: nil
        }
    }

    @Test func arithmeticIsCorrect() {
        var checked = 0
        for document in corpus.documents(count: 600, domains: [.arithmetic]) {
            var story: (count: Int, object: String)?
            for sentence in CorpusProbe.sentences(document.text) {
                if let m = sentence.wholeMatch(of: #/(\d+) ([-+*/]) (\d+) = (\d+)\.?/#),
                    let a = Int(m.1), let b = Int(m.3), let c = Int(m.4)
                {
                    #expect(Self.apply(a, m.2, b) == c, "\(sentence)")
                    checked += 1
                } else if let m = sentence.wholeMatch(
                    of: #/([a-zA-Z ]+?) (plus|minus|times|divided by) ([a-z ]+?) is ([a-z ]+)\./#)
                {
                    let ops: [Substring: Substring] = ["plus": "+", "minus": "-", "times": "*", "divided by": "/"]
                    let a = CorpusProbe.value(ofWords: String(m.1))
                    let b = CorpusProbe.value(ofWords: String(m.3))
                    let c = CorpusProbe.value(ofWords: String(m.4))
                    #expect(a != nil && b != nil && c != nil, "\(sentence)")
                    if let a, let b, let c, let op = ops[m.2] {
                        #expect(Self.apply(a, op, b) == c, "\(sentence)")
                        checked += 1
                    }
                } else if let m = sentence.wholeMatch(of: #/The sum of (\d+) and (\d+) is (\d+)\./#) {
                    #expect(Int(m.1)! + Int(m.2)! == Int(m.3)!)
                    checked += 1
                } else if let m = sentence.wholeMatch(of: #/The product of (\d+) and (\d+) is (\d+)\./#) {
                    #expect(Int(m.1)! * Int(m.2)! == Int(m.3)!)
                    checked += 1
                } else if let m = sentence.wholeMatch(of: #/The difference between (\d+) and (\d+) is (\d+)\./#) {
                    #expect(Int(m.1)! - Int(m.2)! == Int(m.3)!)
                    checked += 1
                } else if let m = sentence.wholeMatch(of: #/Half of (\d+) is (\d+)\./#) {
                    #expect(Int(m.1)! == 2 * Int(m.2)!)
                } else if let m = sentence.wholeMatch(of: #/Twice (\d+) is (\d+)\./#) {
                    #expect(2 * Int(m.1)! == Int(m.2)!)
                } else if let m = sentence.wholeMatch(of: #/The square of (\d+) is (\d+)\./#) {
                    #expect(Int(m.1)! * Int(m.1)! == Int(m.2)!)
                } else if let m = sentence.wholeMatch(of: #/(\d+) is an? (even|odd) number\./#) {
                    #expect((Int(m.1)! % 2 == 0) == (m.2 == "even"))
                } else if let m = sentence.wholeMatch(of: #/(\d+) is (a|not a) prime number\./#) {
                    let n = Int(m.1)!
                    let prime = n >= 2 && (2..<n).allSatisfy { n % $0 != 0 }
                    #expect(prime == (m.2 == "a"), "\(sentence)")
                } else if let m = sentence.wholeMatch(of: #/(\d+) is greater than (\d+)\./#) {
                    #expect(Int(m.1)! > Int(m.2)!)
                } else if let m = sentence.wholeMatch(of: #/([A-Z][a-z]+) has (\d+) ([a-z]+)\./#) {
                    // The opening of a story, or its answer.
                    if let current = story, current.object == String(m.3) {
                        #expect(current.count == Int(m.2)!, "\(document.text)")
                        story = nil
                        checked += 1
                    } else {
                        story = (Int(m.2)!, String(m.3))
                    }
                } else if let current = story {
                    if let m = sentence.firstMatch(of: #/(gets|finds) (\d+) more/#) {
                        story = (current.count + Int(m.2)!, current.object)
                    } else if let m = sentence.firstMatch(of: #/gives (\d+) to/#) {
                        story = (current.count - Int(m.1)!, current.object)
                    } else if sentence.contains("doubles the pile") {
                        story = (current.count * 2, current.object)
                    } else if let m = sentence.wholeMatch(of: #/The answer is (\d+)\./#) {
                        #expect(current.count == Int(m.1)!, "\(document.text)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 500)
    }

    @Test func arithmeticEntailmentLabelsAreTrue() {
        var checked = 0
        for example in corpus.entailment(count: 800) where example.domain == .arithmetic {
            guard let p = example.text.wholeMatch(of: #/(\d+) ([-+*/]) (\d+) = (\d+)\./#),
                let h = example.textPair?.wholeMatch(of: #/The result is (-?\d+)\./#)
            else { continue }
            #expect(Self.apply(Int(p.1)!, p.2, Int(p.3)!) == Int(p.4)!)
            #expect((Int(h.1)! == Int(p.4)!) == (example.label == 0), "\(example)")
            checked += 1
        }
        #expect(checked > 5)
    }

    /// Every number and every name of a summary can be found in its document.
    @Test func summariesAreDerivableFromTheirDocuments() {
        for example in corpus.summaries(count: 400) {
            let documentNumbers = Set(CorpusProbe.numbers(example.document))
            for number in CorpusProbe.numbers(example.summary) {
                #expect(documentNumbers.contains(number), "\(number) of \(example.summary) in \(example.document)")
            }
            for name in CorpusProbe.namesAfterFirstWord(example.summary) {
                #expect(example.document.contains(name), "\(name) of \(example.summary)")
            }
            let sentences = CorpusProbe.sentences(example.document).count
            #expect(example.domain == .code || (3...7).contains(sentences), "\(sentences): \(example.document)")
            #expect(!example.summary.contains("\n"))
        }
    }

    @Test func sportsScoresMatchTheWinner() {
        for example in corpus.summaries(count: 400) where example.domain == .sports {
            if let m = example.summary.wholeMatch(of: #/(.+) beat (.+) (\d+) to (\d+)\./#) {
                #expect(Int(m.3)! > Int(m.4)!, "\(example.summary)")
            } else if let m = example.summary.wholeMatch(of: #/.+ drew (\d+) to (\d+)\./#) {
                #expect(m.1 == m.2)
            }
            // A report that ends with the final score names the same score in its summary.
            if let m = example.document.firstMatch(of: #/The match finished (\d+) to (\d+)\./#) {
                let (h, a) = (Int(m.1)!, Int(m.2)!)
                #expect(example.summary.contains("\(max(h, a)) to \(min(h, a))"))
            }
        }
    }

    @Test func weatherFiguresFollowTheCondition() {
        for document in corpus.documents(count: 800, domains: [.weather]) {
            let text = document.text
            if let m = text.firstMatch(of: #/The high will be (-?\d+) degrees and the low (-?\d+) degrees/#) {
                #expect(Int(m.2)! < Int(m.1)!)
            }
            if let m = text.firstMatch(of: #/Temperatures will range from (-?\d+) to (-?\d+) degrees/#) {
                #expect(Int(m.1)! < Int(m.2)!)
            }
            if text.contains("snow") && !text.contains("will be snowy"),
                let m = text.firstMatch(of: #/(high of|high will be|Highs of|to) (-?\d+) degrees/#)
            {
                #expect(Int(m.2)! <= 1, "\(text)")
            }
            if text.contains("heatwave") || text.contains("Scorching") {
                #expect(text.contains("Drink plenty of water") || text.contains("Avoid the midday sun"))
            }
        }
    }

    @Test func financePercentagesAreComputedFromTheFigures() {
        var checked = 0
        let report = #/revenue at .+? (rose|fell) from (\d+) million to (\d+) million dollars, (?:.+?) (\d+) percent/#
        for document in corpus.documents(count: 800, domains: [.finance]) {
            guard let m = document.text.firstMatch(of: report) else { continue }
            let (before, after, percent) = (Double(m.2)!, Double(m.3)!, Double(m.4)!)
            #expect((after > before) == (m.1 == "rose"))
            #expect(abs(abs(after - before) / before * 100 - percent) <= 0.5 + 1e-9, "\(document.text)")
            checked += 1
        }
        #expect(checked > 20)
    }

    @Test func travelArrivalIsDeparturePlusJourney() {
        var checked = 0
        // Extended syntax (a multi-line literal): spaces are written `\ `.
        let timetable =
            #/
            The\ (\d\d):(\d\d)\ \w+\ from\ \w+\ arrives\ in\ \w+\ at\ (\d\d):(\d\d).*?,\ a\ journey\ of
            \ (?:(\d+)\ hours?)?(?:\ and\ )?(?:(\d+)\ minutes)?\.
            /#
        for document in corpus.documents(count: 800, domains: [.travel]) {
            guard let m = document.text.firstMatch(of: timetable) else { continue }
            let departure = Int(m.1)! * 60 + Int(m.2)!
            let arrival = Int(m.3)! * 60 + Int(m.4)!
            let journey = (m.5.flatMap { Int($0) } ?? 0) * 60 + (m.6.flatMap { Int($0) } ?? 0)
            #expect((departure + journey) % 1440 == arrival, "\(document.text)")
            checked += 1
        }
        #expect(checked > 20)
    }

    @Test func recipeTotalIsTheSumOfTheSteps() {
        for example in corpus.summaries(count: 400) where example.domain == .recipes {
            let steps = example.document.matches(of: #/for (\d+) minutes/#).map { Int($0.1)! }
            guard let ready = example.document.firstMatch(of: #/Ready in (\d+) minutes/#) else {
                Issue.record("no total in \(example.document)")
                continue
            }
            #expect(steps.reduce(0, +) == Int(ready.1)!, "\(example.document)")
        }
    }

    /// The sentiment label can be read off the words: praise counts +1, fault −1, "not" flips.
    @Test func sentimentLabelFollowsTheWords() {
        for example in corpus.sentiment(count: 800) {
            let lexicon = example.domain.generator.reviews
            let good = Set(lexicon.good + lexicon.aspects.flatMap(\.good))
            let bad = Set(lexicon.bad + lexicon.aspects.flatMap(\.bad))
            #expect(good.isDisjoint(with: bad), "\(example.domain)")
            var score = 0
            var clauses = 0
            let text = example.text.lowercased()
            // Each clause is "<aspect> was|were [not] [adverb] <word>", ending at " and", " but" or ".".
            for aspect in lexicon.aspects {
                let pattern =
                    "\\b\(aspect.phrase.lowercased()) (?:was|were) (not )?"
                    + "(?:really |very |quite |truly )?([a-z ]+?)(?= and | but |\\.)"
                for clause in text.matches(of: try! Regex(pattern)) {
                    let word = clause[2].substring.map(String.init) ?? ""
                    let sign = good.contains(word) ? 1 : bad.contains(word) ? -1 : 0
                    #expect(sign != 0, "\(word) in \(example.text)")
                    score += clause[1].substring == nil ? sign : -sign
                    clauses += 1
                }
            }
            #expect((2...3).contains(clauses), "\(example.text)")
            #expect(score != 0, "\(example.text)")
            #expect((score > 0) == (example.label == 1), "\(example.text)")
        }
    }
}
