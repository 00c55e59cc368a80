import ArgumentParser
import Foundation

/// `expertlock forward`: one forward pass for inspection and parity checks.
struct ForwardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward", abstract: "Run one forward pass and print logits and router logits.")

    @Option(help: "Hugging Face model folder (config.json, *.safetensors).") var model: String
    @Option(help: "Token ids: a JSON array of integers or whitespace-separated integers.") var ids: String
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            throw ArgumentInputError("forward: not implemented yet")
        }
    }
}
