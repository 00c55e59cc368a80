import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `--out FOLDER` and `--overwrite` of the commands that write one output folder, declared once.
/// What goes into the folder is in each command's discussion.
struct OutputFolderOptions: ParsableArguments {
    @Option(help: "Output folder.") var out: String
    @Flag(help: "Replace an existing output folder (the old one stays until the new one is complete).")
    var overwrite = false
}

/// `--out FILE` and `--overwrite` of the commands whose output is one file, and optional.
struct OutputFileOptions: ParsableArguments {
    @Option(help: "Write the result to this file.") var out: String?
    @Flag(help: "Replace an existing --out file.") var overwrite = false
}

/// `--resume` of the resumable commands (train, realign, attribute, sweep, audit): their state
/// and how they continue are described in each command's discussion.
struct ResumeOption: ParsableArguments {
    @Flag(help: "Continue a killed run from the state it saved (in or beside --out).") var resume = false
}

/// `--tokenizer`: where the text encoder comes from, found one way for every command.
struct TokenizerOptions: ParsableArguments {
    @Option(
        help: """
            Tokenizer folder (tokenizer.json; default: the model folder), or 'bytes' for the built-in byte-level \
            encoder (train, realign).
            """)
    var tokenizer: String?

    var isBytes: Bool { tokenizer == "bytes" }

    /// The folder the tokenizer is read from (nil: the byte encoder, or no folder at all).
    func folder(model: URL?) -> URL? {
        isBytes ? nil : tokenizer.map { URL(fileURLWithPath: $0) } ?? model
    }

    /// The path to list among a command's inputs (the byte encoder is no file).
    var inputPath: String? { isBytes ? nil : tokenizer }

    /// The encoder of `--tokenizer` (or of the model folder), nil when the folder has no tokenizer.json.
    func encoder(model: URL?) throws -> TextEncoder? {
        if isBytes { return ByteTextEncoder() }
        return try folder(model: model).flatMap { try loadTextEncoder(directory: $0) }
    }

    /// The model's tokenizer, checked against the model (`ModelOptions.tokenizer(folder:model:)`).
    func tokenizer(model: URL) throws -> Tokenizer {
        if isBytes { throw ArgumentInputError("--tokenizer bytes: this command needs a tokenizer.json folder") }
        return try ModelOptions.tokenizer(folder: folder(model: model) ?? model, model: model)
    }
}

/// `--data`, `--ids`, `--format` and `--limit`: the task data of attribute, eval, sweep and train, read one way.
struct DataOptions: ParsableArguments {
    @Option(
        help: """
            Data: plain text, GLUE TSV or JSONL (sweep: what attribution runs on; prune: calibration for --merge and \
            --inner-keep).
            """)
    var data: String?
    @OptionGroup var tokenIds: TokenIdsOption
    @Option(help: "Data format: auto (from the file name), text, glue or jsonl.") var format: DataFormat = .auto
    @Option(
        parsing: .unconditional,
        help: "Use at most N examples (text: N sequences; eval perplexity: the first N tokens).",
        transform: OptionRange.int(atLeast: 1))
    var limit: Int?

    var ids: String? { tokenIds.ids }
}

/// `--batch` of the commands that run batches of sequences through a model (attribute, eval, sweep, trace, train,
/// bench).
struct ForwardBatchOption: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: """
            Sequences per forward pass (default 4; eval classify and summarize, trace, bench 8; train: per \
            optimizer step, 8).
            """,
        transform: OptionRange.int(atLeast: 1))
    var batch: Int?
}

/// `--task` of the commands that measure a task metric (attribute, eval, sweep, audit, realign): the library's
/// `TaskKind`. Each command gives its default (eval has none: --task is required there).
struct TaskOption: ParsableArguments {
    @Option(
        help: """
            perplexity (metric: perplexity), classify (accuracy) or summarize (ROUGE-L F×100); default: attribute \
            and sweep perplexity, audit and realign classify (audit: classify only); eval: required; train: lm (the \
            same as perplexity, its default), classify or summarize.
            """)
    var task: TaskName?
}

/// `--eval-data`: the held-out data a metric is measured on.
struct EvalDataOption: ParsableArguments {
    @Option(
        help: """
            Held-out data: sweep's evaluation data (default: --data); train's text whose perplexity is measured \
            during training; audit's and realign's (required) evaluated after every round, all of it unless \
            --eval-limit.
            """)
    var evalData: String?
}

/// `--seed`: every seeded command's one seed (what it seeds is in each command's discussion and help below).
struct SeedOption: ParsableArguments {
    @Option(
        help: """
            Random seed: train's init, batch order and LoRA init; realign's first run; prune --random's draw; demo's \
            and corpus's generator; monitor's pseudo-clients; bench's weights and ids.
            """)
    var seed: UInt64 = 0
}

/// `--key`: the owner's private key (from `expertlock keygen`): lock signs the manifest with it, train a locked
/// model's update log.
struct OwnerKeyOption: ParsableArguments {
    @Option(
        help: """
            The owner's private key (from `expertlock keygen`): lock's signer (required); train: train a locked \
            --model (--trainable lora only) and sign the update log.
            """)
    var key: String?
}

/// `--traces`: routing traces of a serving engine (vLLM/SGLang JSON(L), router-logits .safetensors).
struct TracesOption: ParsableArguments {
    @Option(
        parsing: .upToNextOption,
        help: """
            Routing traces (vLLM/SGLang JSON(L), router-logits .safetensors): attribute's instead of the model, \
            monitor's traffic to score.
            """)
    var traces: [String] = []
}

/// `--criterion`: which attribution ranking (attribute writes it, prune ranks by it).
struct CriterionOption: ParsableArguments {
    @Option(
        help: """
            soft, frequency, reap or ablation: attribute's ranking written to the file (default soft; with --traces \
            the first the traces support); prune's ranking (default: the one the attribution file was written with).
            """)
    var criterion: AttributionCriterion?
}

/// `--merge FILES`: output files of shards (or runs) added into one (attribute, eval perplexity).
struct MergeFilesOption: ParsableArguments {
    @Option(
        parsing: .upToNextOption,
        help: """
            Merge these files instead of running a model: attribute's attribution files; eval perplexity's --out \
            files of all N shards.
            """)
    var merge: [String] = []
}

/// `--config`: a built-in preset or a config.json (train's new model, bench's model).
struct ConfigOption: ParsableArguments {
    @Option(
        help: """
            A preset or a config.json: train's new model (tiny or small, random init); bench's (A: hidden 512, the \
            default, or B: hidden 128).
            """)
    var config: String?
}

/// `--stemmer`/`--no-stemmer`: Porter stemming in ROUGE (eval summarize, rouge), each command with its default.
struct StemmerOption: ParsableArguments {
    @Flag(
        inversion: .prefixedNo,
        help: "Porter stemming in ROUGE (rouge-score's use_stemmer; default: eval on, rouge off).")
    var stemmer: Bool?
}

/// `--seq`: tokens per sequence of the commands that train or time a model (train, realign, audit, bench).
struct SequenceLengthOption: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: """
            Tokens per sequence (default: train and audit 128, realign and bench 256; classification prompts are \
            cut from the left).
            """,
        transform: OptionRange.int(atLeast: 2))
    var seq: Int?
}

/// `--ids FILE`: token ids, a file holding a JSON array of integers or whitespace-separated integers.
struct TokenIdsOption: ParsableArguments {
    @Option(
        help: """
            Token ids, a file holding a JSON array or whitespace-separated integers: forward's input (required); \
            instead of --data for perplexity (eval, attribute, sweep), train --task lm and prune's calibration.
            """)
    var ids: String?
}

/// `--vocab-size`: the vocabulary of what a command makes (train-tokenizer's tokenizer, train's preset model).
struct VocabularySizeOption: ParsableArguments {
    @Option(
        help: """
            Vocabulary size: train-tokenizer's, special tokens (and bpe's 256 bytes) included (default 8192); \
            train: of a preset trained on --ids (default: largest id + 1).
            """)
    var vocabSize: Int?
}

/// `--shard I/N` (attribute, eval perplexity): a contiguous slice of the batches; the shards' files merge exactly.
struct ShardOption: ParsableArguments {
    @Option(help: "Only shard I of N (I from 0): a contiguous slice of the batches (attribute --traces: requests).")
    var shard: String?

    func parsed() throws -> Shard? { try shard.map(Shard.init(parsing:)) }
}

/// `--max-new-tokens` of the commands that generate summaries (eval, sweep).
struct GenerationOption: ParsableArguments {
    @Option(
        parsing: .unconditional, help: "Summaries: most tokens generated per example (default: eval 64, sweep 48).",
        transform: OptionRange.int(atLeast: 1))
    var maxNewTokens: Int?
}

/// `--template` of the commands that prompt a classifier (eval, realign).
struct TemplateOption: ParsableArguments {
    @Option(help: "Classification prompt template: JSON {\"template\": \"...{text}...\", \"verbalizers\": [...]}.")
    var template: String?
}

/// `--attribution FILE`: an attribution made by `expertlock attribute` (prune ranks by it; sweep uses it instead
/// of computing one on --data).
struct AttributionFileOption: ParsableArguments {
    @Option(
        help: """
            Attribution file (from `expertlock attribute`): what prune's --keep and --threshold rank by; sweep ranks \
            by it instead of attributing --data.
            """)
    var attribution: String?
}

/// `--save-every N` of the resumable commands: how often the state is saved for --resume.
struct SaveEveryOption: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: """
            Save the state every N units for --resume: attribute batches (default 1), train steps (default: at the \
            end), realign steps within a round (default: after each round).
            """,
        transform: OptionRange.int(atLeast: 1))
    var saveEvery: Int?
}

/// A comma-separated list argument, parsed once for every command:
/// `@Option(help: …, transform: CommaList<Int>.parse) var keep = CommaList<Int>([8, 6, 4, 2, 1])`.
/// A bad entry is a validation error naming the option and the entry (exit 2).
struct CommaList<Element: ExpressibleByArgument & Sendable>: Sendable, CustomStringConvertible {
    var items: [Element]

    init(_ items: [Element]) { self.items = items }

    @Sendable static func parse(_ text: String) throws -> CommaList {
        CommaList(
            try text.split(separator: ",").map { part in
                let entry = part.trimmingCharacters(in: .whitespaces)
                guard let value = Element(argument: entry) else {
                    let allowed = Element.allValueStrings
                    let what =
                        Element.self == Int.self
                        ? "an integer"
                        : Element.self == Double.self ? "a number" : "one of " + allowed.joined(separator: ", ")
                    throw ValidationError("'\(entry)' is not \(what)")
                }
                return value
            })
    }

    var description: String { items.map(\.defaultValueDescription).joined(separator: ",") }
}

extension QueryStrategy: ExpressibleByArgument {}
extension LoRATarget: ExpressibleByArgument {}

/// `--threads` of the benchmarks: the Swift kernels and `Gemm` use N threads (OpenBLAS itself
/// stays at one thread per caller).
struct ThreadsOption: ParsableArguments {
    @Option(help: "Threads for matrix products and kernels (default: all cores).") var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func apply() {
        guard let threads else { return }
        Parallel.threads = threads
        BLAS.shared?.setThreads(threads)
    }
}

/// A command's default k list for `KeepListOption`.
protocol KeepListDefaults {
    static var keeps: [Int] { get }
}

/// `--keep k1,k2,…`: the experts kept per layer at the points of a prunability sweep, declared once for
/// sweep and audit (each with its default list). prune's `--keep K` is a single rule's K, one number.
struct KeepListOption<Defaults: KeepListDefaults>: ParsableArguments {
    @Option(
        help: "Experts kept per layer at each point of the sweep, comma-separated.", transform: CommaList<Int>.parse)
    var keep = CommaList<Int>(Defaults.keeps)
}
