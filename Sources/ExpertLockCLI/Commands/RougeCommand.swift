import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

/// `expertlock rouge`: ROUGE-1/2/L of prediction lines against reference lines, the numbers
/// Google's rouge-score gives (docs: CLI.md).
struct RougeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rouge",
        abstract: "ROUGE-1, ROUGE-2 and ROUGE-L of predictions against references (one text per line).",
        discussion: """
            Scores line i of --predictions against line i of --references exactly as Google's \
            rouge-score does and prints the mean precision, recall and F-measure over lines (0-1).
            """
    )

    @Option(help: "Predicted texts, one per line (UTF-8).") var predictions: String
    @Option(help: "Reference texts, one per line (UTF-8).") var references: String
    @OptionGroup var stemmerOption: StemmerOption
    @OptionGroup var output: OutputOptions

    var stemmer: Bool { stemmerOption.stemmer ?? false }

    func run() async throws {
        try await runReportingErrors {
            let predictionLines = try Self.readLines(predictions, role: "predictions")
            let referenceLines = try Self.readLines(references, role: "references")
            guard predictionLines.count == referenceLines.count else {
                throw ArgumentInputError(
                    "predictions \(predictions) has \(predictionLines.count) lines but references \(references) "
                        + "has \(referenceLines.count) lines; they must pair line by line")
            }
            let means = RougeScorer(useStemmer: stemmer).meanScores(
                targets: referenceLines, predictions: predictionLines)
            if output.json {
                try Console.printJSON(encodable: means)
            } else {
                print("\(predictionLines.count) lines\(stemmer ? ", Porter stemmer" : "")")
                print("type      precision  recall  fmeasure")
                for type in RougeScorer.types {
                    let s = means[type] ?? .zero
                    let row = [s.precision, s.recall, s.fmeasure].map { String(format: "%.4f", $0) }
                    print(
                        type.padding(toLength: 10, withPad: " ", startingAt: 0)
                            + "\(row[0])     \(row[1])  \(row[2])")
                }
            }
        }
    }

    /// The texts of a file, one per line ("\n" or "\r\n"); a final newline does not start another
    /// line, while empty lines in between are empty texts (they score 0).
    static func readLines(_ path: String, role: String) throws -> [String] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ArgumentInputError("\(role) \(path): cannot read the file (\(error.localizedDescription))")
        }
        guard String(data: data, encoding: .utf8) != nil else {
            throw ArgumentInputError("\(role) \(path): not valid UTF-8")
        }
        // Split bytes, not Characters: Swift treats "\r\n" as one Character.
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
        if data.last == UInt8(ascii: "\n") || data.isEmpty { lines.removeLast() }
        return lines
    }
}
