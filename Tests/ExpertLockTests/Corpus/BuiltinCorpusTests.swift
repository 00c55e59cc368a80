import Foundation
import Testing

@testable import ExpertLock
@testable import ExpertLockDemo

@Suite struct BuiltinCorpusTests {
    let corpus = BuiltinCorpus(seed: 11)

    @Test func sameSeedGivesTheSameCorpus() {
        let other = BuiltinCorpus(seed: 11)
        #expect(corpus.documents(count: 40) == other.documents(count: 40))
        #expect(corpus.sentiment(count: 40) == other.sentiment(count: 40))
        #expect(corpus.entailment(count: 40) == other.entailment(count: 40))
        #expect(corpus.summaries(count: 40) == other.summaries(count: 40))
    }

    @Test func differentSeedsGiveDifferentCorpora() {
        let other = BuiltinCorpus(seed: 12)
        #expect(corpus.documents(count: 40) != other.documents(count: 40))
        #expect(corpus.sentiment(count: 40) != other.sentiment(count: 40))
        #expect(corpus.entailment(count: 40) != other.entailment(count: 40))
        #expect(corpus.summaries(count: 40) != other.summaries(count: 40))
    }

    /// Pins the stream so that a change of any generator (or of the platform's behaviour) shows.
    @Test func firstDocumentIsPinned() {
        let first = BuiltinCorpus(seed: 0).documents(count: 1)[0]
        #expect(first.domain == .arithmetic)
        #expect(first.text == "30 / 5 = 6\n3 * 7 = 21\n14 / 7 = 2\n5 * 9 = 45\n73 - 21 = 52\n4 * 4 = 16")
    }

    @Test func askingForMoreExtendsTheList() {
        let short = corpus.documents(count: 10)
        let long = corpus.documents(count: 25)
        #expect(Array(long.prefix(10)) == short)
        #expect(Array(corpus.sentiment(count: 30).prefix(12)) == corpus.sentiment(count: 12))
    }

    @Test func everyDomainIsPresentInEveryTask() {
        let all = Set(CorpusDomain.allCases)
        #expect(Set(corpus.documents(count: 16).map(\.domain)) == all)
        #expect(Set(corpus.sentiment(count: 16).map(\.domain)) == all)
        #expect(Set(corpus.entailment(count: 16).map(\.domain)) == all)
        #expect(Set(corpus.summaries(count: 16).map(\.domain)) == all)
        #expect(CorpusDomain.allCases.count >= 6)
    }

    @Test func documentsKeepToTheDomainsAskedFor() {
        let documents = corpus.documents(count: 9, domains: [.code, .weather])
        #expect(documents.map(\.domain) == [.code, .weather, .code, .weather, .code, .weather, .code, .weather, .code])
        #expect(corpus.documents(count: 5, domains: []).isEmpty)
        #expect(corpus.documents(count: 0).isEmpty)
    }

    @Test(arguments: [CorpusSplit.train, .valid])
    func labelsAreBalancedOverallAndPerDomain(split: CorpusSplit) {
        for examples in [corpus.sentiment(count: 800, split: split), corpus.entailment(count: 800, split: split)] {
            let positives = examples.filter { $0.label == 1 }.count
            #expect(abs(Double(positives) / Double(examples.count) - 0.5) <= 0.1)
            for domain in CorpusDomain.allCases {
                let own = examples.filter { $0.domain == domain }
                let ones = own.filter { $0.label == 1 }.count
                #expect(abs(Double(ones) / Double(own.count) - 0.5) <= 0.1, "\(domain)")
            }
            #expect(examples.allSatisfy { (0...1).contains($0.label) })
        }
    }

    @Test func entailmentExamplesHaveAPairAndSentimentDoesNot() {
        #expect(corpus.entailment(count: 50).allSatisfy { !($0.textPair ?? "").isEmpty })
        #expect(corpus.sentiment(count: 50).allSatisfy { $0.textPair == nil })
        #expect(BuiltinCorpus.sentimentLabels == ["negative", "positive"])
        #expect(BuiltinCorpus.entailmentLabels == ["entailment", "not_entailment"])
    }

    @Test func splitsShareNoText() {
        let train = Set(corpus.documents(count: 1600).map(\.text))
        let valid = corpus.documents(count: 400, split: .valid).map(\.text)
        let test = corpus.documents(count: 400, split: .test).map(\.text)
        #expect(valid.filter(train.contains).isEmpty)
        #expect(test.filter(train.contains).isEmpty)
        #expect(Set(valid).isDisjoint(with: test))

        func key(_ e: CorpusClassificationExample) -> String { e.text + "\u{1F}" + (e.textPair ?? "") }
        for make in [corpus.sentiment, corpus.entailment] {
            let trainKeys = Set(make(2000, .train).map(key))
            #expect(make(400, .valid).map(key).filter(trainKeys.contains).isEmpty)
        }
        let trainSummaries = Set(corpus.summaries(count: 800).map(\.document))
        #expect(corpus.summaries(count: 200, split: .valid).map(\.document).filter(trainSummaries.contains).isEmpty)
    }

    @Test func textsAreVariedWithinASplit() {
        let documents = corpus.documents(count: 1600).map(\.text)
        #expect(Double(Set(documents).count) / Double(documents.count) > 0.97)
        let sentiment = corpus.sentiment(count: 1600).map(\.text)
        #expect(Double(Set(sentiment).count) / Double(sentiment.count) > 0.97)
        let entailment = corpus.entailment(count: 1600).map { $0.text + ($0.textPair ?? "") }
        #expect(Double(Set(entailment).count) / Double(entailment.count) > 0.9)
    }

    /// The experts of the demo model need domains to specialise in: the 100 most frequent words of
    /// any two domains overlap little.
    @Test func domainVocabulariesDiffer() {
        var top: [CorpusDomain: Set<String>] = [:]
        for domain in CorpusDomain.allCases {
            var counts: [String: Int] = [:]
            for document in corpus.documents(count: 300, domains: [domain]) {
                for word in CorpusProbe.words(document.text) { counts[word, default: 0] += 1 }
            }
            let ranked = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            top[domain] = Set(ranked.prefix(100).map(\.key))
        }
        var worst = 0.0
        for (i, a) in CorpusDomain.allCases.enumerated() {
            for b in CorpusDomain.allCases.dropFirst(i + 1) {
                let (x, y) = (top[a] ?? [], top[b] ?? [])
                let jaccard = Double(x.intersection(y).count) / Double(x.union(y).count)
                worst = max(worst, jaccard)
                #expect(jaccard < 0.3, "\(a) vs \(b): \(jaccard)")
            }
        }
        #expect(worst > 0)
    }

    /// Small enough for a tokenizer of a few thousand pieces, large enough not to be trivial.
    @Test func vocabularyIsAFewThousandWords() {
        var vocabulary = Set<String>()
        for document in corpus.documents(count: 4000) { vocabulary.formUnion(CorpusProbe.words(document.text)) }
        for example in corpus.sentiment(count: 1000) { vocabulary.formUnion(CorpusProbe.words(example.text)) }
        #expect(vocabulary.count > 1000)
        #expect(vocabulary.count < 5000)
    }
}
