import Foundation

/// One parser under fuzzing: its name on the command line, the shape of its inputs (which picks
/// the structure-aware mutations) and the call that parses one input.
///
/// The contract every parser must keep, whatever the bytes: refusing an input by throwing is
/// fine; trapping, crashing, hanging, or allocating in proportion to a size the input merely
/// claims is a bug. A target may also check an invariant that must hold for every input it
/// accepts (a file read then written back reads back equal) by throwing `InvariantViolation`.
struct FuzzTarget: Sendable {
    let name: String
    let grammar: InputGrammar
    let summary: String
    /// Runs once per fuzzing session before the first input (e.g. writes fixed shard files).
    let setUp: @Sendable (FuzzScratch) throws -> Void
    let parse: @Sendable (Data, FuzzScratch) throws -> Void

    init(
        _ name: String, _ grammar: InputGrammar, _ summary: String,
        setUp: @escaping @Sendable (FuzzScratch) throws -> Void = { _ in },
        parse: @escaping @Sendable (Data, FuzzScratch) throws -> Void
    ) {
        self.name = name
        self.grammar = grammar
        self.summary = summary
        self.setUp = setUp
        self.parse = parse
    }

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// What an input looks like, for the mutations that know a format's structure.
enum InputGrammar: String, Sendable {
    /// 8-byte little-endian header length, JSON header, data section.
    case safetensors
    /// One JSON document.
    case json
    /// One JSON object per line.
    case jsonLines
    /// Tab-separated rows under a header row.
    case tsv
    /// Free text in lines and paragraphs.
    case text
    /// Raw bytes: the generic mutations, plus little-endian 32-bit words worth trying.
    case binary
}

/// A property that must hold for every accepted input did not: a bug, reported like a crash.
struct InvariantViolation: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Reusable temporary files for parsers whose API takes a URL: one folder per session, one path
/// per role, overwritten for every input (no file is created per input).
final class FuzzScratch: @unchecked Sendable {
    let directory: URL

    init() throws {
        // /dev/shm when there is one: targets that write files back go through `AtomicFile`,
        // whose fsync costs milliseconds on a disk and nothing in memory.
        var isDirectory: ObjCBool = false
        let shm =
            FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory) && isDirectory.boolValue
            && FileManager.default.isWritableFile(atPath: "/dev/shm")
        let base = shm ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        directory =
            base
            .appendingPathComponent("expertlock-fuzz-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Writes `data` to `name` inside the scratch folder and returns its URL.
    func write(_ data: Data, to name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
