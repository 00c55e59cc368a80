import MoEModels

/// Cuts a token stream into fixed-length sequences and groups them into batches: the corpus form
/// attribution and language-model evaluation consume. The last partial sequence is kept (as its own
/// shorter batch) so no token is dropped.
public enum CorpusBatches {
    public static func chunks(_ ids: [Int], length: Int) -> [[Int]] {
        precondition(length >= 1)
        return stride(from: 0, to: ids.count, by: length).map { Array(ids[$0..<min($0 + length, ids.count)]) }
    }

    /// Batches of up to `batchSize` sequences; sequences of unequal length are right-padded.
    public static func batches(_ sequences: [[Int]], batchSize: Int, pad: Int = 0) -> [TokenBatch] {
        stride(from: 0, to: sequences.count, by: max(1, batchSize)).map {
            TokenBatch(padding: Array(sequences[$0..<min($0 + batchSize, sequences.count)]), pad: pad)
        }
    }
}
