import ArgumentParser
import Foundation
import MoEModels

/// `expertlock tokenize`: text -> ids with a model folder's tokenizer.json (docs: CLI.md).
struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize a text file with the model's tokenizer.json and print the ids.",
        discussion: """
            BOS/EOS are added as the tokenizer's post-processor (or tokenizer_config.json's add_bos_token / \
            add_eos_token) says, unless --no-special-tokens. Throughput goes to stderr.
            """
    )

    @OptionGroup var modelPath: ModelPathOption
    @Option(help: "UTF-8 text file to tokenize as one sequence, or - for standard input.") var text: String
    @Flag(name: .customLong("no-special-tokens"), help: "Do not add BOS/EOS or other special tokens.")
    var noSpecialTokens = false
    @OptionGroup var output: OutputOptions

    var model: String { modelPath.model }

    func run() async throws {
        try await runReportingErrors {
            let data: Data
            if text == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard FileManager.default.fileExists(atPath: text) else {
                    throw ArgumentInputError("\(text): no such file")
                }
                do {
                    data = try Data(contentsOf: URL(fileURLWithPath: text))
                } catch {
                    throw ArgumentInputError(
                        "\(text): cannot be read "
                            + "(\(error.localizedDescription))")  // a folder, say
                }
            }
            guard let content = String(validating: data, as: UTF8.self) else {
                throw ArgumentInputError("\(text == "-" ? "standard input" : text): not valid UTF-8")
            }
            let loadStart = DispatchTime.now().uptimeNanoseconds
            let tokenizer = try Tokenizer.load(directory: URL(fileURLWithPath: model))
            let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
            Console.progress("loaded \(model) in \(String(format: "%.3f", loadSeconds)) s")
            let start = DispatchTime.now().uptimeNanoseconds
            let ids = tokenizer.encode(content, addSpecialTokens: !noSpecialTokens)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            Console.progress(
                String(
                    format: "tokenized %d bytes into %d ids in %.3f s (%.2f MB/s)", data.count, ids.count, seconds,
                    Double(data.count) / 1e6 / max(seconds, 1e-9)))
            if output.json {
                try Console.printJSON(encodable: ["ids": ids])
            } else {
                FileHandle.standardOutput.write(Data((ids.map(String.init).joined(separator: " ") + "\n").utf8))
            }
        }
    }
}
