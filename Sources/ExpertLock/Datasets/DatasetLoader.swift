import Foundation

/// Reads a data file into a `Dataset`, picking the reader from the format or the file name.
public enum DatasetLoader {
    /// Loads `url`.
    ///
    /// - `format: .auto`: `.tsv` is GLUE (task from the header), `.jsonl`/`.ndjson`/`.json` is JSON
    ///   Lines, anything else is plain text.
    /// - `skipBad`: a malformed row is skipped and counted instead of failing the whole load.
    /// - `limit`: stop after this many examples (documents for plain text) have been kept.
    ///
    /// Throws `DatasetError` naming the file and line of the first problem.
    public static func load(_ url: URL, format: DataFormat = .auto, skipBad: Bool = false, limit: Int? = nil)
        throws -> (Dataset, skipped: Int)
    {
        try read(
            TextFile(url), format: format == .auto ? detectFormat(of: url) : format, skipBad: skipBad, limit: limit)
    }

    /// Reads a data file already in memory, as `load` would read it from `file` (the name used in
    /// errors and, with `format: .auto`, to pick the format).
    public static func load(
        data: Data, file: String, format: DataFormat = .auto, skipBad: Bool = false, limit: Int? = nil
    )
        throws -> (Dataset, skipped: Int)
    {
        let resolved = format == .auto ? detectFormat(of: URL(fileURLWithPath: file)) : format
        return try read(TextFile(data: data, path: file), format: resolved, skipBad: skipBad, limit: limit)
    }

    private static func read(_ file: TextFile, format: DataFormat, skipBad: Bool, limit: Int?) throws
        -> (Dataset, skipped: Int)
    {
        switch format {
        case .glue:
            return try GlueReader.read(file, skipBad: skipBad, limit: limit)
        case .jsonl:
            return try JSONLinesReader.read(file, skipBad: skipBad, limit: limit)
        case .text, .auto:
            var documents = PlainTextReader.documents(in: file.text)
            if let limit { documents = Array(documents.prefix(max(limit, 0))) }
            return (.text(documents), 0)
        }
    }

    /// The format `.auto` resolves to for this file name.
    public static func detectFormat(of url: URL) -> DataFormat {
        switch url.pathExtension.lowercased() {
        case "tsv": .glue
        case "jsonl", "ndjson", "json": .jsonl
        default: .text
        }
    }
}

/// A UTF-8 file in memory with its lines (1-based numbers): the one reader of every text data file
/// (plain text, GLUE TSV, JSON Lines). Newlines are universal: "\r\n" (Windows) and a lone "\r"
/// (classic Mac OS, some exports) become "\n" when the file is read, so a corpus tokenizes to the
/// same ids whichever line ends it was saved with (a kept "\r" is a token of its own).
struct TextFile {
    let path: String
    let text: String

    init(_ url: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            // Foundation's own message for this is "error 256".
            throw DatasetError.unreadable(file: url.path, reason: "is a folder, not a data file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DatasetError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        try self.init(data: data, path: url.path)
    }

    init(data: Data, path: String) throws {
        self.path = path
        guard var text = String(data: data, encoding: .utf8) else { throw DatasetError.notUTF8(file: path) }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        self.text = Self.universalNewlines(text)
    }

    /// `text` with "\r\n" and lone "\r" replaced by "\n" (bytes, so "\r\n" as one Character does
    /// not hide a line end); the text is returned unchanged, without copying, when it has no "\r".
    static func universalNewlines(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "\r")) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var previousWasCR = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: "\r") {
                bytes.append(UInt8(ascii: "\n"))
                previousWasCR = true
                continue
            }
            if !(byte == UInt8(ascii: "\n") && previousWasCR) { bytes.append(byte) }
            previousWasCR = false
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Every line with its number. Split on bytes, not Characters (the text holds no "\r" here).
    var lines: [(number: Int, text: Substring)] {
        text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated().map {
            index, bytes in
            var line = Substring(bytes)
            if line.utf8.last == UInt8(ascii: "\r") { line = line.dropLast() }
            return (index + 1, line)
        }
    }

    func error(line: Int, _ problem: String) -> DatasetError {
        .malformed(file: path, line: line, problem: problem)
    }
}

/// Applies the `skipBad` and `limit` rules while rows are read.
struct RowCollector<Element> {
    let skipBad: Bool
    let limit: Int?
    private(set) var elements: [Element] = []
    private(set) var skipped = 0

    init(skipBad: Bool, limit: Int?) {
        self.skipBad = skipBad
        self.limit = limit
    }

    /// False once `limit` elements are kept: the caller stops reading.
    var wantsMore: Bool { limit.map { elements.count < $0 } ?? true }

    /// Adds what `make` returns (nil: nothing to add); a `DatasetError` from it is rethrown, or
    /// counted when bad rows are skipped.
    mutating func add(_ make: () throws -> Element?) throws {
        do {
            if let element = try make() { elements.append(element) }
        } catch is DatasetError where skipBad {
            skipped += 1
        }
    }
}
