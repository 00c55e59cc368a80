import Foundation
import MoEModels

/// The output of a command that may be killed and resumed, and everything about it that used to be
/// written out in each command: the input-overlap check, whether an existing output may be
/// replaced, recognising this run's own finished output, the resume state's place, stale
/// temporaries, setting aside and giving back an old output on `--overwrite`, and the atomic finish.
///
/// Two layouts, because two kinds of run exist:
/// - `.atOnce`: the output (a file, or a folder through a hidden temporary) is written whole at
///   the end, and the state is a hidden sibling file `.NAME<suffix>` (attribute, sweep). A kill
///   between the finished output and the state's deletion leaves the output alone: `--resume`
///   then compares the run fingerprint recorded in it (`finishedRun(matches:)`) and takes it.
/// - `.inPlace`: the run keeps its checkpoints inside the output folder (train, realign, audit), so
///   it cannot be written elsewhere and renamed in; `--overwrite` sets the old folder aside until
///   the run finishes (`run(_:)`).
public struct ResumableOutput: Sendable {
    public enum Layout: Sendable, Equatable {
        /// Written whole at the end; a resumable run keeps its state in `.NAME<stateSuffix>` (nil:
        /// the run is not resumable, and the type only checks and writes the output).
        case atOnce(stateSuffix: String? = nil)
        case inPlace
    }

    public let url: URL
    /// The path as the user gave it (errors name it).
    public let path: String
    public let layout: Layout
    public let resume: Bool
    public let overwrite: Bool
    /// The inputs the output may neither be, hold, nor lie inside.
    public let inputs: [URL]
    /// The state beside an `.atOnce` output (nil for `.inPlace`: its state is inside the folder).
    public let state: URL?
    /// The output exists without its state on `--resume`: it may be this run's finished result.
    public let mayBeFinished: Bool
    /// Whether the atomic finish may replace an existing output.
    public let mayReplace: Bool

    /// Checks the output before any work: an output that is, holds or lies inside an input is
    /// refused (`--overwrite` would delete it, writing inside a model folder would change that
    /// model), and so is an existing `.atOnce` output the run does not own. `recognisable: false`
    /// for a run whose output carries no fingerprint (merging finished files).
    public init(
        _ path: String, layout: Layout, inputs: [String?], resume: Bool, overwrite: Bool, recognisable: Bool = true
    ) throws {
        let url = URL(fileURLWithPath: path)
        self.path = path
        self.url = url
        self.layout = layout
        self.resume = resume
        self.overwrite = overwrite
        self.inputs = inputs.compactMap { $0 }.map { URL(fileURLWithPath: $0) }
        let target = OutputDirectory.resolvedPath(url)
        for input in self.inputs {
            let inputPath = OutputDirectory.resolvedPath(input)
            if inputPath == target || inputPath.hasPrefix(target + "/") || target.hasPrefix(inputPath + "/") {
                throw OutputError.isInput(path)
            }
        }
        switch layout {
        case .atOnce(let suffix):
            let state = suffix.map {
                url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent)\($0)")
            }
            self.state = state
            let resuming = resume ? state : nil
            mayBeFinished =
                recognisable && OutputDirectory.mayBeFinished(url, overwrite: overwrite, resumingFrom: resuming)
            mayReplace =
                mayBeFinished
                ? false : try OutputDirectory.mayReplace(url, overwrite: overwrite, resumingFrom: resuming)
        case .inPlace:
            state = nil
            mayBeFinished = false
            mayReplace = overwrite
        }
    }

    /// Whether the existing output is this run's finished result: only when `mayBeFinished`, and
    /// then `matches` (the fingerprint recorded in it equals this run's) must hold, or the output
    /// is someone else's and is refused.
    public func finishedRun(matches: () -> Bool) throws -> Bool {
        guard mayBeFinished else { return false }
        guard matches() else { throw OutputError.exists(path) }
        return true
    }

    /// Removes what a killed run left half-written: temporaries of the state and of the output
    /// (only on `--resume`, which owns the output). `.old-` folders are kept (see OutputDirectory).
    public func removeStaleTemporaries() {
        guard resume else { return }
        if let state { AtomicFile.removeStaleTemporaries(of: state) }
        AtomicFile.removeStaleTemporaries(of: url)
        OutputDirectory.removeStaleTemporaries(of: url)
    }

    /// The note a `--resume` with nothing to resume gets: the run starts from the beginning, which
    /// the user should know (they may have mistyped --out). nil when there is a state.
    public var missingStateNote: String? {
        guard resume else { return nil }
        let fm = FileManager.default
        if case .atOnce = layout {
            guard let state, !fm.fileExists(atPath: state.path) else { return nil }
            return "note: --resume: no saved state at \(state.path); starting from the beginning"
        }
        let entries = (try? fm.contentsOfDirectory(atPath: url.path)) ?? []
        guard !entries.contains(where: { !$0.hasPrefix(".") }) else { return nil }
        return "note: --resume: no saved state in \(url.path); starting from the beginning"
    }

    /// The atomic finish of an `.atOnce` folder: `body` fills a hidden temporary folder, renamed
    /// into place when complete; then the state goes.
    public func writeFolder(_ body: (URL) throws -> Void) throws {
        try OutputDirectory.write(to: url, overwrite: mayReplace, inputs: inputs, body)
        removeState()
    }

    /// The atomic finish of an `.atOnce` file; then the state goes.
    public func writeFile(_ data: Data) throws {
        if FileManager.default.fileExists(atPath: url.path) && !mayReplace { throw OutputError.exists(path) }
        try AtomicFile.write(data, to: url)
        removeState()
    }

    /// The state is deleted only after the output is in place (a kill between the two leaves a
    /// finished output that `finishedRun(matches:)` recognises).
    public func removeState() {
        if let state { try? FileManager.default.removeItem(at: state) }
    }

    /// Runs an `.inPlace` build: with `--overwrite` the old folder is set aside first, given back
    /// when `body` fails and deleted when it finishes; without `--resume` an existing non-empty
    /// folder is refused (hidden entries, such as a state beside nothing, do not count).
    public func run<T>(_ body: () throws -> T) throws -> T {
        let replaced = overwrite ? try ReplacedOutput.setAside(url) : nil
        do {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            if !resume && entries.contains(where: { !$0.hasPrefix(".") }) { throw OutputError.existsNotResumed(path) }
            let result = try body()
            replaced?.discard()
            return result
        } catch {
            replaced?.restore()
            throw error
        }
    }
}
