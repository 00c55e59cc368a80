import Foundation
import TensorCore

/// Trains a Hugging Face tokenizer from text files as the `tokenizers` library's `Tokenizer.train`
/// does with a `BpeTrainer` or `WordLevelTrainer`, so that the library, transformers' `AutoTokenizer`
/// and `Tokenizer` here load the result and give the same ids, and the library trained on the same
/// text with the same settings learns the same vocabulary and merges.
///
/// Two pipelines:
/// - `bpe`: GPT-2's byte-level BPE (ByteLevel pre-tokenizer with the GPT-2 regex and no prefix
///   space, ByteLevel decoder, the 256 byte scalars as the initial alphabet, no unknown token).
/// - `wordlevel`: one id per word (Whitespace `\w+|[^\w\s]+` or WhitespaceSplit, optionally
///   Digits with `individual_digits`), anything else the unknown token.
///
/// The special tokens take ids 0, 1, 2, 3 (BOS, EOS, padding, unknown); with `addBosToken` a
/// TemplateProcessing post-processor puts BOS in front of every encoded text.
public enum TokenizerTrainer {
    public enum Model: String, Sendable, CaseIterable {
        case bpe
        case wordlevel
    }

    /// How a WordLevel tokenizer cuts text into words.
    public enum WordSplit: String, Sendable, CaseIterable {
        /// `\w+|[^\w\s]+`: words and runs of punctuation.
        case whitespace
        /// Only at whitespace.
        case whitespaceSplit = "whitespace-split"
    }

    public struct Parameters: Sendable {
        public var model: Model
        /// Target size including the special tokens (and, for BPE, the 256 byte scalars). BPE stops
        /// earlier when no pair occurs `minFrequency` times; WordLevel when words run out.
        public var vocabSize: Int
        /// BPE: the least count of a pair worth merging; WordLevel: of a word worth keeping.
        public var minFrequency: Int
        public var bosToken: String
        public var eosToken: String
        public var padToken: String
        public var unkToken: String
        /// Prepend BOS to every encoded text (post-processor and tokenizer_config.json agree).
        public var addBosToken: Bool
        public var wordSplit: WordSplit
        /// WordLevel: every digit its own word (so numbers do not flood the vocabulary).
        public var individualDigits: Bool

        public init(
            model: Model = .bpe, vocabSize: Int = 8192, minFrequency: Int = 0, bosToken: String = "<s>",
            eosToken: String = "</s>", padToken: String = "<pad>", unkToken: String = "<unk>",
            addBosToken: Bool = true, wordSplit: WordSplit = .whitespace, individualDigits: Bool = false
        ) {
            self.model = model
            self.vocabSize = vocabSize
            self.minFrequency = minFrequency
            self.bosToken = bosToken
            self.eosToken = eosToken
            self.padToken = padToken
            self.unkToken = unkToken
            self.addBosToken = addBosToken
            self.wordSplit = wordSplit
            self.individualDigits = individualDigits
        }

        /// In id order: BOS, EOS, padding, unknown.
        public var specialTokens: [String] { [bosToken, eosToken, padToken, unkToken] }

        /// The pre-tokenizer the words are counted with, the same stage that encodes later.
        var preTokenizer: PreTokenizer {
            switch model {
            case .bpe:
                return .ByteLevel(addPrefixSpace: false, useRegex: true)
            case .wordlevel:
                let split: PreTokenizer = wordSplit == .whitespace ? .Whitespace : .WhitespaceSplit
                return individualDigits ? .Sequence([split, .Digits(individualDigits: true)]) : split
            }
        }

        func validate() throws {
            let specials = specialTokens
            if let empty = specials.firstIndex(where: \.isEmpty) {
                throw TokenizerTrainingError.invalidParameter("special token \(empty) is empty")
            }
            // Compared by scalars: two canonically equivalent spellings are distinct tokens.
            if Set(specials.map { ScalarKey($0) }).count != specials.count {
                throw TokenizerTrainingError.invalidParameter("the special tokens \(specials) repeat one another")
            }
            let minimum = model == .bpe ? specials.count + 256 : specials.count + 1
            guard vocabSize >= minimum else {
                let what =
                    model == .bpe
                    ? "the \(specials.count) special tokens and the 256 byte tokens" : "the special tokens and one word"
                throw TokenizerTrainingError.invalidParameter("vocab size \(vocabSize) is below \(minimum), \(what)")
            }
            guard minFrequency >= 0 else {
                throw TokenizerTrainingError.invalidParameter("min frequency \(minFrequency) is negative")
            }
        }
    }

    /// What training reports along the way.
    public enum Progress: Sendable, CustomStringConvertible {
        case countedWords(distinct: Int, total: Int)
        case merged(merges: Int, vocabularySize: Int)

        public var description: String {
            switch self {
            case .countedWords(let distinct, let total): return "counted \(total) words, \(distinct) distinct"
            case .merged(let merges, let size): return "\(merges) merges, vocabulary \(size)"
            }
        }
    }

    /// Trains on the UTF-8 text files, each read line by line as the library reads them.
    public static func train(
        files: [URL], parameters: Parameters, progress: (Progress) -> Void = { _ in }
    ) throws -> TrainedTokenizer {
        try parameters.validate()
        guard !files.isEmpty else { throw TokenizerTrainingError.invalidParameter("no training files") }
        var words = WordCounts(preTokenizer: parameters.preTokenizer)
        for file in files { words.add(try readText(file)) }
        return train(words, parameters: parameters, progress: progress)
    }

    /// Trains on texts given in memory (each split into lines like a file).
    public static func train(
        texts: [String], parameters: Parameters, progress: (Progress) -> Void = { _ in }
    ) throws -> TrainedTokenizer {
        try parameters.validate()
        var words = WordCounts(preTokenizer: parameters.preTokenizer)
        for text in texts { words.add(Array(text.unicodeScalars)) }
        return train(words, parameters: parameters, progress: progress)
    }

    private static func train(
        _ words: WordCounts, parameters: Parameters, progress: (Progress) -> Void
    ) -> TrainedTokenizer {
        progress(.countedWords(distinct: words.counts.count, total: words.total))
        let specials = parameters.specialTokens.map { Array($0.unicodeScalars) }
        switch parameters.model {
        case .bpe:
            let result = BPETrainer.train(
                words.counts, vocabSize: parameters.vocabSize, minFrequency: parameters.minFrequency,
                specialTokens: specials, initialAlphabet: ByteLevelAlphabet.scalarForByte
            ) { merges, size in progress(.merged(merges: merges, vocabularySize: size)) }
            let spelled = result.tokens.map(TrainedTokenizer.string)
            return TrainedTokenizer(
                parameters: parameters, vocabulary: spelled,
                merges: result.merges.map { (spelled[Int($0.left)], spelled[Int($0.right)]) })
        case .wordlevel:
            let tokens = WordLevelTrainer.train(
                words.counts, vocabSize: parameters.vocabSize, minFrequency: parameters.minFrequency,
                specialTokens: specials)
            return TrainedTokenizer(
                parameters: parameters, vocabulary: tokens.map { $0.map(TrainedTokenizer.string) }, merges: [])
        }
    }

    /// The scalars of a UTF-8 file; invalid UTF-8 is refused with its line, as the library refuses it.
    static func readText(_ url: URL) throws -> [Unicode.Scalar] {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw TokenizerTrainingError.fileNotFound(file: path)
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerTrainingError.unreadable(file: path, reason: error.localizedDescription)
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            var line = 1
            for bytes in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                if String(validating: bytes, as: UTF8.self) == nil { break }
                line += 1
            }
            throw TokenizerTrainingError.invalidUTF8(file: path, line: line)
        }
        return Array(text.unicodeScalars)
    }
}

/// A trained tokenizer: what `TokenizerJSONWriter` writes as tokenizer.json and tokenizer_config.json.
public struct TrainedTokenizer: Sendable {
    public let parameters: TokenizerTrainer.Parameters
    /// Token spelling by id; nil for an id no token holds (WordLevel, when a word of the text is
    /// spelled like a special token, gives that spelling the word's id, as the library does).
    public let vocabulary: [String?]
    /// BPE merges in rank order (empty for WordLevel).
    public let merges: [(left: String, right: String)]

    /// Number of tokens.
    public var vocabSize: Int { vocabulary.count(where: { $0 != nil }) }

    /// Writes tokenizer.json and tokenizer_config.json into `directory` (created if needed), each
    /// atomically.
    public func write(to directory: URL) throws {
        try TokenizerJSONWriter.write(self, to: directory)
    }

    static func string(_ scalars: [Unicode.Scalar]) -> String {
        var s = ""
        s.unicodeScalars.append(contentsOf: scalars)
        return s
    }
}

/// Why a tokenizer could not be trained (bad files or settings: exit code 2 on the command line).
public enum TokenizerTrainingError: InputError, Equatable {
    case fileNotFound(file: String)
    case unreadable(file: String, reason: String)
    /// The library refuses such a file too; the line is 1-based.
    case invalidUTF8(file: String, line: Int)
    case invalidParameter(String)

    public var description: String {
        switch self {
        case .fileNotFound(let file): return "\(file): no such file"
        case .unreadable(let file, let reason): return "\(file): cannot read: \(reason)"
        case .invalidUTF8(let file, let line): return "\(file):\(line): not valid UTF-8"
        case .invalidParameter(let reason): return "tokenizer training: \(reason)"
        }
    }
}
