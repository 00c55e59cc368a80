import ArgumentParser
import Foundation
import TensorCore

/// The `expertlock` command: one subcommand per verb of the CLI contract (docs: CLI.md).
@main
struct ExpertLockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expertlock",
        abstract: "Measure and harden how easily a Mixture-of-Experts model can be taken by unauthorized compression.",
        subcommands: [
            ForwardCommand.self,
            AttributeCommand.self,
            TraceCommand.self,
            MonitorCommand.self,
            PruneCommand.self,
            SweepCommand.self,
            BenchCommand.self,
            RougeCommand.self,
            TokenizeCommand.self,
            TrainCommand.self,
            DemoCommand.self,
            TrainTokenizerCommand.self,
            EvalCommand.self,
            KeygenCommand.self,
            LockCommand.self,
            LogCommand.self,
            ProvenanceCommand.self,
            RealignCommand.self,
            CorpusCommand.self,
            AuditCommand.self,
        ]
    )

    /// ArgumentParser's entry point, after one setup step that must precede every other thread:
    /// glibc binds a thread to a malloc arena at its first allocation, so the heap settings of
    /// `Heap.keepFreedMemory` only take hold for all threads when made before any exist.
    static func main() async {
        Heap.keepFreedMemory()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // The contract (CLI.md) gives bad arguments exit code 2, as every other input error;
            // ArgumentParser's own code for them is 64 (EX_USAGE). Help and clean exits keep theirs.
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }
}
