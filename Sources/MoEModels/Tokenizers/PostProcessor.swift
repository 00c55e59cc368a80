/// The `post_processor` stage of tokenizer.json: adds the special tokens around an encoded text
/// (only when special tokens are asked for). Only the single-sequence form is used. Cases are
/// spelled like the library's `type` strings.
indirect enum PostProcessor {
    /// The `single` template: special tokens (each possibly several ids) around sequence `$A`.
    case TemplateProcessing([TemplatePiece])
    /// Only adjusts offsets in the library; ids pass through.
    case ByteLevel
    /// `<s> $A </s>`.
    case RobertaProcessing(cls: Int, sep: Int)
    /// `[CLS] $A [SEP]`.
    case BertProcessing(cls: Int, sep: Int)
    case Sequence([PostProcessor])

    enum TemplatePiece {
        case special([Int])
        case sequence
    }

    static func parse(_ field: JSONField) throws -> PostProcessor {
        let type = try field.typeName()
        switch type {
        case "TemplateProcessing":
            var specials: [String: [Int]] = [:]
            for (name, entry) in try field.child("special_tokens")?.asObject() ?? [] {
                specials[name] = try entry.required("ids").asArray().map { try $0.asInt() }
            }
            let pieces = try field.required("single").asArray().map { piece -> TemplatePiece in
                if let special = piece.child("SpecialToken") {
                    let name = try special.string("id")
                    guard let ids = specials[name] else {
                        throw TokenizerError.tokenNotInVocabulary(file: field.file, field: special.path, token: name)
                    }
                    return .special(ids)
                }
                if let sequence = piece.child("Sequence") {
                    // In the single template only $A exists; a $B would be empty.
                    return try sequence.string("id") == "A" ? .sequence : .special([])
                }
                throw piece.invalid("{\"SpecialToken\": ...} or {\"Sequence\": ...}")
            }
            return .TemplateProcessing(pieces)
        case "ByteLevel":
            return .ByteLevel
        case "RobertaProcessing", "BertProcessing":
            func id(_ key: String) throws -> Int {
                let pair = try field.required(key).asArray()
                guard pair.count == 2 else { throw try field.required(key).invalid("[token, id]") }
                return try pair[1].asInt()
            }
            let cls = try id("cls")
            let sep = try id("sep")
            return type == "RobertaProcessing"
                ? .RobertaProcessing(cls: cls, sep: sep) : .BertProcessing(cls: cls, sep: sep)
        case "Sequence":
            return .Sequence(try field.required("processors").asArray().map(parse))
        default:
            throw field.unknownType(type, stage: "post_processor")
        }
    }

    /// The ids of one encoded text with the special tokens added.
    func process(_ ids: [Int]) -> [Int] {
        switch self {
        case .TemplateProcessing(let pieces):
            var out: [Int] = []
            out.reserveCapacity(ids.count + 2)
            for piece in pieces {
                switch piece {
                case .special(let special): out += special
                case .sequence: out += ids
                }
            }
            return out
        case .ByteLevel:
            return ids
        case .RobertaProcessing(let cls, let sep), .BertProcessing(let cls, let sep):
            return [cls] + ids + [sep]
        case .Sequence(let stages):
            return stages.reduce(ids) { $1.process($0) }
        }
    }
}
