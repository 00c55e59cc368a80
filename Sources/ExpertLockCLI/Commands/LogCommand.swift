import ArgumentParser

/// `expertlock log`: commands on the signed update log of a locked model.
struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Work with the signed update log of a locked model.",
        subcommands: [LogVerifyCommand.self])
}
