import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

extension TokenizerTrainer.Model: ExpressibleByArgument {}
extension TokenizerTrainer.WordSplit: ExpressibleByArgument {}

/// `expertlock train-tokenizer`: a byte-level BPE or WordLevel tokenizer.json learned from text
/// files, the one the `tokenizers` library would learn from them (docs: CLI.md).
struct TrainTokenizerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-tokenizer",
        abstract: "Train a byte-level BPE or WordLevel tokenizer.json from text files.",
        discussion: """
            Reads each --data file line by line as the Hugging Face tokenizers library's Tokenizer.train \
            does and learns the same vocabulary and merges as its BpeTrainer / WordLevelTrainer. bpe is \
            GPT-2's byte-level BPE (no unknown token); wordlevel keeps the most frequent words and maps \
            the rest to <unk>. The special tokens <s> </s> <pad> <unk> take ids 0-3. --out receives \
            tokenizer.json and tokenizer_config.json, which tokenizers, transformers' AutoTokenizer and \
            expertlock load.
            """
    )

    @Option(name: .customLong("data"), help: "UTF-8 training text (repeat for several files).")
    var data: [String] = []
    @Option(help: "bpe (byte-level) or wordlevel.") var model: TokenizerTrainer.Model = .bpe
    @OptionGroup var vocabulary: VocabularySizeOption
    @Option(help: "Least count of a pair to merge (bpe) or of a word to keep (wordlevel).")
    var minFrequency: Int = 0
    @Flag(inversion: .prefixedNo, help: "Put <s> in front of every encoded text.") var addBos = true
    @Option(help: "wordlevel: cut at whitespace and punctuation (whitespace) or at whitespace only (whitespace-split).")
    var wordSplit: TokenizerTrainer.WordSplit = .whitespace
    @Flag(help: "wordlevel: make every digit a word of its own.") var individualDigits = false
    @OptionGroup var outputFolder: OutputFolderOptions
    @OptionGroup var output: OutputOptions

    var vocabSize: Int { vocabulary.vocabSize ?? 8192 }

    var out: String { outputFolder.out }
    var overwrite: Bool { outputFolder.overwrite }

    func validate() throws {
        guard !data.isEmpty else { throw ValidationError("give at least one --data FILE") }
    }

    func run() async throws {
        try await runReportingErrors(output: out) {
            let parameters = TokenizerTrainer.Parameters(
                model: model, vocabSize: vocabSize, minFrequency: minFrequency, addBosToken: addBos,
                wordSplit: wordSplit, individualDigits: individualDigits)
            let destination = URL(fileURLWithPath: out)
            try refuseOutputOverlappingInputs(out, inputs: data)  // before the training, not after
            if FileManager.default.fileExists(atPath: destination.path) && !overwrite {
                throw OutputError.exists(destination.path)  // before the training, not after
            }
            let start = DispatchTime.now().uptimeNanoseconds
            let trained = try TokenizerTrainer.train(
                files: data.map { URL(fileURLWithPath: $0) }, parameters: parameters
            ) { Console.progress($0.description) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            try OutputDirectory.write(
                to: destination, overwrite: overwrite, inputs: data.map { URL(fileURLWithPath: $0) }
            ) {
                try trained.write(to: $0)
            }
            Console.progress(
                String(
                    format: "trained %@ with %d tokens, %d merges in %.2f s -> %@", model.rawValue,
                    trained.vocabSize, trained.merges.count, seconds, out))
            if output.json {
                try Console.printJSON([
                    "vocab_size": trained.vocabSize, "merges": trained.merges.count, "seconds": seconds,
                ])
            } else {
                print(
                    "\(trained.vocabSize) tokens, \(trained.merges.count) merges, "
                        + "\(String(format: "%.2f", seconds)) s: \(out)"
                )
            }
        }
    }
}
