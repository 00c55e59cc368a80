/// The `model` stage of tokenizer.json: turns one pre-tokenized word into ids. Cases are spelled
/// like the library's `type` strings.
enum TokenizerModel {
    case BPE(BPEModel)
    case WordLevel(WordLevelModel)
    case WordPiece(WordPieceModel)
    case Unigram(UnigramModel)

    static func parse(_ field: JSONField) throws -> TokenizerModel {
        let type: String
        if let tag = try field.optionalString("type") {
            type = tag
        } else if field.child("merges") != nil {
            // Old files leave out the tag; the library then tries each model's fields in turn.
            type = "BPE"
        } else if field.child("vocab")?.value.arrayValue != nil {
            type = "Unigram"
        } else if field.child("max_input_chars_per_word") != nil || field.child("continuing_subword_prefix") != nil {
            type = "WordPiece"
        } else {
            type = "WordLevel"
        }
        switch type {
        case "BPE": return .BPE(try BPEModel(field))
        case "WordLevel": return .WordLevel(try WordLevelModel(field))
        case "WordPiece": return .WordPiece(try WordPieceModel(field))
        case "Unigram": return .Unigram(try UnigramModel(field))
        default: throw field.unknownType(type, stage: "model")
        }
    }

    var vocabulary: Vocabulary {
        switch self {
        case .BPE(let m): return m.vocabulary
        case .WordLevel(let m): return m.vocabulary
        case .WordPiece(let m): return m.vocabulary
        case .Unigram(let m): return m.vocabulary
        }
    }

    func tokenize(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int]) {
        switch self {
        case .BPE(let m): m.tokenize(word, into: &ids)
        case .WordLevel(let m): m.tokenize(word, into: &ids)
        case .WordPiece(let m): m.tokenize(word, into: &ids)
        case .Unigram(let m): m.tokenize(word, into: &ids)
        }
    }
}

/// One id per word, the unknown token for anything else.
struct WordLevelModel {
    let vocabulary: Vocabulary
    let unknownId: Int?

    init(_ field: JSONField) throws {
        let vocabulary = try Vocabulary.parse(try field.required("vocab"))
        self.vocabulary = vocabulary
        unknownId = try field.optionalString("unk_token").flatMap { vocabulary.id($0) }
    }

    func tokenize(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int]) {
        // Without an unknown token in the vocabulary the library fails; here the word is dropped.
        if let id = vocabulary.id(ScalarKey(word)) ?? unknownId { ids.append(id) }
    }
}

/// BERT's greedy longest-match-first: the longest vocabulary prefix, then the longest
/// `##`-prefixed continuation, and so on; a word that cannot be covered is one unknown token.
struct WordPieceModel {
    let vocabulary: Vocabulary
    let unknownId: Int?
    let prefix: [Unicode.Scalar]
    let maxInputCharsPerWord: Int

    init(_ field: JSONField) throws {
        let vocabulary = try Vocabulary.parse(try field.required("vocab"))
        self.vocabulary = vocabulary
        unknownId = vocabulary.id(try field.optionalString("unk_token") ?? "[UNK]")
        prefix = Array((try field.optionalString("continuing_subword_prefix") ?? "##").unicodeScalars)
        maxInputCharsPerWord = try field.int("max_input_chars_per_word", default: 100)
    }

    func tokenize(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int]) {
        if word.count > maxInputCharsPerWord {
            if let unknownId { ids.append(unknownId) }
            return
        }
        var pieces: [Int] = []
        var start = word.startIndex
        while start < word.endIndex {
            var end = word.endIndex
            var found: Int?
            while start < end {
                let text = start > word.startIndex ? (prefix + word[start..<end])[...] : word[start..<end]
                if let id = vocabulary.id(ScalarKey(text)) {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                if let unknownId { ids.append(unknownId) }
                return
            }
            pieces.append(id)
            start = end
        }
        ids.append(contentsOf: pieces)
    }
}
