import Foundation
import Testing

@testable import ExpertLock
@testable import ExpertLockDemo

/// The demo reuses its cached models and replaces its own subfolders of `--out`, so it takes only
/// a folder that is missing, empty or already a demo's, and refuses any other without touching it.
struct DemoOutputTests {
    @Test func takesOnlyMissingEmptyOrDemoFolders() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        func folder(_ name: String) -> URL { root.appendingPathComponent(name) }

        try DemoPipeline.claimOutput(folder("missing/deeper"))
        #expect(fm.fileExists(atPath: folder("missing/deeper/\(DemoPipeline.stamp)").path))

        try fm.createDirectory(at: folder("empty"), withIntermediateDirectories: true)
        try DemoPipeline.claimOutput(folder("empty"))
        try DemoPipeline.claimOutput(folder("empty"))  // stamped by the first claim

        // A demo folder from before the stamp: a cached model with its demo stamp.
        try fm.createDirectory(at: folder("old/models/standard"), withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: folder("old/models/standard/expertlock_demo.json"))
        try Data("x".utf8).write(to: folder("old/notes.txt"))
        try DemoPipeline.claimOutput(folder("old"))

        // Anything else is refused and left as it was.
        try fm.createDirectory(at: folder("home/models/mine"), withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: folder("home/report.txt"))
        #expect(throws: OutputError.notOwned(folder("home").path, by: "expertlock demo")) {
            try DemoPipeline.claimOutput(folder("home"))
        }
        #expect(try fm.contentsOfDirectory(atPath: folder("home").path).sorted() == ["models", "report.txt"])
        try Data("file".utf8).write(to: folder("plain"))
        #expect(throws: OutputError.notOwned(folder("plain").path, by: "expertlock demo")) {
            try DemoPipeline.claimOutput(folder("plain"))
        }
    }
}
