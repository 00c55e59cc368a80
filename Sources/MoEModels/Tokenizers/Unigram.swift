/// SentencePiece's Unigram model, run as the library's `models::unigram` runs it (the optimized
/// Viterbi of `Unigram::encode_optimized`, itself a port of SentencePiece's `unigram_model.cc`).
///
/// Each position of a word is reached by the path whose summed token scores (log probabilities)
/// are highest. From every start, the vocabulary tokens that begin there are tried shortest first;
/// a later candidate replaces the best path to its end only when strictly better, so ties keep the
/// earlier start and the shorter token. A scalar that is no token on its own also gets the unknown
/// token, scored `min(score) - 10`. Backtracking fuses consecutive unknown pieces into one; a fused
/// piece (which the vocabulary lacks) becomes its `<0xXX>` byte tokens when `byte_fallback` is on
/// and every one of them exists, otherwise the unknown id.
///
/// Where the library refuses to encode (a scalar no token covers and no `unk_id`), the scalar is
/// dropped here instead (or byte-encoded when byte fallback can), since encoding does not throw.
final class UnigramModel: Sendable {
    let vocabulary: Vocabulary
    /// Score by id (the file's order, duplicates included).
    private let scores: [Double]
    private let unknownId: Int32?
    private let unknownScore: Double
    private let byteFallbackIds: [Int32]?
    private let trie: ScalarTrie

    /// The library's `K_UNK_PENALTY`.
    private static let unknownPenalty = 10.0

    init(_ field: JSONField) throws {
        let entries = try field.required("vocab").asArray()
        var vocabulary = Vocabulary()
        var scores: [Double] = []
        scores.reserveCapacity(entries.count)
        for (id, entry) in entries.enumerated() {
            // serde reads each entry as a (String, f64) tuple: exactly two elements.
            guard let pair = entry.value.arrayValue, pair.count == 2, let token = pair[0].stringValue,
                case .number(let score) = pair[1]
            else { throw entry.invalid("a [token, score] pair") }
            guard id < 1 << 24 else { throw entry.invalid("one of at most 16777216 vocabulary entries") }
            vocabulary.insert(token, id: id)
            scores.append(score)
        }
        self.vocabulary = vocabulary
        self.scores = scores
        if let unk = field.child("unk_id") {
            guard let id = unk.value.intValue, id >= 0 else { throw unk.invalid("a non-negative integer") }
            guard !entries.isEmpty else { throw unk.invalid("null: the vocabulary is empty") }
            guard id < entries.count else { throw unk.invalid("an id below the vocabulary size \(entries.count)") }
            unknownId = Int32(id)
        } else {
            unknownId = nil
        }
        unknownScore = (scores.min() ?? .infinity) - Self.unknownPenalty
        if try field.bool("byte_fallback", default: false) {
            byteFallbackIds = (0..<256).map { b in Int32(vocabulary.id(String(format: "<0x%02X>", b)) ?? -1) }
        } else {
            byteFallbackIds = nil
        }
        // A token spelled twice answers with its last id (the library's token -> id map).
        trie = ScalarTrie(vocabulary.idByToken.map { ($0.key.scalars, Int32($0.value)) })
    }

    func tokenize(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int]) {
        let n = word.count
        guard n > 0 else { return }
        let base = word.startIndex
        // Best path ending at each position: its score, where its last piece starts (-1: none yet), its id.
        var bestScore = [Double](repeating: 0, count: n + 1)
        var bestStart = [Int](repeating: -1, count: n + 1)
        var bestId = [Int32](repeating: -1, count: n + 1)
        func offer(_ end: Int, _ start: Int, _ score: Double, _ id: Int32) {
            if bestStart[end] < 0 || score > bestScore[end] {
                bestScore[end] = score
                bestStart[end] = start
                bestId[end] = id
            }
        }
        for start in 0..<n {
            let scoreHere = bestScore[start]
            var hasSingleScalarToken = false
            trie.forEachPrefix(of: word[(base + start)...]) { length, id in
                offer(start + length, start, scores[Int(id)] + scoreHere, id)
                if length == 1 { hasSingleScalarToken = true }
            }
            // Without an unknown token the library fails here; -1 marks a piece to drop.
            if !hasSingleScalarToken { offer(start + 1, start, unknownScore + scoreHere, unknownId ?? -1) }
        }

        var pieces: [Range<Int>] = []
        var end = n
        var unknownRunEnd: Int?  // end of the unknown pieces being fused, walking backwards
        while end > 0 {
            let start = bestStart[end]
            if let unknownId, bestId[end] == unknownId {
                if unknownRunEnd == nil { unknownRunEnd = end }
            } else {
                if let runEnd = unknownRunEnd { pieces.append(end..<runEnd) }
                unknownRunEnd = nil
                pieces.append(start..<end)
            }
            end = start
        }
        if let runEnd = unknownRunEnd { pieces.append(0..<runEnd) }

        for piece in pieces.reversed() {
            let text = word[(base + piece.lowerBound)..<(base + piece.upperBound)]
            if let id = vocabulary.id(ScalarKey(text)) {
                ids.append(id)
                continue
            }
            if let byteFallbackIds {
                var bytes: [Int] = []
                for s in text { for b in UTF8.encode(s)! { bytes.append(Int(byteFallbackIds[Int(b)])) } }
                if !bytes.contains(-1) {
                    ids += bytes
                    continue
                }
            }
            if let unknownId { ids.append(Int(unknownId)) }
        }
    }
}

/// The vocabulary as a trie over Unicode scalars, for "every token that is a prefix of this text,
/// shortest first" (the library walks a byte trie; UTF-8 makes both find the same tokens).
struct ScalarTrie: Sendable {
    /// (node << 21 | scalar) -> child node; node 0 is the root.
    private let edges: [UInt64: Int32]
    /// Token id ending at each node, -1 where none does.
    private let idAtNode: [Int32]

    init(_ tokens: [(ArraySlice<Unicode.Scalar>, Int32)]) {
        var edges: [UInt64: Int32] = [:]
        var idAtNode: [Int32] = [-1]
        for (token, id) in tokens where !token.isEmpty {
            var node: Int32 = 0
            for s in token {
                let key = UInt64(node) << 21 | UInt64(s.value)
                if let child = edges[key] {
                    node = child
                } else {
                    let child = Int32(idAtNode.count)
                    idAtNode.append(-1)
                    edges[key] = child
                    node = child
                }
            }
            idAtNode[Int(node)] = id
        }
        self.edges = edges
        self.idAtNode = idAtNode
    }

    /// Calls `body(length, id)` for each token that `text` starts with, shortest first.
    func forEachPrefix(of text: ArraySlice<Unicode.Scalar>, _ body: (Int, Int32) -> Void) {
        var node: Int32 = 0
        var length = 0
        for s in text {
            guard let child = edges[UInt64(node) << 21 | UInt64(s.value)] else { return }
            node = child
            length += 1
            let id = idAtNode[Int(node)]
            if id >= 0 { body(length, id) }
        }
    }
}
