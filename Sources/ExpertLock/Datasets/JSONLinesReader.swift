import Foundation

/// JSON Lines files: one object per line, blank lines ignored. The first usable row decides the
/// shape of the whole file:
/// - `{"document": ..., "summary": ...}` -> summarization;
/// - `{"premise": ..., "hypothesis": ..., "label": ...}` -> MNLI (its usual public JSONL form, as the
///   Hugging Face `glue/mnli` and `multi_nli` exports write it; label 0/1/2 or its name, -1 unlabelled);
/// - `{"question": ..., "sentence": ..., "label": ...}` -> QNLI, likewise;
/// - `{"text": ..., "label": ...}` -> classification (task `custom`; labels all integers, or all strings),
///   with `"text_pair"` as the second text of a pair task when present;
/// - `{"text": ...}` -> text documents.
/// An integer `id` (or `idx`) key becomes the example id; other keys are ignored.
public enum JSONLinesReader {
    enum Shape: Equatable {
        case text, summarization
        /// Labelled examples: the keys of the text and of the pair's second text, and the GLUE
        /// task the keys name (nil: a custom task whose labels the file defines).
        case classification(text: String, pair: String?, task: ClassificationTask?)

        init?(_ object: [String: JSONValue]) {
            if object["document"] != nil && object["summary"] != nil {
                self = .summarization
            } else if object["premise"] != nil && object["hypothesis"] != nil && object["label"] != nil {
                self = .classification(text: "premise", pair: "hypothesis", task: .mnli)
            } else if object["question"] != nil && object["sentence"] != nil && object["label"] != nil {
                self = .classification(text: "question", pair: "sentence", task: .qnli)
            } else if object["text"] != nil && object["label"] != nil {
                self = .classification(text: "text", pair: object["text_pair"] != nil ? "text_pair" : nil, task: nil)
            } else if object["text"] != nil {
                self = .text
            } else {
                return nil
            }
        }
    }

    /// Integer labels name classes 0...maxIndex, and the task gets one label name per class: an
    /// unchecked label of 10^9 would allocate a billion names. Far above any classification task.
    static let maxClasses = 10_000

    /// A label as written: custom tasks accept integer indices or string names, not both.
    enum RawLabel: Hashable {
        case index(Int)
        case name(String)
    }

    struct Row {
        var id: Int
        var text: String
        var second: String?
        var label: RawLabel?
        /// The label's index in a GLUE task's `labelNames` (MNLI, QNLI), nil when unlabelled.
        var taskLabel: Int?
    }

    static func read(_ file: TextFile, skipBad: Bool, limit: Int?) throws -> (Dataset, skipped: Int) {
        let decoder = JSONDecoder()
        var shape: Shape?
        var labelsAreIndices: Bool?
        var collector = RowCollector<Row>(skipBad: skipBad, limit: limit)
        var ordinal = 0
        for line in file.lines where !line.text.allSatisfy(\.isWhitespace) {
            guard collector.wantsMore else { break }
            defer { ordinal += 1 }
            try collector.add {
                let object = try parseObject(line.text, number: line.number, decoder, file)
                if shape == nil {
                    guard let detected = Shape(object) else {
                        throw file.error(
                            line: line.number,
                            "missing key: expected \"text\", \"text\" and \"label\", \"premise\", \"hypothesis\" and "
                                + "\"label\" (MNLI), \"question\", \"sentence\" and \"label\" (QNLI), "
                                + "or \"document\" and \"summary\"")
                    }
                    shape = detected
                }
                guard let shape else { return nil }
                let row = try makeRow(object, shape, number: line.number, ordinal: ordinal, file)
                if let label = row.label {
                    let isIndex = if case .index = label { true } else { false }
                    if let expected = labelsAreIndices, expected != isIndex {
                        throw file.error(
                            line: line.number,
                            "label is \(isIndex ? "an integer" : "a string") but earlier labels are "
                                + "\(expected ? "integers" : "strings")")
                    }
                    labelsAreIndices = isIndex
                }
                return row
            }
        }
        let rows = collector.elements
        let dataset: Dataset
        switch shape ?? .text {
        case .text:
            dataset = .text(rows.map { TextDocument(text: $0.text) })
        case .summarization:
            dataset = .summarization(
                rows.map { SummarizationExample(id: $0.id, document: $0.text, summary: $0.second ?? "") })
        case .classification(_, _, let task?):
            dataset = .classification(
                task,
                rows.map { ClassificationExample(id: $0.id, text: $0.text, textPair: $0.second, label: $0.taskLabel) })
        case .classification(_, _, nil):
            dataset = classification(rows)
        }
        return (dataset, collector.skipped)
    }

    /// Integer labels are their own indices (names "0", "1", ...); string labels are indexed in
    /// sorted order, so files with the same label set agree on the indices.
    static func classification(_ rows: [Row]) -> Dataset {
        var names: [String] = []
        var indexOfName: [String: Int] = [:]
        if case .name = rows.first?.label {
            names = Set(rows.compactMap { if case .name(let n) = $0.label { n } else { nil } }).sorted()
            indexOfName = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, $0.offset) })
        } else {
            let maxIndex = rows.compactMap { if case .index(let i) = $0.label { i } else { nil } }.max() ?? -1
            names = (0..<(maxIndex + 1)).map(String.init)
        }
        let examples = rows.map { row in
            let label: Int? =
                switch row.label {
                case .index(let i): i
                case .name(let n): indexOfName[n]
                case nil: nil
                }
            return ClassificationExample(id: row.id, text: row.text, textPair: row.second, label: label)
        }
        return .classification(ClassificationTask(name: .custom, labelNames: names), examples)
    }

    static func parseObject(_ line: Substring, number: Int, _ decoder: JSONDecoder, _ file: TextFile) throws
        -> [String: JSONValue]
    {
        do {
            return try decoder.decode([String: JSONValue].self, from: Data(line.utf8))
        } catch DecodingError.typeMismatch {
            let start = line.drop(while: \.isWhitespace).first
            throw file.error(
                line: number,
                start == "[" && number == 1
                    ? "expected one JSON object per line (JSON Lines), found an array"
                    : "expected a JSON object")
        } catch {
            throw file.error(line: number, "invalid JSON")
        }
    }

    static func makeRow(_ object: [String: JSONValue], _ shape: Shape, number: Int, ordinal: Int, _ file: TextFile)
        throws -> Row
    {
        func string(_ key: String) throws -> String {
            guard let value = object[key] else { throw file.error(line: number, "missing key \"\(key)\"") }
            guard case .string(let s) = value else { throw file.error(line: number, "\"\(key)\" must be a string") }
            return s
        }
        var id = ordinal
        if case .integer(let given) = object["id"] ?? object["idx"] { id = given }
        switch shape {
        case .text:
            return Row(id: id, text: try string("text"))
        case .summarization:
            return Row(id: id, text: try string("document"), second: try string("summary"))
        case .classification(let textKey, let pairKey, let task?):
            let text = try string(textKey)
            let second = try pairKey.map { try string($0) }
            let label: Int?
            switch object["label"] {
            case .integer(-1): label = nil  // Hugging Face's unlabelled (test) rows
            case .integer(let i) where task.labelNames.indices.contains(i): label = i
            case .string(let s) where task.labelIndex(of: s) != nil: label = task.labelIndex(of: s)
            default:
                let names = task.labelNames.enumerated().map { "\($0.offset) or \"\($0.element)\"" }
                    .joined(separator: ", ")
                throw file.error(line: number, "\"label\" must be \(names) (-1: unlabelled)")
            }
            return Row(id: id, text: text, second: second, taskLabel: label)
        case .classification(let textKey, let pairKey, nil):
            let text = try string(textKey)
            let second = try pairKey.map { try string($0) }
            let label: RawLabel
            switch object["label"] {
            case nil:
                throw file.error(line: number, "missing key \"label\"")
            case .integer(let i) where i >= 0 && i < maxClasses:
                label = .index(i)
            case .string(let s):
                label = .name(s)
            default:
                throw file.error(line: number, "\"label\" must be an integer from 0 to \(maxClasses - 1) or a string")
            }
            return Row(id: id, text: text, second: second, label: label)
        }
    }
}

/// Just enough of JSON to tell strings from integers from everything else.
enum JSONValue: Decodable, Equatable {
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case null
    case other

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int.self) {
            self = .integer(i)
        } else if let d = try? container.decode(Double.self) {
            self = .number(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else {
            // Arrays and objects: present but of no type a key here accepts.
            self = .other
        }
    }
}
