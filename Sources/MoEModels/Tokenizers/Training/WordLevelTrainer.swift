// Port of the `tokenizers` library's WordLevelTrainer (tokenizers/src/models/wordlevel/trainer.rs).

/// Keeps the most frequent words.
///
/// Words are ranked by count, most frequent first, ties by spelling (Rust's `String` order: UTF-8
/// bytes, which is code-point order); the special tokens come first; words seen fewer than
/// `minFrequency` times are dropped; the first `vocabSize` entries get ids 0, 1, 2, ... in that order.
/// As in the library, a word spelled like a special token takes its later id, leaving the special
/// token's id unused.
enum WordLevelTrainer {
    /// Token scalars by id (nil for an id left unused).
    static func train(
        _ wordCounts: [ScalarKey: Int], vocabSize: Int, minFrequency: Int, specialTokens: [[Unicode.Scalar]]
    ) -> [[Unicode.Scalar]?] {
        let ranked = wordCounts.filter { $0.value >= minFrequency }.sorted { a, b in
            if a.value != b.value { return a.value > b.value }
            return a.key.scalars.lexicographicallyPrecedes(b.key.scalars) { $0.value < $1.value }
        }
        let entries = (specialTokens + ranked.map { Array($0.key.scalars) }).prefix(max(0, vocabSize))
        var idByToken: [ScalarKey: Int] = [:]
        for (id, token) in entries.enumerated() { idByToken[ScalarKey(token[...])] = id }
        var tokens = [[Unicode.Scalar]?](repeating: nil, count: entries.count)
        for (token, id) in idByToken { tokens[id] = Array(token.scalars) }
        // Trailing unused ids are not ids at all.
        while let last = tokens.last, last == nil { tokens.removeLast() }
        return tokens
    }
}
