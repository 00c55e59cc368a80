import ExpertLock
import TensorCore

/// A seeded generator of the multi-domain English corpus that `expertlock demo` trains a small MoE
/// on. Its eight domains differ in vocabulary and structure (so experts have something to
/// specialise in) but are templated with consistent facts (so a tiny model can learn them). It
/// yields the three kinds of task of the paper: language modelling, classification (sentiment,
/// entailment) and summarization.
///
/// Every draw goes through `SplitMix64`, each task and split has its own derived stream, and a text
/// belongs to exactly one split (by a hash of its characters), so the corpus is the same on every
/// platform and splits never share a text. A stream is sequential: asking for more items extends
/// the list asked for before.
public struct BuiltinCorpus: Sendable {
    public let seed: UInt64

    public init(seed: UInt64 = 0) {
        self.seed = seed
    }

    /// Label names of `sentiment(count:split:)`, indexed by `label`.
    public static let sentimentLabels = ["negative", "positive"]
    /// Label names of `entailment(count:split:)`, indexed by `label` (GLUE order: 0 = entailment).
    public static let entailmentLabels = ["entailment", "not_entailment"]

    /// The tasks, each drawing from its own stream.
    enum Task: UInt64 {
        case documents = 1
        case sentiment, entailment, summaries
    }

    /// The generator for one task and split: the seed mixed with both salts through one SplitMix64
    /// step, so nearby seeds give unrelated streams.
    func stream(_ task: Task, _ split: CorpusSplit) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (task.rawValue &* 0x9E37_79B9_7F4A_7C15) ^ (split.salt << 56))
        return SplitMix64(seed: mixer.next())
    }

    /// Draws until `split` owns the text. Texts are rich enough that a match comes after a few
    /// tries; the cap only guards against a degenerate template.
    static func draw<T>(_ split: CorpusSplit, _ make: () -> T, key: (T) -> (String, String?)) -> T {
        var item = make()
        for _ in 0..<10_000 {
            let (text, pair) = key(item)
            if split.owns(text, pair: pair) { return item }
            item = make()
        }
        return item
    }

    /// An endless sequence of documents, domains in round-robin order.
    struct DocumentStream {
        var rng: SplitMix64
        let domains: [CorpusDomain]
        let split: CorpusSplit
        var index = 0

        mutating func next() -> CorpusDocument {
            let domain = domains[index % domains.count]
            index += 1
            let text = BuiltinCorpus.draw(split, { domain.generator.document(&rng) }, key: { ($0, nil) })
            return CorpusDocument(domain: domain, text: text)
        }
    }

    func documentStream(domains: [CorpusDomain], split: CorpusSplit) -> DocumentStream {
        DocumentStream(rng: stream(.documents, split), domains: domains, split: split)
    }

    /// `count` language-modelling documents, cycling through `domains` in order.
    public func documents(
        count: Int, domains: [CorpusDomain] = CorpusDomain.allCases, split: CorpusSplit = .train
    ) -> [CorpusDocument] {
        guard !domains.isEmpty, count > 0 else { return [] }
        var documents = documentStream(domains: domains, split: split)
        return (0..<count).map { _ in documents.next() }
    }

    /// The domain and label of example `i` of a classification task: domains cycle, and each
    /// domain's labels alternate, so both labels are balanced overall and within every domain.
    static func slot(_ i: Int) -> (domain: CorpusDomain, label: Int) {
        let domains = CorpusDomain.allCases
        return (domains[i % domains.count], (i + i / domains.count) % 2)
    }

    /// Reviews and comments from every domain; the label (0 negative, 1 positive) is the polarity of
    /// most of the opinion words in the text.
    public func sentiment(count: Int, split: CorpusSplit = .train) -> [CorpusClassificationExample] {
        var rng = stream(.sentiment, split)
        return (0..<max(0, count)).map { i in
            let (domain, label) = Self.slot(i)
            let text = Self.draw(
                split, { domain.generator.reviews.review(positive: label == 1, &rng) }, key: { ($0, nil) })
            return CorpusClassificationExample(domain: domain, text: text, label: label)
        }
    }

    /// Premise and hypothesis pairs from every domain; label 0 when the hypothesis follows from the
    /// premise, 1 when it contradicts it.
    public func entailment(count: Int, split: CorpusSplit = .train) -> [CorpusClassificationExample] {
        var rng = stream(.entailment, split)
        return (0..<max(0, count)).map { i in
            let (domain, label) = Self.slot(i)
            let pair = Self.draw(
                split, { domain.generator.pair(entailed: label == 0, &rng) },
                key: { ($0.premise, $0.hypothesis) })
            return CorpusClassificationExample(
                domain: domain, text: pair.premise, textPair: pair.hypothesis, label: label)
        }
    }

    /// Short documents with one-line summaries, domains in round-robin order.
    public func summaries(count: Int, split: CorpusSplit = .train) -> [CorpusSummaryExample] {
        var rng = stream(.summaries, split)
        let domains = CorpusDomain.allCases
        return (0..<max(0, count)).map { i in
            let domain = domains[i % domains.count]
            let example = Self.draw(split, { domain.generator.summarized(&rng) }, key: { ($0.document, nil) })
            return CorpusSummaryExample(domain: domain, document: example.document, summary: example.summary)
        }
    }
}
