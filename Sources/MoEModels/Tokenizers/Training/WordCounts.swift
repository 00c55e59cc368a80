import TensorCore

/// The words a trainer learns from, with how often each occurs: the library's `Trainer::feed`.
///
/// `Tokenizer.train` hands the trainer each line of each file with its line ending ("\n", and a
/// "\r" before it stays), and each line goes through the normalizer (none here) and the
/// pre-tokenizer on its own; added tokens are not cut out. Cutting lines matters: the GPT-2 regex's
/// `\s+(?!\S)` sees the end of the line, not the next line's first letter.
struct WordCounts {
    let preTokenizer: PreTokenizer
    /// Words as the pre-tokenizer spells them (byte-level scalars for ByteLevel).
    private(set) var counts: [ScalarKey: Int] = [:]
    /// Number of words counted (with repeats).
    private(set) var total = 0

    init(preTokenizer: PreTokenizer) { self.preTokenizer = preTokenizer }

    /// Counts the words of every line of `text`, lines in parallel chunks.
    mutating func add(_ text: [Unicode.Scalar]) {
        var lineStarts: [Int] = [0]
        for (i, scalar) in text.enumerated() where scalar == "\n" && i + 1 < text.count { lineStarts.append(i + 1) }
        if text.isEmpty { return }
        let lines = lineStarts.count
        let chunks = min(lines, max(1, Parallel.threads) * 4)
        var partial = [([ScalarKey: Int], Int)](repeating: ([:], 0), count: chunks)
        let preTokenizer = preTokenizer
        text.withUnsafeBufferPointer { scalars in
            partial.withUnsafeMutableBufferPointer { results in
                Parallel.forEach(chunks) { range in
                    for chunk in range {
                        let first = chunk * lines / chunks
                        let last = (chunk + 1) * lines / chunks
                        var counts: [ScalarKey: Int] = [:]
                        var words = 0
                        for line in first..<last {
                            let end = line + 1 < lines ? lineStarts[line + 1] : scalars.count
                            let piece = TextPiece(scalars: ArraySlice(scalars[lineStarts[line]..<end]), atStart: true)
                            preTokenizer.preTokenize(piece) { word in
                                words += 1
                                let key = ScalarKey(word.scalars)
                                if let index = counts.index(forKey: key) {
                                    counts.values[index] += 1
                                } else {
                                    counts[key.detached] = 1  // not the line's buffer
                                }
                            }
                        }
                        results[chunk] = (counts, words)
                    }
                }
            }
        }
        for (counts, words) in partial {
            total += words
            if self.counts.isEmpty {
                self.counts = counts
            } else {
                self.counts.merge(counts, uniquingKeysWith: +)
            }
        }
    }
}
