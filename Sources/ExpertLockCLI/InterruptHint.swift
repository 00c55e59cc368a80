import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Ctrl-C (SIGINT) during a resumable command: the state saved so far is kept, and the user is
/// told how to go on, instead of the shell's bare `^C` that leaves them to guess whether the
/// work is lost. The handler only writes a prepared message and exits (both async-signal-safe):
/// the run's files are already consistent at every moment (atomic writes), as for a kill.
enum InterruptHint {
    /// The message, prepared before the handler is installed (a handler may not allocate).
    nonisolated(unsafe) private static var message: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) private static var length = 0

    /// Installs the handler for a command that continues with `--resume` (`what` names its state).
    static func install(command: String, what: String) {
        let text =
            "\ninterrupted: \(what) is saved; run the same `expertlock \(command)` command with --resume "
            + "to continue\n"
        message = strdup(text)
        length = text.utf8.count
        signal(SIGINT) { _ in
            if let message = InterruptHint.message {
                _ = write(STDERR_FILENO, message, InterruptHint.length)
            }
            _exit(130)  // 128 + SIGINT, as a shell reports an interrupted program
        }
    }
}

/// The note a resumed run prints when there is nothing to resume: `--resume` without a saved
/// state starts from the beginning, which the user should know (they may have mistyped --out).
enum ResumeNote {
    static func missingState(_ state: URL, resume: Bool) {
        guard resume, !FileManager.default.fileExists(atPath: state.path) else { return }
        Console.progress("note: --resume: no saved state at \(state.path); starting from the beginning")
    }
}
