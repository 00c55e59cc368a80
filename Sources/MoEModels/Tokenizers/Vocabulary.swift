import Foundation

/// A token spelled as exact Unicode scalars. Used as a dictionary key instead of `String`, whose
/// equality is canonical equivalence ("é" == "e\u{301}") and would merge distinct tokens.
struct ScalarKey: Hashable {
    var scalars: ArraySlice<Unicode.Scalar>

    init(_ scalars: ArraySlice<Unicode.Scalar>) { self.scalars = scalars }
    init(_ string: String) { self.scalars = Array(string.unicodeScalars)[...] }

    /// A copy that does not keep a larger buffer alive.
    var detached: ScalarKey { ScalarKey(Array(scalars)[...]) }

    // Hashing the raw bytes in one call is several times faster than element by element, and this
    // is on the per-word path of encoding.
    static func == (a: ScalarKey, b: ScalarKey) -> Bool {
        guard a.scalars.count == b.scalars.count else { return false }
        if a.scalars.isEmpty { return true }
        return a.scalars.withUnsafeBytes { pa in
            b.scalars.withUnsafeBytes { pb in memcmp(pa.baseAddress!, pb.baseAddress!, pa.count) == 0 }
        }
    }

    func hash(into hasher: inout Hasher) {
        scalars.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// A model's token ↔ id tables.
struct Vocabulary {
    private(set) var idByToken: [ScalarKey: Int] = [:]
    /// Token text by id; nil for ids the file does not use.
    private(set) var tokenById: [String?] = []

    /// Reads `{"token": id, ...}`.
    static func parse(_ field: JSONField) throws -> Vocabulary {
        var vocab = Vocabulary()
        let pairs = try field.asObject()
        vocab.idByToken.reserveCapacity(pairs.count)
        for (token, idField) in pairs {
            let id = try idField.asInt()
            // Ids index a table: a huge one would only exhaust memory.
            guard id >= 0, id < 1 << 24 else { throw idField.invalid("a token id in 0..<16777216") }
            vocab.insert(token, id: id)
        }
        return vocab
    }

    /// Reads `[["token", score], ...]` (Unigram) or `["token", ...]`: ids are positions.
    static func parseList(_ field: JSONField) throws -> Vocabulary {
        var vocab = Vocabulary()
        for (id, entry) in try field.asArray().enumerated() {
            if let token = entry.value.stringValue {
                vocab.insert(token, id: id)
            } else if let first = entry.value.arrayValue?.first?.stringValue {
                vocab.insert(first, id: id)
            } else {
                throw entry.invalid("a token string or a [token, score] pair")
            }
        }
        return vocab
    }

    mutating func insert(_ token: String, id: Int) {
        idByToken[ScalarKey(token)] = id
        if id >= tokenById.count { tokenById.append(contentsOf: repeatElement(nil, count: id + 1 - tokenById.count)) }
        tokenById[id] = token
    }

    func id(_ token: ScalarKey) -> Int? { idByToken[token] }
    func id(_ token: String) -> Int? { idByToken[ScalarKey(token)] }
    func token(_ id: Int) -> String? { id >= 0 && id < tokenById.count ? tokenById[id] : nil }
    /// Largest id + 1.
    var size: Int { tokenById.count }
}
