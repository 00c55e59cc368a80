import TensorCore

/// Greedy decoding of an encoder-decoder, as transformers' `generate(do_sample=False, num_beams=1)`: the encoder
/// runs once; the decoder starts from `decoder_start_token_id` and adds the argmax token each step, reusing its
/// self-attention keys/values and the cross-attention keys/values of the encoder output (`Seq2SeqCache`), until
/// it emits `eos_token_id` (kept) or has added `maxNewTokens`.
public enum Seq2SeqGenerator {
    /// The decoder sequence, start token first. Routing runs per step: each step's token is a one-token call, so
    /// no token is dropped for capacity (as in transformers' cached generation).
    public static func greedy(
        _ model: SwitchTransformersModel, encoderIds: [Int], maxNewTokens: Int, startToken: Int? = nil
    ) throws -> [Int] {
        let start = startToken ?? model.config.decoderStartTokenId ?? model.config.padTokenId ?? 0
        let memory = try model.encode(encoderIds)
        let cache = Seq2SeqCache(layers: model.config.decoderLayerCount)
        var sequence = [start]
        var next = [start]
        for _ in 0..<maxNewTokens {
            let logits = try model.decodeStep(next, memory: memory, cache: cache)  // [1, V]
            let row = logits.data
            var best = 0
            for v in 1..<row.count where row[v] > row[best] { best = v }  // ties: the lower id, as torch.argmax
            sequence.append(best)
            if best == model.config.eosTokenId { break }
            next = [best]
        }
        return sequence
    }
}
