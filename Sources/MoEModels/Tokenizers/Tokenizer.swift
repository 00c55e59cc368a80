import Foundation

/// A Hugging Face `tokenizer.json` tokenizer giving the same ids as the `tokenizers` library
/// (and transformers' `AutoTokenizer` for the BOS/EOS rule below).
///
/// Encoding runs the library's pipeline: added tokens are cut out of the raw text, each remaining
/// stretch is normalized and the normalized added tokens are cut out of it, the rest is split into
/// words by the pre-tokenizer, each word becomes ids through the model, and the post-processor adds
/// BOS/EOS. Text is handled as Unicode scalars (the library's `char`s), never as `Character`s.
public final class Tokenizer: @unchecked Sendable {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: TokenizerModel
    let postProcessor: PostProcessor?
    let decoder: Decoder?
    let addedVocabulary: AddedVocabulary

    public let bosTokenId: Int?
    public let eosTokenId: Int?
    public let padTokenId: Int?

    /// Loads tokenizer.json and, when present beside it, tokenizer_config.json (add_bos_token /
    /// add_eos_token, bos_token / eos_token, chat stuff ignored).
    public static func load(directory: URL) throws -> Tokenizer {
        let json = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: json.path) else {
            throw TokenizerError.fileNotFound(file: json.path)
        }
        let config = directory.appendingPathComponent("tokenizer_config.json")
        return try Tokenizer(
            tokenizerJSON: json, tokenizerConfigJSON: FileManager.default.fileExists(atPath: config.path) ? config : nil
        )
    }

    /// When the config sets `add_bos_token` or `add_eos_token`, a template adding exactly those
    /// tokens replaces the file's post-processor (transformers 4's LlamaTokenizerFast rule;
    /// transformers 5 keeps the file's post-processor, which agrees on Mixtral and Qwen3).
    public init(tokenizerJSON: URL, tokenizerConfigJSON: URL? = nil) throws {
        let root = try JSONDocument.read(tokenizerJSON)
        guard root.value.objectValue != nil else { throw root.invalid("a JSON object") }
        model = try TokenizerModel.parse(try root.required("model"))
        normalizer = try root.child("normalizer").map(Normalizer.parse)
        preTokenizer = try root.child("pre_tokenizer").map(PreTokenizer.parse)
        decoder = try root.child("decoder").map(Decoder.parse)
        let vocabulary = model.vocabulary
        let added = try (root.child("added_tokens")?.asArray() ?? []).map {
            try AddedToken.parse($0, model: vocabulary)
        }
        let addedVocabulary = AddedVocabulary(added, normalizer: normalizer)
        self.addedVocabulary = addedVocabulary

        let config = try tokenizerConfigJSON.map(TokenizerConfig.load)
        func id(_ token: String?) -> Int? {
            token.flatMap { addedVocabulary.idByContent[ScalarKey($0)] ?? vocabulary.id($0) }
        }
        var postProcessor = try root.child("post_processor").map(PostProcessor.parse)
        if let config, config.addBosToken != nil || config.addEosToken != nil {
            var template: [PostProcessor.TemplatePiece] = []
            if config.addBosToken == true, let bos = id(config.bosToken) { template.append(.special([bos])) }
            template.append(.sequence)
            if config.addEosToken == true, let eos = id(config.eosToken) { template.append(.special([eos])) }
            postProcessor = .TemplateProcessing(template)
        }
        self.postProcessor = postProcessor
        bosTokenId = id(config?.bosToken)
        eosTokenId = id(config?.eosToken)
        padTokenId = id(config?.padToken)
    }

    /// The ids of `text`; with `addSpecialTokens`, the post-processor's BOS/EOS around them.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int] = []
        ids.reserveCapacity(scalars.count / 3 + 4)
        let whole = TextPiece(scalars: scalars[...], atStart: true)
        addedVocabulary.splitRaw(whole) { segment in
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let raw):
                let normalized =
                    normalizer.map { TextPiece(scalars: $0.normalize(raw.scalars), atStart: raw.atStart) } ?? raw
                addedVocabulary.splitNormalized(normalized) { segment in
                    switch segment {
                    case .token(let id):
                        ids.append(id)
                    case .text(let piece):
                        if let preTokenizer {
                            preTokenizer.preTokenize(piece) { word in model.tokenize(word.scalars, into: &ids) }
                        } else {
                            model.tokenize(piece.scalars, into: &ids)
                        }
                    }
                }
            }
        }
        if addSpecialTokens, let postProcessor { ids = postProcessor.process(ids) }
        return ids
    }

    /// The text of `ids` through the decoder (tokens joined by spaces without one). Unknown ids are
    /// skipped; `skipSpecialTokens` drops tokens whose text is a special added token.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var tokens: [[Unicode.Scalar]] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard let text = token(id) else { continue }
            let scalars = Array(text.unicodeScalars)
            if skipSpecialTokens, addedVocabulary.specialSpellings.contains(ScalarKey(scalars[...])) { continue }
            tokens.append(scalars)
        }
        if let decoder { return decoder.decode(tokens) }
        var text = ""
        for (i, token) in tokens.enumerated() {
            if i > 0 { text += " " }
            text.unicodeScalars.append(contentsOf: token)
        }
        return text
    }

    /// Largest id + 1 over the model vocabulary and the added tokens.
    public var vocabSize: Int {
        max(model.vocabulary.size, (addedVocabulary.spellingById.keys.max() ?? -1) + 1)
    }

    /// The id of a token spelled exactly `token` (scalar for scalar).
    public func tokenId(_ token: String) -> Int? {
        let key = ScalarKey(token)
        return addedVocabulary.idByContent[key] ?? model.vocabulary.id(key)
    }

    /// The text of token `id` as the library spells it (byte-level tokens as `Ġ...`, a normalized
    /// added token in its normalized form).
    public func token(_ id: Int) -> String? {
        addedVocabulary.spellingById[id] ?? model.vocabulary.token(id)
    }
}
