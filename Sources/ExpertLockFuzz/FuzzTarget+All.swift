import ExpertLock
import Foundation
import MoEModels

/// Every parser ExpertLock has, one line each. To add one: a name, the grammar of its inputs, a
/// summary and the call; then put a few small valid files in `fuzz/corpus/<name>/`.
extension FuzzTarget {
    static let all: [FuzzTarget] = [
        FuzzTarget("safetensors", .safetensors, "a .safetensors file: header, offsets, every tensor read and written back", parse: ParserCalls.safetensors),
        FuzzTarget("safetensors-index", .json, "model.safetensors.index.json beside three fixed shards", setUp: ParserCalls.writeShards, parse: ParserCalls.safetensorsIndex),
        FuzzTarget("config", .json, "config.json decoded, validated, encoded and decoded again", parse: ParserCalls.config),
        FuzzTarget("glue", .tsv, "GLUE TSV (SST-2, MNLI, QNLI)") { data, _ in try ParserCalls.dataset(data, "data.tsv", .glue) },
        FuzzTarget("jsonl", .jsonLines, "JSON Lines (text, text+label, document+summary)") { data, _ in try ParserCalls.dataset(data, "data.jsonl", .jsonl) },
        FuzzTarget("text", .text, "plain text (WikiText paragraphs and headings)") { data, _ in try ParserCalls.dataset(data, "data.txt", .text) },
        FuzzTarget("attribution", .json, "attribution file read, written back, merged with itself", parse: ParserCalls.attribution),
        FuzzTarget("plan", .json, "pruning plan JSON validated against a 2-layer, 4-expert model", parse: ParserCalls.plan),
        FuzzTarget("tokenizer", .json, "tokenizer.json loaded, sample texts encoded and decoded", parse: ParserCalls.tokenizer),
        FuzzTarget("tokenizer-config", .json, "tokenizer_config.json beside a fixed WordLevel tokenizer", setUp: ParserCalls.writeFixedTokenizer, parse: ParserCalls.tokenizerConfig),
        FuzzTarget("token-ids", .json, "token ids file (JSON array or whitespace-separated)") { data, _ in _ = try TokenIdsFile.parse(data, file: "ids.txt") },
    ]
}
