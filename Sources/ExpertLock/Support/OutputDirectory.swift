import Foundation
import MoEModels
import TensorCore

/// Creates an output folder all at once: its files are written into a hidden temporary folder
/// beside it, which is renamed into place only when complete. An existing output is refused unless
/// `overwrite`, so a finished result is never lost to a typo, and a killed run leaves no
/// half-written folder under the real name.
public enum OutputDirectory {
    public static func write(to url: URL, overwrite: Bool, inputs: [URL] = [], _ body: (URL) throws -> Void) throws {
        let fm = FileManager.default
        // The output must neither be an input, nor hold one (replacing it would delete the input),
        // nor lie inside an input folder (writing it would change that model).
        let target = resolvedPath(url)
        for input in inputs {
            let path = resolvedPath(input)
            if path == target || path.hasPrefix(target + "/") || target.hasPrefix(path + "/") {
                throw OutputError.isInput(url.path)
            }
        }
        if fm.fileExists(atPath: url.path) && !overwrite {
            throw OutputError.exists(url.path)
        }
        // A file-system failure anywhere below (the parent read-only, the disk full) is reported
        // on the user's output path with its cause, not on the hidden temporary folder.
        do {
            try writeThroughTemporary(to: url, body)
        } catch {
            throw FileSystemFailure.mapping(error, to: url.path)
        }
    }

    private static func writeThroughTemporary(to url: URL, _ body: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = url.deletingLastPathComponent()
        // Foundation reports a file where a folder should be as "file exists": say what it is.
        var ancestor = parent.standardizedFileURL
        while !fm.fileExists(atPath: ancestor.path) && ancestor.path != "/" {
            ancestor = ancestor.deletingLastPathComponent()
        }
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: ancestor.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw FileSystemFailure(path: url.path, cause: "\(ancestor.path) is a file, not a folder")
        }
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let tmp = parent.appendingPathComponent(".\(url.lastPathComponent).tmp-\(UInt32.random(in: 0...UInt32.max))")
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        do {
            try body(tmp)
            if fm.fileExists(atPath: url.path) {
                let old = parent.appendingPathComponent(
                    ".\(url.lastPathComponent).old-\(UInt32.random(in: 0...UInt32.max))")
                try fm.moveItem(at: url, to: old)
                try fm.moveItem(at: tmp, to: url)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: tmp, to: url)
            }
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
    }

    /// The absolute path of `url` with every symbolic link resolved, also for a path that does not
    /// exist yet (an output about to be written): Foundation's `resolvingSymlinksInPath` leaves
    /// such a path as it is, so `link/new` with `link` → a model folder would not be seen as inside
    /// the model. The nearest existing ancestor is resolved and the rest appended.
    public static func resolvedPath(_ url: URL) -> String {
        var existing = url.standardizedFileURL
        var rest: [String] = []
        while !FileManager.default.fileExists(atPath: existing.path) && existing.path != "/" {
            rest.insert(existing.lastPathComponent, at: 0)
            existing = existing.deletingLastPathComponent()
        }
        var resolved = existing.resolvingSymlinksInPath()
        for part in rest { resolved.appendPathComponent(part) }
        return resolved.standardizedFileURL.path
    }

    /// Whether a run may replace `output`, decided before it does any work: an existing output is
    /// refused (`OutputError.exists`) unless `overwrite`, or unless the run resumes and its own
    /// resume `state` is still beside the output. A kill that falls between writing the output and
    /// deleting the state leaves both, and the output is then this run's: the resumed run writes it
    /// again instead of refusing it. (Resumable commands check here first, so no state is ever
    /// written beside an output the run does not own.)
    public static func mayReplace(_ output: URL, overwrite: Bool, resumingFrom state: URL?) throws -> Bool {
        let fm = FileManager.default
        if overwrite || !fm.fileExists(atPath: output.path) { return overwrite }
        if let state, fm.fileExists(atPath: state.path) { return true }
        throw OutputError.exists(output.path)
    }

    /// Whether a resumed run may be looking at its own finished output: it exists and its resume
    /// `state` does not (a kill fell after the state was deleted). The run then compares the run
    /// fingerprint the output carries with its own before taking it; without `--resume` (state
    /// nil) or with `overwrite` it is never so.
    public static func mayBeFinished(_ output: URL, overwrite: Bool, resumingFrom state: URL?) -> Bool {
        guard let state, !overwrite else { return false }
        let fm = FileManager.default
        return fm.fileExists(atPath: output.path) && !fm.fileExists(atPath: state.path)
    }

    /// Removes the `.<name>.tmp-<random>` folders a killed run writing `url` left behind (for a
    /// resumed run, which owns `url`). `.old-` folders are kept: one may hold the only copy of a
    /// previous output when a kill fell between the two renames.
    public static func removeStaleTemporaries(of url: URL) {
        let parent = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent).tmp-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? []
        where name.hasPrefix(prefix) {
            try? FileManager.default.removeItem(at: parent.appendingPathComponent(name))
        }
    }

    /// Files of a model folder that describe its tokenizer and generation, copied along with a
    /// derived checkpoint so it stays usable on its own.
    public static let companionFiles = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
        "generation_config.json", "vocab.json", "merges.txt",
    ]

    public static func copyCompanionFiles(from source: URL, to destination: URL) throws {
        for name in companionFiles {
            let from = source.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: from.path) {
                try FileCopy.copy(from: from, to: destination.appendingPathComponent(name))
            }
        }
    }
}

/// An existing output moved out of the way while a run that builds its output in place replaces
/// it (train and realign keep their checkpoints in the output folder, so they cannot write it
/// elsewhere and rename it in at the end). `--overwrite` renames the old folder to a hidden sibling
/// `.NAME.replaced-<random>` instead of deleting it: a run that fails gives it back (`restore`), a
/// killed one leaves it beside the new folder, and only a finished run deletes it (`discard`).
public struct ReplacedOutput: Sendable {
    public let original: URL
    /// Where the old output now is (nil: there was none).
    public let aside: URL?

    /// Renames `url`, when it exists, to its hidden sibling.
    public static func setAside(_ url: URL) throws -> ReplacedOutput {
        let fm = FileManager.default
        guard fm.fileExists(atPath: url.path) else { return ReplacedOutput(original: url, aside: nil) }
        let aside = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).replaced-\(UInt32.random(in: 0...UInt32.max))")
        try fm.moveItem(at: url, to: aside)
        // Said on stderr: a kill (or Ctrl-C) before the run finishes leaves the old output there.
        FileHandle.standardError.write(
            Data("moved the existing \(url.path) to \(aside.path) until this run finishes\n".utf8))
        return ReplacedOutput(original: url, aside: aside)
    }

    /// The run failed: its partial output goes, the old one comes back under its name.
    public func restore() {
        guard let aside else { return }
        let fm = FileManager.default
        try? fm.removeItem(at: original)
        try? fm.moveItem(at: aside, to: original)
    }

    /// The run finished: the old output is no longer needed.
    public func discard() {
        guard let aside else { return }
        try? FileManager.default.removeItem(at: aside)
    }
}

public enum OutputError: InputError, Equatable {
    case exists(String)
    /// A folder a resumable run builds in place exists, and the run neither resumes nor replaces it.
    case existsNotResumed(String)
    case isInput(String)
    /// A folder a command would add to and delete parts of, holding files it did not write.
    case notOwned(String, by: String)
    public var description: String {
        switch self {
        case .notOwned(let path, let command):
            return
                "\(path): not empty and not a "
                + "folder \(command) wrote; choose another output folder (nothing was changed)"
        case .exists(let path): return "\(path): already exists (pass --overwrite to replace it)"
        case .existsNotResumed(let path):
            return "\(path): output folder exists (use --resume to continue or --overwrite to replace it)"
        case .isInput(let path): return "\(path): is an input of this command; choose another output folder"
        }
    }
}
