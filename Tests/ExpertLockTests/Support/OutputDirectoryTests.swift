import Foundation
import Testing

@testable import ExpertLock

/// `OutputDirectory.mayReplace`: an existing output is refused unless --overwrite, or unless a
/// resumed run finds its own state beside it.
struct OutputDirectoryTests {
    @Test func existingOutputIsReplacedOnlyWithOverwriteOrTheRunsOwnState() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("outdir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (output, state) = (dir.appendingPathComponent("out"), dir.appendingPathComponent(".out.state"))
        // No output yet: nothing to refuse; replacing is what --overwrite says.
        #expect(try OutputDirectory.mayReplace(output, overwrite: false, resumingFrom: state) == false)
        #expect(try OutputDirectory.mayReplace(output, overwrite: true, resumingFrom: nil) == true)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        #expect(throws: OutputError.exists(output.path)) {
            try OutputDirectory.mayReplace(output, overwrite: false, resumingFrom: nil)
        }
        // --resume without a state beside the output: not this run's output.
        #expect(throws: OutputError.exists(output.path)) {
            try OutputDirectory.mayReplace(output, overwrite: false, resumingFrom: state)
        }
        #expect(try OutputDirectory.mayReplace(output, overwrite: true, resumingFrom: nil) == true)
        try Data("{}".utf8).write(to: state)
        #expect(try OutputDirectory.mayReplace(output, overwrite: false, resumingFrom: state) == true)
        // The state alone does not count without --resume.
        #expect(throws: OutputError.exists(output.path)) {
            try OutputDirectory.mayReplace(output, overwrite: false, resumingFrom: nil)
        }
    }
}
