import ArgumentParser
import Foundation
import MoEModels

/// `--model DIR` alone, for the commands that read only its config or copy its files (lock,
/// log verify, monitor); `ModelOptions` adds how the weights are held.
struct ModelPathOption: ParsableArguments {
    @Option(
        help: "Hugging Face model folder (config.json, *.safetensors, tokenizer.json; tokenize: tokenizer files only).",
        transform: ModelPath.folder)
    var model: String
}

/// `--model DIR` where a command may run without one (attribute and eval --merge, train --config).
struct OptionalModelPathOption: ParsableArguments {
    @Option(
        help: "Hugging Face model folder (config.json, *.safetensors, tokenizer.json); train: the model to continue.",
        transform: ModelPath.folder)
    var model: String?
}

/// `--model DIR` and how to hold its weights.
struct ModelOptions: ParsableArguments {
    @OptionGroup var path: ModelPathOption
    var model: String { path.model }
    @Option(
        help:
            """
            Weights in memory: automatic (F32 resident, BF16/F16 mapped), resident, mapped or read (pread on use, \
            nothing mapped).
            """
    )
    var residency: WeightResidency = .automatic
    @OptionGroup var precisionOptions: PrecisionOptions

    var url: URL { URL(fileURLWithPath: model) }

    func load() throws -> MoEModel {
        precisionOptions.apply(to: try ModelLoader.load(directory: url, residency: residency))
    }

    /// The model folder's tokenizer; a clear error when it has none.
    func tokenizer() throws -> Tokenizer {
        try Self.tokenizer(folder: url, model: url)
    }

    /// The tokenizer in `folder` for the model in `model`, checked against it: a tokenizer with
    /// more ids than the model's embedding rows (another model's tokenizer.json) would fail later
    /// on some token id with no file named ("token id 3838 is outside the vocabulary"); this names
    /// the two files and says what to do.
    static func tokenizer(folder: URL, model: URL) throws -> Tokenizer {
        let file = folder.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw ArgumentInputError(
                "\(folder.path): no tokenizer.json in the \(folder == model ? "model " : "")folder "
                    + "(pass token ids with --ids instead, or --tokenizer DIR)")
        }
        let tokenizer = try Tokenizer.load(directory: folder)
        let configFile = model.appendingPathComponent("config.json")
        if let config = try? ModelConfig.load(from: configFile), tokenizer.vocabSize > config.vocabSize {
            throw ArgumentInputError(
                "\(file.path): has \(tokenizer.vocabSize) token ids but \(configFile.path) has vocab_size "
                    + "\(config.vocabSize): the tokenizer is not this model's (pass the model's own tokenizer with "
                    + "--tokenizer DIR, or the folder it was trained with)")
        }
        return tokenizer
    }
}

extension WeightResidency: ExpressibleByArgument {}

/// What `--model` (and `--original`, `--suspect`) name: a model folder. A path to the folder's
/// `config.json` (or one of its `.safetensors` files), which users paste from a file browser or
/// from transformers' `from_pretrained` docs, names its folder: reading `dir/config.json/config.json`
/// would only fail.
enum ModelPath {
    /// `path`, or its parent when `path` is an existing file named config.json or *.safetensors.
    @Sendable static func folder(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            url.lastPathComponent == "config.json" || url.pathExtension == "safetensors"
        else { return path }
        let parent = url.deletingLastPathComponent().path
        return parent.isEmpty ? "." : parent
    }
}
