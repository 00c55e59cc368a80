import Foundation

/// How a data file is laid out; `auto` picks one from the file name (see `DatasetLoader`).
public enum DataFormat: String, Sendable, CaseIterable {
    case auto, text, glue, jsonl
}

/// A run of text for language modelling, attribution or an unlabeled pool.
public struct TextDocument: Sendable, Codable, Equatable {
    public var text: String

    public init(text: String) {
        self.text = text
    }
}

/// A labeled (or, for GLUE test files, unlabeled) classification example.
public struct ClassificationExample: Sendable, Codable, Equatable {
    /// The file's own id (GLUE `index`, JSONL `id`/`idx`) when it has one, else the 0-based ordinal
    /// of the row among the file's data rows (skipped rows keep their number, so ids are stable).
    public var id: Int
    public var text: String
    /// The second sentence of a pair task (MNLI hypothesis, QNLI sentence); nil for single texts.
    public var textPair: String?
    /// Index into the task's `labelNames`; nil in unlabeled (test) files.
    public var label: Int?

    public init(id: Int, text: String, textPair: String? = nil, label: Int? = nil) {
        self.id = id
        self.text = text
        self.textPair = textPair
        self.label = label
    }
}

/// A document with its reference summary.
public struct SummarizationExample: Sendable, Codable, Equatable {
    public var id: Int
    public var document: String
    public var summary: String

    public init(id: Int, document: String, summary: String) {
        self.id = id
        self.document = document
        self.summary = summary
    }
}

/// Which classification task a file holds and what its label indices mean.
public struct ClassificationTask: Sendable, Codable, Equatable {
    public enum Name: String, Sendable, Codable, CaseIterable {
        case sst2, mnli, qnli, custom
    }

    public var name: Name
    /// Label index -> its name (the verbalizer's starting point).
    public var labelNames: [String]

    public init(name: Name, labelNames: [String]) {
        self.name = name
        self.labelNames = labelNames
    }

    /// GLUE SST-2: the file's labels are 0 (negative) and 1 (positive).
    public static let sst2 = ClassificationTask(name: .sst2, labelNames: ["negative", "positive"])
    /// GLUE MNLI, in the order of Hugging Face's `glue/mnli` ClassLabel.
    public static let mnli = ClassificationTask(name: .mnli, labelNames: ["entailment", "neutral", "contradiction"])
    /// GLUE QNLI, in the order of Hugging Face's `glue/qnli` ClassLabel.
    public static let qnli = ClassificationTask(name: .qnli, labelNames: ["entailment", "not_entailment"])

    /// The index of a label as written in a file: one of `labelNames`, or its index in decimal
    /// (how SST-2 and Hugging Face exports write labels). Nil when it is neither.
    public func labelIndex(of raw: String) -> Int? {
        if let index = labelNames.firstIndex(of: raw) { return index }
        if let index = Int(raw), labelNames.indices.contains(index) { return index }
        return nil
    }
}

/// The examples of one data file, shaped by what they can be used for.
public enum Dataset: Sendable {
    case text([TextDocument])
    case classification(ClassificationTask, [ClassificationExample])
    case summarization([SummarizationExample])

    /// Number of documents or examples.
    public var count: Int {
        switch self {
        case .text(let documents): documents.count
        case .classification(_, let examples): examples.count
        case .summarization(let examples): examples.count
        }
    }
}
