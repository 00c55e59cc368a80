import ArgumentParser

/// The `expertlock` command: one subcommand per verb of the CLI contract (docs: CLI.md).
@main
struct ExpertLockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expertlock",
        abstract: "Measure and harden how easily a Mixture-of-Experts model can be taken by unauthorized compression.",
        subcommands: [
            ForwardCommand.self,
            AttributeCommand.self,
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
        ]
    )
}
