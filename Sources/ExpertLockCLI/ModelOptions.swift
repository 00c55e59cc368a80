import ArgumentParser
import Foundation
import MoEModels

/// `--model DIR` and how to hold its weights.
struct ModelOptions: ParsableArguments {
    @Option(help: "Hugging Face model folder (config.json, *.safetensors, tokenizer.json).") var model: String
    @Option(help: "Weights in memory: automatic (F32 resident, BF16/F16 mapped), resident, mapped or read (pread on use, nothing mapped).")
    var residency: WeightResidency = .automatic
    @OptionGroup var precisionOptions: PrecisionOptions

    var url: URL { URL(fileURLWithPath: model) }

    func load() throws -> MoEModel {
        precisionOptions.apply(to: try ModelLoader.load(directory: url, residency: residency))
    }

    /// The model folder's tokenizer; a clear error when it has none.
    func tokenizer() throws -> Tokenizer {
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("tokenizer.json").path) else {
            throw ArgumentInputError("\(model): no tokenizer.json in the model folder (pass token ids with --ids instead)")
        }
        let tokenizer = try Tokenizer.load(directory: url)
        // A tokenizer with more ids than the model's embedding rows (another model's tokenizer.json)
        // fails later on some token id; name the two files now.
        if let config = try? ModelConfig.load(from: url.appendingPathComponent("config.json")),
            tokenizer.vocabSize > config.vocabSize
        {
            throw ArgumentInputError(
                "\(model)/tokenizer.json: has \(tokenizer.vocabSize) token ids but config.json's vocab_size is \(config.vocabSize) (a tokenizer of another model?)")
        }
        return tokenizer
    }
}

/// Progress lines on stderr with rate and ETA, at most a few per second.
final class ProgressLine {
    let label: String
    let start = Date()
    private var lastPrint = Date.distantPast
    let quiet: Bool
    /// What `update`'s count measures, per second ("tokens", or a sweep's "points").
    let unit: String

    init(_ label: String, quiet: Bool = false, unit: String = "tokens") {
        self.label = label
        self.quiet = quiet
        self.unit = unit
    }

    func update(done: Int, total: Int, tokens: Int64, force: Bool = false) {
        guard !quiet else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastPrint) > 0.5 || done == total else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(tokens) / elapsed : 0
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        Console.progress(String(format: "%@: %d/%d, %.\(rate < 10 ? 2 : 0)f %@/s, ETA %.0fs", label, done, total, rate, unit, eta))
    }
}
extension WeightResidency: ExpressibleByArgument {}
