import Foundation
import Testing

@testable import ExpertLock

/// `ResumableOutput`: the bookkeeping every resumable command shares (overlap with inputs, who owns
/// an existing output, recognising a finished run, the atomic finish, setting an old output aside).
struct ResumableOutputTests {
    static func workspace() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("resumable-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func anOutputThatIsHoldsOrLiesInsideAnInputIsRefused() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("model").path
        for out in [model, model + "/sub", dir.path] {
            #expect(throws: OutputError.isInput(out)) {
                try ResumableOutput(out, layout: .atOnce(), inputs: [model, nil], resume: false, overwrite: true)
            }
        }
        _ = try ResumableOutput(
            dir.appendingPathComponent("other").path, layout: .inPlace, inputs: [model], resume: false, overwrite: false
        )
    }

    @Test func anExistingOutputIsTheRunsOnlyWithOverwriteOrItsOwnState() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("a.json")
        let layout = ResumableOutput.Layout.atOnce(stateSuffix: ".state")
        let fresh = try ResumableOutput(out.path, layout: layout, inputs: [], resume: true, overwrite: false)
        #expect(fresh.state == dir.appendingPathComponent(".a.json.state"))
        #expect(!fresh.mayBeFinished && !fresh.mayReplace)
        #expect(fresh.missingStateNote?.contains("no saved state at") == true)
        try Data("old".utf8).write(to: out)
        #expect(throws: OutputError.exists(out.path)) {
            try ResumableOutput(out.path, layout: layout, inputs: [], resume: false, overwrite: false)
        }
        #expect(try ResumableOutput(out.path, layout: layout, inputs: [], resume: false, overwrite: true).mayReplace)
        // --resume finds the output without its state: perhaps its own finished run, told by the fingerprint.
        let resumed = try ResumableOutput(out.path, layout: layout, inputs: [], resume: true, overwrite: false)
        #expect(resumed.mayBeFinished && !resumed.mayReplace)
        #expect(try resumed.finishedRun(matches: { true }))
        #expect(throws: OutputError.exists(out.path)) { try resumed.finishedRun(matches: { false }) }
        // With its state beside it the output is the run's to replace; the finish removes the state.
        try Data("{}".utf8).write(to: resumed.state!)
        let owned = try ResumableOutput(out.path, layout: layout, inputs: [], resume: true, overwrite: false)
        #expect(owned.mayReplace && !owned.mayBeFinished && owned.missingStateNote == nil)
        try owned.writeFile(Data("new".utf8))
        #expect(try String(contentsOf: out, encoding: .utf8) == "new")
        #expect(!FileManager.default.fileExists(atPath: owned.state!.path))
        // A run that may not replace the output cannot write it.
        #expect(throws: OutputError.exists(out.path)) { try fresh.writeFile(Data("x".utf8)) }
    }

    @Test func staleTemporariesGoOnlyOnResume() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("curve")
        let stale = [".curve.tmp-1", ".curve.sweep-state.tmp-2"].map { dir.appendingPathComponent($0) }
        let kept = dir.appendingPathComponent(".curve.old-3")  // may hold the only copy of an older output
        for url in stale + [kept] {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        let layout = ResumableOutput.Layout.atOnce(stateSuffix: ".sweep-state")
        try ResumableOutput(out.path, layout: layout, inputs: [], resume: false, overwrite: false)
            .removeStaleTemporaries()
        #expect(stale.allSatisfy { FileManager.default.fileExists(atPath: $0.path) })
        try ResumableOutput(out.path, layout: layout, inputs: [], resume: true, overwrite: false)
            .removeStaleTemporaries()
        #expect(stale.allSatisfy { !FileManager.default.fileExists(atPath: $0.path) })
        #expect(FileManager.default.fileExists(atPath: kept.path))
    }

    @Test func aFolderBuiltInPlaceKeepsTheOldOutputUntilTheRunFinishes() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: out.appendingPathComponent("result.json"))
        let file = out.appendingPathComponent("result.json")
        // Neither --resume nor --overwrite: refused, nothing moved.
        let plain = try ResumableOutput(out.path, layout: .inPlace, inputs: [], resume: false, overwrite: false)
        #expect(throws: OutputError.existsNotResumed(out.path)) { try plain.run {} }
        #expect(try String(contentsOf: file, encoding: .utf8) == "old")
        // --overwrite and the run fails: the old folder comes back.
        struct Failure: Error {}
        let replacing = try ResumableOutput(out.path, layout: .inPlace, inputs: [], resume: false, overwrite: true)
        #expect(throws: Failure.self) {
            try replacing.run {
                try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
                try Data("partial".utf8).write(to: file)
                throw Failure()
            }
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == "old")
        // --overwrite and the run finishes: the new folder stays, the old one is gone.
        try replacing.run {
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try Data("new".utf8).write(to: file)
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == "new")
        let siblings = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(siblings == ["run"], "\(siblings)")
        // --resume in it: allowed, and no note (there is something to resume).
        let resumed = try ResumableOutput(out.path, layout: .inPlace, inputs: [], resume: true, overwrite: false)
        #expect(resumed.missingStateNote == nil)
        #expect(try resumed.run { 7 } == 7)
    }
}
