import ExpertLock
import Foundation
import MoEModels

/// Every parser ExpertLock has, one line each. To add one: a name, the grammar of its inputs, a
/// summary and the call; then put a few small valid files in `fuzz/corpus/<name>/`.
extension FuzzTarget {
    static let all: [FuzzTarget] = [
        FuzzTarget(
            "safetensors", .safetensors, "a .safetensors file: header, offsets, every tensor read and written back",
            parse: ParserCalls.safetensors),
        FuzzTarget(
            "safetensors-index", .json, "model.safetensors.index.json beside three fixed shards",
            setUp: ParserCalls.writeShards, parse: ParserCalls.safetensorsIndex),
        FuzzTarget(
            "config", .json, "config.json decoded, validated, encoded and decoded again", parse: ParserCalls.config),
        FuzzTarget("glue", .tsv, "GLUE TSV (SST-2, MNLI, QNLI)") { data, _ in
            try ParserCalls.dataset(data, "data.tsv", .glue)
        },
        FuzzTarget("jsonl", .jsonLines, "JSON Lines (text, text+label, document+summary)") { data, _ in
            try ParserCalls.dataset(data, "data.jsonl", .jsonl)
        },
        FuzzTarget("text", .text, "plain text (WikiText paragraphs and headings)") { data, _ in
            try ParserCalls.dataset(data, "data.txt", .text)
        },
        FuzzTarget(
            "attribution", .json, "attribution file read, written back, merged with itself",
            parse: ParserCalls.attribution),
        FuzzTarget(
            "plan", .json, "pruning plan JSON validated against a 2-layer, 4-expert model", parse: ParserCalls.plan),
        FuzzTarget(
            "tokenizer", .json,
            "tokenizer.json loaded, sample texts encoded and "
                + "decoded", parse: ParserCalls.tokenizer),
        FuzzTarget(
            "tokenizer-unigram", .json,
            "Unigram tokenizer.json (Precompiled, Metaspace, byte fallback) loaded, texts encoded and decoded",
            parse: ParserCalls.unigramTokenizer),
        FuzzTarget(
            "precompiled-charsmap", .binary, "raw SentencePiece charsmap in T5's pipeline, texts encoded and decoded",
            parse: ParserCalls.precompiledCharsmap),
        FuzzTarget(
            "tokenizer-config", .json, "tokenizer_config.json beside a fixed WordLevel tokenizer",
            setUp: ParserCalls.writeFixedTokenizer, parse: ParserCalls.tokenizerConfig),
        FuzzTarget("token-ids", .json, "token ids file (JSON array or whitespace-separated)") { data, _ in
            _ = try TokenIdsFile.parse(data, file: "ids.txt")
        },
        FuzzTarget(
            "manifest", .json, "expertlock_manifest.json read, then the fixture model verified against it",
            setUp: ParserCalls.writeModel, parse: ParserCalls.manifest),
        FuzzTarget(
            "update-log", .jsonLines, "expertlock_update_log.jsonl read, replayed over the seed manifest, written back",
            setUp: ParserCalls.writeModel, parse: ParserCalls.updateLog),
        FuzzTarget(
            "signing-key", .text, "key file read as an Ed25519 private key (then signs) and as a public key",
            parse: ParserCalls.signingKey),
        FuzzTarget(
            "typed-key", .text, "typed key file (header naming private/public): kinds never swap, write-back equal",
            parse: ParserCalls.typedKey),
        FuzzTarget(
            "prompt-template", .json, "classification prompt template loaded, validated, prompts rendered",
            parse: ParserCalls.promptTemplate),
        FuzzTarget(
            "trainer-state", .json, "checkpoint-N/trainer_state.json as train --resume reads it",
            parse: ParserCalls.trainerState),
        FuzzTarget(
            "realign-state", .json, "realign state-N/state.json checked as realign --resume does",
            parse: ParserCalls.realignState),
        FuzzTarget(
            "lora-config", .json,
            "adapter_config.json beside fixed adapter weights, loaded onto the fixture, which runs",
            setUp: ParserCalls.writeModelWithAdapter, parse: ParserCalls.loraConfig),
        FuzzTarget(
            "mask", .json, "expertlock_mask.json beside the fixture model, loaded, which runs",
            setUp: ParserCalls.writeModel, parse: ParserCalls.mask),
        FuzzTarget(
            "attribute-state", .json, "attribute --resume state (.OUT.state) read, merged, written back",
            parse: ParserCalls.attributeState),
        FuzzTarget(
            "sweep-state", .json, "sweep --resume state (.OUT.sweep-state) read and written back",
            parse: ParserCalls.sweepState),
        FuzzTarget(
            "trace-vllm", .jsonLines, "vLLM responses with routed experts (nested arrays, base64 .npy), attributed",
            parse: ParserCalls.engineTrace),
        FuzzTarget(
            "trace-sglang", .jsonLines, "SGLang responses with base64 int32 routed experts, attributed and monitored",
            parse: ParserCalls.engineTrace),
        FuzzTarget(
            "trace-router-logits", .safetensors, "router-logit safetensors dump, top-k taken, attributed and monitored",
            parse: ParserCalls.routerLogitTrace),
    ]
}
