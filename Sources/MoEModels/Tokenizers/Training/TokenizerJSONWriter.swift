import Foundation

/// Writes a trained tokenizer as the `tokenizers` library saves one: tokenizer.json with its keys in
/// the library's order (vocabulary by id, merges as `[left, right]` pairs, the layout of version
/// 0.20 and later) and a tokenizer_config.json for transformers' `AutoTokenizer`
/// (`PreTrainedTokenizerFast`, the special tokens, `add_bos_token`).
///
/// Token text is written as UTF-8 with only the escapes JSON requires, key order is kept, and a
/// token is never a Swift dictionary key: `String` equality is canonical equivalence, which would
/// fold distinct tokens such as "é" and "e\u{301}" together.
enum TokenizerJSONWriter {
    static func write(_ tokenizer: TrainedTokenizer, to directory: URL) throws {
        try AtomicFile.write(tokenizerJSON(tokenizer), to: directory.appendingPathComponent("tokenizer.json"))
        try AtomicFile.write(configJSON(tokenizer), to: directory.appendingPathComponent("tokenizer_config.json"))
    }

    /// A JSON value whose objects keep their key order.
    indirect enum Value {
        case object([(String, Value)])
        case array([Value])
        /// An array written on one line (merge pairs, id lists).
        case inlineArray([Value])
        case string(String)
        case int(Int)
        case bool(Bool)
        case null

        func render(indent: Int = 0, into out: inout String) {
            let pad = String(repeating: " ", count: indent + 2)
            switch self {
            case .object(let members):
                if members.isEmpty { return out += "{}" }
                out += "{\n"
                for (i, (key, value)) in members.enumerated() {
                    out += pad + JSONText.quoted(key, asciiOnly: false) + ": "
                    value.render(indent: indent + 2, into: &out)
                    out += i + 1 < members.count ? ",\n" : "\n"
                }
                out += String(repeating: " ", count: indent) + "}"
            case .array(let elements):
                if elements.isEmpty { return out += "[]" }
                out += "[\n"
                for (i, element) in elements.enumerated() {
                    out += pad
                    element.render(indent: indent + 2, into: &out)
                    out += i + 1 < elements.count ? ",\n" : "\n"
                }
                out += String(repeating: " ", count: indent) + "]"
            case .inlineArray(let elements):
                out += "["
                for (i, element) in elements.enumerated() {
                    if i > 0 { out += ", " }
                    element.render(indent: indent, into: &out)
                }
                out += "]"
            case .string(let s): out += JSONText.quoted(s, asciiOnly: false)
            case .int(let n): out += String(n)
            case .bool(let b): out += b ? "true" : "false"
            case .null: out += "null"
            }
        }

        var text: String {
            var out = ""
            render(into: &out)
            return out + "\n"
        }
    }

    static func tokenizerJSON(_ tokenizer: TrainedTokenizer) -> String {
        let parameters = tokenizer.parameters
        // The added tokens take the ids the model gave the special tokens.
        var idOf: [Int] = []
        for special in parameters.specialTokens {
            let key = ScalarKey(special)
            idOf.append(tokenizer.vocabulary.lastIndex { $0.map { ScalarKey($0) == key } ?? false } ?? -1)
        }
        // Sorted by id, as the library lists them.
        let specials = zip(parameters.specialTokens, idOf).filter { $0.1 >= 0 }.sorted { $0.1 < $1.1 }
        let added: [Value] = specials.map { content, id in
            .object([
                ("id", .int(id)), ("content", .string(content)), ("single_word", .bool(false)),
                ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(false)),
                ("special", .bool(true)),
            ])
        }
        let vocab: Value = .object(
            tokenizer.vocabulary.enumerated().compactMap { id, token in token.map { ($0, .int(id)) } })

        let preTokenizer: Value
        let decoder: Value
        let model: Value
        switch parameters.model {
        case .bpe:
            preTokenizer = byteLevel
            decoder = byteLevel
            model = .object([
                ("type", .string("BPE")), ("dropout", .null), ("unk_token", .null),
                ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)),
                ("byte_fallback", .bool(false)), ("ignore_merges", .bool(false)), ("vocab", vocab),
                ("merges", .array(tokenizer.merges.map { .inlineArray([.string($0.left), .string($0.right)]) })),
            ])
        case .wordlevel:
            let split: Value = .object([
                ("type", .string(parameters.wordSplit == .whitespace ? "Whitespace" : "WhitespaceSplit"))
            ])
            preTokenizer =
                parameters.individualDigits
                ? .object([
                    ("type", .string("Sequence")),
                    (
                        "pretokenizers",
                        .array([split, .object([("type", .string("Digits")), ("individual_digits", .bool(true))])])
                    ),
                ]) : split
            decoder = .null
            model = .object([
                ("type", .string("WordLevel")), ("vocab", vocab), ("unk_token", .string(parameters.unkToken)),
            ])
        }

        let bosId = idOf[0]
        let postProcessor: Value
        if parameters.addBosToken, bosId >= 0 {
            // Llama's template: BOS before each sequence.
            func special(_ typeId: Int) -> Value {
                .object([("SpecialToken", .object([("id", .string(parameters.bosToken)), ("type_id", .int(typeId))]))])
            }
            func sequence(_ name: String, _ typeId: Int) -> Value {
                .object([("Sequence", .object([("id", .string(name)), ("type_id", .int(typeId))]))])
            }
            postProcessor = .object([
                ("type", .string("TemplateProcessing")),
                ("single", .array([special(0), sequence("A", 0)])),
                ("pair", .array([special(0), sequence("A", 0), special(1), sequence("B", 1)])),
                (
                    "special_tokens",
                    .object([
                        (
                            parameters.bosToken,
                            .object([
                                ("id", .string(parameters.bosToken)), ("ids", .inlineArray([.int(bosId)])),
                                ("tokens", .inlineArray([.string(parameters.bosToken)])),
                            ])
                        )
                    ])
                ),
            ])
        } else {
            postProcessor = .null
        }

        return Value.object([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null), ("added_tokens", .array(added)),
            ("normalizer", .null), ("pre_tokenizer", preTokenizer), ("post_processor", postProcessor),
            ("decoder", decoder), ("model", model),
        ]).text
    }

    /// GPT-2's settings; the decoder and pre-tokenizer share them.
    private static let byteLevel: Value = .object([
        ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)),
        ("use_regex", .bool(true)),
    ])

    static func configJSON(_ tokenizer: TrainedTokenizer) -> String {
        let p = tokenizer.parameters
        return Value.object([
            ("add_bos_token", .bool(p.addBosToken)), ("add_eos_token", .bool(false)),
            ("bos_token", .string(p.bosToken)), ("clean_up_tokenization_spaces", .bool(false)),
            ("eos_token", .string(p.eosToken)), ("model_max_length", .int(1_000_000_000)),
            ("pad_token", .string(p.padToken)), ("tokenizer_class", .string("PreTrainedTokenizerFast")),
            ("unk_token", .string(p.unkToken)),
        ]).text
    }
}
