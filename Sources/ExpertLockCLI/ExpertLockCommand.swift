import ArgumentParser

/// The `expertlock` command: one subcommand per verb of the CLI contract (docs: CLI.md).
@main
struct ExpertLockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expertlock",
        abstract: "Measure and harden how easily a Mixture-of-Experts model can be taken by unauthorized compression.",
        subcommands: [
            ForwardCommand.self,
            BenchCommand.self,
            RougeCommand.self,
            EvalCommand.self,
        ]
    )
}
