import Foundation

/// Plain text such as WikiText (`wiki.test.tokens`, `wiki.test.raw`): the whole file is one text
/// for perplexity, and its paragraphs are documents for attribution corpora and unlabeled pools.
public enum PlainTextReader {
    /// The file's text as stored (a leading byte-order mark removed, line ends made "\n": CRLF and
    /// lone CR files give the ids of the LF file), for perplexity.
    public static func wholeText(of url: URL) throws -> String {
        try TextFile(url).text
    }

    /// The non-empty documents of `text`: a blank (whitespace-only) line or a WikiText heading line
    /// (`= Title =`, `= = Section = =`) ends a document and heading lines are dropped. The lines of
    /// one document are joined by "\n" and the document is trimmed of surrounding whitespace.
    public static func documents(in text: String) -> [TextDocument] {
        var documents: [TextDocument] = []
        var current: [Substring] = []
        func flush() {
            let joined = current.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            if !joined.isEmpty { documents.append(TextDocument(text: joined)) }
            current.removeAll()
        }
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let line = Substring(line)
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || isHeading(trimmed) {
                flush()
            } else {
                current.append(line.utf8.last == UInt8(ascii: "\r") ? line.dropLast() : line)
            }
        }
        flush()
        return documents
    }

    /// A WikiText heading: a trimmed line that starts and ends with "=" around a title.
    static func isHeading(_ trimmed: String) -> Bool {
        trimmed.count >= 3 && trimmed.hasPrefix("=") && trimmed.hasSuffix("=")
    }
}
