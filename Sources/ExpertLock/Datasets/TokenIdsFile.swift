import Foundation

/// Token ids given instead of text (`--ids FILE` in CLI.md): a JSON array of integers, or
/// integers separated by whitespace.
///
/// Lives in the library rather than the command line so the fuzzer and the tests reach it.
/// Ids are not checked against a vocabulary here: the model that consumes them does that.
public enum TokenIdsFile {
    /// Reads and parses the file at `path`.
    public static func read(_ path: String) throws -> [Int] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError.unreadable(file: path, reason: "cannot read the ids file")
        }
        return try parse(data, file: path)
    }

    /// Parses ids held in memory; `file` is the name used in errors.
    public static func parse(_ data: Data, file: String) throws -> [Int] {
        func fail(_ reason: String) -> DatasetError { .invalidTokenIds(file: file, reason: reason) }
        guard let text = String(data: data, encoding: .utf8) else { throw fail("not UTF-8 text") }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("[") {
            guard let array = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [Any] else {
                throw fail("not a JSON array of integers")
            }
            return try array.enumerated().map { i, v in
                guard let n = v as? NSNumber, let id = Int(exactly: n.doubleValue) else {
                    throw fail("element \(i) is not an integer")
                }
                return id
            }
        }
        let fields = trimmed.split(whereSeparator: { $0.isWhitespace })
        return try fields.enumerated().map { i, f in
            guard let id = Int(f) else { throw fail("token \(i + 1) '\(f)' is not an integer") }
            return id
        }
    }
}
