import Foundation

/// Runs the built `expertlock` binary (it sits next to the test bundle after `swift build`/`swift test`).
enum CLIRunner {
    static let executable: URL? = {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let url = dir.appendingPathComponent("expertlock")
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }()

    /// Whether the CLI suites run. They skip when the binary is missing (a bare `swift test
    /// --filter` of another target), except where `EXPERTLOCK_REQUIRE_CLI=1` says the binary must be
    /// there (CI): they then run and fail on the missing binary instead of passing by skipping.
    static var isAvailable: Bool {
        executable != nil || ProcessInfo.processInfo.environment["EXPERTLOCK_REQUIRE_CLI"] == "1"
    }

    struct MissingBinary: Error, CustomStringConvertible {
        var description: String { "the expertlock binary is not next to the test bundle (run `swift build` first)" }
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts the binary with its output discarded (for runs a test kills: a full pipe must not
    /// stall it before the kill).
    static func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        guard let executable = CLIRunner.executable else { throw MissingBinary() }
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func run(_ arguments: [String]) throws -> Run {
        let process = Process()
        guard let executable = CLIRunner.executable else { throw MissingBinary() }
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs the binary and sends it SIGINT (Ctrl-C) once `marker` has appeared on its stderr.
    static func runInterrupted(_ arguments: [String], after marker: String, timeout: TimeInterval = 120) throws -> Run {
        let process = Process()
        guard let executable = CLIRunner.executable else { throw MissingBinary() }
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let collected = Collected()
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if collected.append(data, marker: marker) { process.interrupt() }
        }
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        err.fileHandleForReading.readabilityHandler = nil
        let rest = err.fileHandleForReading.readDataToEndOfFile()
        _ = collected.append(rest, marker: marker)
        return Run(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: collected.text)
    }

    /// Stderr as it arrives; `append` says when `marker` first shows up.
    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        private var seen = false
        var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }

        func append(_ more: Data, marker: String) -> Bool {
            lock.withLock {
                data.append(more)
                guard !seen, String(decoding: data, as: UTF8.self).contains(marker) else { return false }
                seen = true
                return true
            }
        }
    }

    /// The package root, from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func modelFixture(_ name: String) -> URL {
        packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures/models/\(name)")
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("expertlock-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
