import Foundation

/// GLUE TSV files as distributed by the benchmark (SST-2, MNLI, QNLI): a header row names the
/// columns and each row holds tab-separated fields, without quoting (GLUE's own readers use
/// `quotechar=None`: MNLI sentences contain unbalanced quote characters).
///
/// The task is recognised from the header and columns are found by name, so extra columns (MNLI's
/// parses and annotator labels, `index`) and the order of columns do not matter:
/// - MNLI: `sentence1`, `sentence2`, label `gold_label` (train, dev_matched, dev_mismatched);
/// - QNLI: `question`, `sentence`, label `label` (entailment / not_entailment);
/// - SST-2: `sentence`, label `label` (0 / 1).
/// Test files have no label column; their examples are unlabeled.
public enum GlueReader {
    /// Where one task's fields live in a header.
    struct Layout {
        var task: ClassificationTask
        var textColumn: Int
        var pairColumn: Int?
        var labelColumn: Int?
        var idColumn: Int?
        var columnCount: Int

        /// The layout for a header row, or nil when no GLUE task has these columns.
        init?(header: [String]) {
            func column(_ name: String) -> Int? { header.firstIndex(of: name) }
            if let s1 = column("sentence1"), let s2 = column("sentence2") {
                task = .mnli
                textColumn = s1
                pairColumn = s2
                labelColumn = column("gold_label")
            } else if let question = column("question"), let sentence = column("sentence") {
                task = .qnli
                textColumn = question
                pairColumn = sentence
                labelColumn = column("label")
            } else if let sentence = column("sentence") {
                task = .sst2
                textColumn = sentence
                pairColumn = nil
                labelColumn = column("label")
            } else {
                return nil
            }
            idColumn = column("index") ?? column("idx")
            columnCount = header.count
        }
    }

    static func read(_ file: TextFile, skipBad: Bool, limit: Int?) throws -> (Dataset, skipped: Int) {
        let lines = file.lines
        guard let headerLine = lines.first(where: { !$0.text.isEmpty }) else {
            throw file.error(line: 1, "empty file; expected a GLUE header row (e.g. sentence<TAB>label)")
        }
        let header = headerLine.text.split(separator: "\t", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard let layout = Layout(header: header) else {
            throw file.error(
                line: headerLine.number,
                "unrecognised GLUE header [\(header.joined(separator: ", "))]; expected the columns of SST-2 "
                    + "(sentence, label), QNLI (question, sentence, label) or MNLI (sentence1, sentence2, gold_label)")
        }
        var collector = RowCollector<ClassificationExample>(skipBad: skipBad, limit: limit)
        var ordinal = 0
        for line in lines where line.number > headerLine.number && !line.text.isEmpty {
            guard collector.wantsMore else { break }
            defer { ordinal += 1 }
            try collector.add { try example(line.text, number: line.number, ordinal: ordinal, layout, file) }
        }
        return (.classification(layout.task, collector.elements), collector.skipped)
    }

    static func example(_ line: Substring, number: Int, ordinal: Int, _ layout: Layout, _ file: TextFile) throws
        -> ClassificationExample
    {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard fields.count == layout.columnCount else {
            throw file.error(
                line: number,
                "expected \(layout.columnCount) tab-separated columns as in the header, found \(fields.count)")
        }
        var label: Int?
        if let labelColumn = layout.labelColumn {
            let raw = fields[labelColumn].trimmingCharacters(in: .whitespaces)
            guard let index = layout.task.labelIndex(of: raw) else {
                throw file.error(
                    line: number,
                    "label '\(raw)' is not a \(layout.task.name.rawValue) label (\(labelList(layout.task)))")
            }
            label = index
        }
        let id = layout.idColumn.flatMap { Int(fields[$0].trimmingCharacters(in: .whitespaces)) } ?? ordinal
        return ClassificationExample(
            id: id, text: String(fields[layout.textColumn]), textPair: layout.pairColumn.map { String(fields[$0]) },
            label: label)
    }

    /// "0 or negative, 1 or positive" style list of what a label may be.
    static func labelList(_ task: ClassificationTask) -> String {
        task.labelNames.enumerated().map { "\($0.offset) or \($0.element)" }.joined(separator: ", ")
    }
}
