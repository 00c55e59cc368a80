import ArgumentParser
import ExpertLock
import ExpertLockDemo
import Foundation
import MoEModels

/// `expertlock corpus`: writes the built-in multi-domain corpus as data files, so every command
/// (train, eval, attribute, sweep, realign) can be tried on it without a download, and so the
/// demo's data can be inspected.
struct CorpusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Write the built-in multi-domain corpus (LM text, two classification tasks, summaries) as files.",
        discussion: """
            Files: lm.train.txt and lm.valid.txt (documents separated by blank lines), sentiment.{train,dev}.jsonl \
            ({"text","label"}), entailment.{train,dev}.jsonl ({"text","text_pair","label"}) and \
            summaries.{train,dev}.jsonl ({"document","summary"}). --tokens sets the whitespace tokens of \
            lm.train.txt; the task files scale with it. The same --seed always gives the same bytes. \
            With --json prints {"files": {name: path}}.
            """)

    @OptionGroup var outputFolder: OutputFolderOptions
    @Option(help: "Whitespace tokens of lm.train.txt (default: 1000000).") var tokens = 1_000_000
    @OptionGroup var seedOption: SeedOption
    @OptionGroup var output: OutputOptions

    var out: String { outputFolder.out }
    var overwrite: Bool { outputFolder.overwrite }
    var seed: UInt64 { seedOption.seed }

    func validate() throws {
        if tokens < 1_000 { throw ValidationError("--tokens must be at least 1000") }
    }

    func run() async throws {
        try await runReportingErrors(output: out) {
            let url = URL(fileURLWithPath: out)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw ArgumentInputError("\(out): exists and is not a folder") }
                let present = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
                if !present.isEmpty && !overwrite {
                    throw ArgumentInputError(
                        "\(out): folder is not empty (pass --overwrite to replace its corpus files)")
                }
            }
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            Console.progress("generating the built-in corpus (seed \(seed), \(tokens) tokens of LM text)…")
            let files = try BuiltinCorpus(seed: seed).write(to: url, tokensTarget: tokens)
            if output.json {
                try Console.printJSON(["files": files.mapValues(\.path)] as [String: Any])
            } else {
                for name in files.keys.sorted() { print(files[name]!.path) }
            }
        }
    }
}
