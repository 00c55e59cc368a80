import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// A file of the built-in corpus could not be written.
public enum CorpusError: InputError {
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason): "\(path): cannot write the built-in corpus: \(reason)"
        }
    }
}

extension BuiltinCorpus {
    /// Number of whitespace-separated tokens, the unit of `tokensTarget`.
    static func whitespaceTokenCount(_ text: String) -> Int {
        var count = 0
        var inToken = false
        for byte in text.utf8 {
            let space = byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D
            if !space && !inToken { count += 1 }
            inToken = !space
        }
        return count
    }

    /// Documents of `split` until they hold at least `tokens` whitespace tokens.
    func documents(tokens: Int, split: CorpusSplit) -> [CorpusDocument] {
        var stream = documentStream(domains: CorpusDomain.allCases, split: split)
        var out: [CorpusDocument] = []
        var total = 0
        while total < tokens {
            let document = stream.next()
            total += Self.whitespaceTokenCount(document.text)
            out.append(document)
        }
        return out
    }

    /// Writes the corpus as files the ExpertLock data readers accept, sized from `tokensTarget`
    /// (the whitespace tokens of `lm.train.txt`):
    ///
    /// - `lm.train.txt`, `lm.valid.txt` (a tenth of the train size): documents separated by blank lines;
    /// - `sentiment.{train,dev}.jsonl`: `{"text", "label"}`, `tokensTarget / 250` train lines (at
    ///   least 64) and an eighth of that for dev (at least 16);
    /// - `entailment.{train,dev}.jsonl`: `{"text", "text_pair", "label"}`, sized as sentiment;
    /// - `summaries.{train,dev}.jsonl`: `{"document", "summary"}`, `tokensTarget / 500` train lines
    ///   (at least 32) and an eighth of that for dev (at least 8).
    ///
    /// Dev files come from the `valid` split. Each file is written to a temporary file in the same
    /// directory and renamed over the destination, so a reader never sees half a file.
    /// Returns the written files keyed by file name.
    @discardableResult
    public func write(to directory: URL, tokensTarget: Int = 1_000_000) throws -> [String: URL] {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CorpusError.cannotWrite(path: directory.path, reason: "\(error.localizedDescription)")
        }
        let target = max(1, tokensTarget)
        let classification = max(64, target / 250)
        let summaryCount = max(32, target / 500)
        var written: [String: URL] = [:]

        func save(_ name: String, _ text: String) throws {
            written[name] = try Self.atomicWrite(text, to: directory.appendingPathComponent(name))
        }

        for (name, split, tokens) in [
            ("lm.train.txt", CorpusSplit.train, target), ("lm.valid.txt", .valid, max(1, target / 10)),
        ] {
            try save(name, documents(tokens: tokens, split: split).map(\.text).joined(separator: "\n\n") + "\n")
        }
        for (suffix, split, count) in [
            ("train", CorpusSplit.train, classification), ("dev", .valid, max(16, classification / 8)),
        ] {
            try save(
                "sentiment.\(suffix).jsonl",
                sentiment(count: count, split: split).map {
                    "{\"text\": \(JSONLine.quoted($0.text)), \"label\": \($0.label)}\n"
                }.joined())
            try save(
                "entailment.\(suffix).jsonl",
                entailment(count: count, split: split).map {
                    "{\"text\": \(JSONLine.quoted($0.text)), \"text_pair\": \(JSONLine.quoted($0.textPair ?? "")),"
                        + " \"label\": \($0.label)}\n"
                }.joined())
        }
        for (suffix, split, count) in [
            ("train", CorpusSplit.train, summaryCount), ("dev", .valid, max(8, summaryCount / 8)),
        ] {
            try save(
                "summaries.\(suffix).jsonl",
                summaries(count: count, split: split).map {
                    "{\"document\": \(JSONLine.quoted($0.document)), \"summary\": \(JSONLine.quoted($0.summary))}\n"
                }.joined())
        }
        return written
    }

    /// Writes to `name.tmp-<pid>` next to `url`, then renames it over `url`.
    static func atomicWrite(_ text: String, to url: URL) throws -> URL {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try Data(text.utf8).write(to: temporary)
        } catch {
            throw CorpusError.cannotWrite(path: url.path, reason: error.localizedDescription)
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw CorpusError.cannotWrite(path: url.path, reason: reason)
        }
        return url
    }
}

/// JSON string literals written by hand, so that the key order is the one the readers document
/// and the output does not depend on a platform's JSON encoder.
enum JSONLine {
    static func quoted(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
