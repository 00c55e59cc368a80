import ArgumentParser
import Foundation

extension FuzzRunner.Report {
    /// A few lines for the terminal (and for the note that records a run).
    var text: String {
        var lines = [
            "target \(target): \(inputs) inputs (\(seeds) seeds + mutants) in \(String(format: "%.1f", seconds)) s, "
                + "\(String(format: "%.0f", Double(inputs) / max(seconds, 1e-9))) inputs/s, "
                + "pool \(pool), peak RSS \(peakRSSMB) MB",
            "  accepted \(accepted), refused \(refused) (\(refusalKinds.count) kinds of refusal)",
            "  crashes 0 (the process is still alive), hangs \(slow.count), invariant violations \(violations.count), "
                + "memory runaway \(memoryRunaway ?? "none")",
        ]
        if unexpectedCount > 0 {
            lines.append("  refused with a non-InputError (exit 1 instead of 2) \(unexpectedCount) times:")
            for (signature, example) in unexpectedErrors.sorted(by: { $0.key < $1.key }) {
                lines.append("    \(signature): \(example)")
            }
        }
        for item in slow { lines.append("  slow: \(item)") }
        for item in violations { lines.append("  violation: \(item)") }
        return lines.joined(separator: "\n")
    }

    var json: String {
        let object: [String: Any] = [
            "target": target, "inputs": inputs, "seconds": seconds, "seeds": seeds, "pool": pool, "accepted": accepted,
            "refused": refused, "refusal_kinds": refusalKinds.count, "unexpected_errors": unexpectedCount,
            "slow": slow, "violations": violations, "peak_rss_mb": peakRSSMB,
            "memory_runaway": memoryRunaway ?? NSNull(),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// `--replay`: each given input once, with its outcome (how a saved crash is reproduced and how
/// a committed regression input is checked by hand).
enum Replay {
    static func run(_ target: FuzzTarget, paths: [String], timeout: Double) throws {
        let scratch = try FuzzScratch()
        defer { scratch.remove() }
        try target.setUp(scratch)
        let worker = TimedWorker(stackSize: FuzzRunner.Options().stackSize)
        var findings = 0
        for path in try files(paths) {
            guard let data = FileManager.default.contents(atPath: path) else { throw FuzzError("\(path): cannot read") }
            nonisolated(unsafe) var outcome = FuzzOutcome.accepted
            let began = Date()
            guard worker.run(timeout: timeout, { outcome = FuzzOutcome.of(target, data, scratch) }) else {
                print("\(path): still running after \(timeout) s (hang)")
                findings += 1
                continue
            }
            let ms = Date().timeIntervalSince(began) * 1000
            switch outcome {
            case .accepted: print("\(path): accepted (\(String(format: "%.1f", ms)) ms)")
            case .refused(let signature): print("\(path): refused: \(signature)")
            case .unexpectedError(_, let description): print("\(path): refused with a non-InputError: \(description)")
            case .violation(let message):
                print("\(path): INVARIANT VIOLATED: \(message)")
                findings += 1
            }
        }
        if findings > 0 { throw ExitCode(1) }
    }

    /// Files as given, folders expanded to their files (sorted).
    static func files(_ paths: [String]) throws -> [String] {
        try paths.flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw FuzzError("\(path): no such file")
            }
            guard isDirectory.boolValue else { return [path] }
            return try FileManager.default.contentsOfDirectory(atPath: path).sorted().filter { !$0.hasPrefix(".") }.map
            { "\(path)/\($0)" }
        }
    }
}
