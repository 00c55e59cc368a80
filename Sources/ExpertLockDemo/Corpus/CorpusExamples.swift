import ExpertLock
import TensorCore

/// The subject areas of the built-in corpus. Each has its own vocabulary and its own sentence
/// shapes, so that the experts of a small MoE trained on the corpus have something to specialise in,
/// and pruning an expert hurts some domains more than others.
public enum CorpusDomain: String, CaseIterable, Sendable, Codable {
    case arithmetic, weather, sports, recipes, code, chemistry, finance, travel

    /// The generator that writes this domain's text.
    var generator: any DomainGenerator.Type {
        switch self {
        case .arithmetic: ArithmeticExercises.self
        case .weather: WeatherBulletins.self
        case .sports: MatchReports.self
        case .recipes: Recipes.self
        case .code: CodeSnippets.self
        case .chemistry: ChemistryNotes.self
        case .finance: FinanceReports.self
        case .travel: TravelGuides.self
        }
    }
}

/// Which part of the corpus to draw from. Each split has its own derived seed, and every text is
/// assigned to exactly one split by a hash of its characters, so no text occurs in two splits.
public enum CorpusSplit: String, Sendable {
    case train, valid, test

    /// Out of `CorpusSplit.buckets` hash buckets, the ones whose texts belong to this split
    /// (train 80 %, valid 10 %, test 10 %).
    var buckets: Range<UInt64> {
        switch self {
        case .train: 0..<8
        case .valid: 8..<9
        case .test: 9..<10
        }
    }

    static let bucketCount: UInt64 = 10

    /// Whether `text` falls in this split. FNV-1a over the UTF-8 bytes: the same on every platform,
    /// unlike `Hasher`, which is seeded per process.
    func owns(_ text: String, pair: String? = nil) -> Bool {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3
        }
        if let pair {
            hash = (hash ^ 0x1F) &* 0x100_0000_01B3
            for byte in pair.utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3
            }
        }
        return buckets.contains(hash % Self.bucketCount)
    }

    /// Salt mixed into the corpus seed so each split draws from its own stream.
    var salt: UInt64 {
        switch self {
        case .train: 1
        case .valid: 2
        case .test: 3
        }
    }
}

/// One language-modelling document, tagged with the domain that wrote it.
public struct CorpusDocument: Sendable, Codable, Equatable {
    public var domain: CorpusDomain
    public var text: String

    public init(domain: CorpusDomain, text: String) {
        self.domain = domain
        self.text = text
    }
}

/// One labelled example of a classification task: a single text (sentiment) or a premise and a
/// hypothesis (entailment, `textPair` set). `label` indexes `BuiltinCorpus.sentimentLabels` or
/// `BuiltinCorpus.entailmentLabels`.
public struct CorpusClassificationExample: Sendable, Codable, Equatable {
    public var domain: CorpusDomain
    public var text: String
    public var textPair: String?
    public var label: Int

    public init(domain: CorpusDomain, text: String, textPair: String? = nil, label: Int) {
        self.domain = domain
        self.text = text
        self.textPair = textPair
        self.label = label
    }
}

/// A short document and its one-line summary, which is a deterministic function of the
/// document's key facts (every name and number in it appears in the document).
public struct CorpusSummaryExample: Sendable, Codable, Equatable {
    public var domain: CorpusDomain
    public var document: String
    public var summary: String

    public init(domain: CorpusDomain, document: String, summary: String) {
        self.domain = domain
        self.document = document
        self.summary = summary
    }
}
