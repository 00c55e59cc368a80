import Foundation

/// Byte-pair encoding, run as the library's `models::bpe` runs it.
///
/// A word starts as one symbol per Unicode scalar (with `continuing_subword_prefix` /
/// `end_of_word_suffix` added where configured). A scalar missing from the vocabulary becomes its
/// `<0xXX>` byte tokens when `byte_fallback` is on and all of them exist, otherwise the unknown token
/// (consecutive ones fused when `fuse_unk`). Then, repeatedly, the adjacent pair with the lowest merge
/// rank is merged, the leftmost first. Results are cached per word: WikiText has ~30k distinct words
/// in 2M.
///
/// A long word (SentencePiece tokenizers with `split: false` hand over the whole text as one word)
/// is cut where no merge can ever join the two sides: between two scalars that are tokens of their
/// own and never adjacent inside any vocabulary token. A merge across such a cut would produce a
/// token holding that pair, so each part merges exactly as it would inside the whole word.
final class BPEModel: @unchecked Sendable {
    let vocabulary: Vocabulary
    /// (left id << 32 | right id) -> rank << 32 | merged id.
    private let merges: [UInt64: UInt64]
    private let unknownId: Int32?
    private let fuseUnknown: Bool
    private let byteFallbackIds: [Int32]?
    private let ignoreMerges: Bool
    private let prefix: [Unicode.Scalar]
    private let suffix: [Unicode.Scalar]
    /// Ids of single-scalar tokens, the common case of a word's first symbols: BMP by table.
    private let bmpScalarIds: [Int32]
    private let otherScalarIds: [UInt32: Int32]
    /// Scalar pairs adjacent inside some vocabulary token (built on the first long word).
    private var innerPairs: Set<UInt64>?
    private static let longWord = 48

    private var cache: [ScalarKey: [Int32]] = [:]
    private let cacheLock = NSLock()
    private static let cacheCapacity = 250_000
    private static let cachedWordLength = 256

    init(_ field: JSONField) throws {
        let vocabulary = try Vocabulary.parse(try field.required("vocab"))
        self.vocabulary = vocabulary
        let file = field.file
        if let unk = try field.optionalString("unk_token") {
            unknownId = vocabulary.id(unk).map(Int32.init)
        } else {
            unknownId = nil
        }
        fuseUnknown = try field.bool("fuse_unk", default: false)
        ignoreMerges = try field.bool("ignore_merges", default: false)
        prefix = Array((try field.optionalString("continuing_subword_prefix") ?? "").unicodeScalars)
        suffix = Array((try field.optionalString("end_of_word_suffix") ?? "").unicodeScalars)
        if try field.bool("byte_fallback", default: false) {
            byteFallbackIds = (0..<256).map { b in
                Int32(vocabulary.id(String(format: "<0x%02X>", b)) ?? -1)
            }
        } else {
            byteFallbackIds = nil
        }
        var bmpScalarIds = [Int32](repeating: -1, count: 0x10000)
        var otherScalarIds: [UInt32: Int32] = [:]
        for (key, id) in vocabulary.idByToken where key.scalars.count == 1 {
            let v = key.scalars.first!.value
            if v < 0x10000 { bmpScalarIds[Int(v)] = Int32(id) } else { otherScalarIds[v] = Int32(id) }
        }
        self.bmpScalarIds = bmpScalarIds
        self.otherScalarIds = otherScalarIds

        // Merges: "a b" strings (older files) or ["a", "b"] pairs. Rank = position; a repeated pair
        // keeps its last rank, as the library's map does.
        var merges: [UInt64: UInt64] = [:]
        let list = try field.child("merges")?.asArray() ?? []
        merges.reserveCapacity(list.count)
        for (rank, entry) in list.enumerated() {
            let left: ArraySlice<Unicode.Scalar>
            var right: ArraySlice<Unicode.Scalar>
            if let line = entry.value.stringValue {
                let scalars = Array(line.unicodeScalars)
                guard let space = scalars.firstIndex(of: " ") else {
                    throw entry.invalid("\"left right\" or [left, right]")
                }
                left = scalars[..<space]
                right = scalars[(space + 1)...]
            } else if let pair = entry.value.arrayValue, pair.count == 2, let a = pair[0].stringValue,
                let b = pair[1].stringValue
            {
                left = Array(a.unicodeScalars)[...]
                right = Array(b.unicodeScalars)[...]
            } else {
                throw entry.invalid("\"left right\" or [left, right]")
            }
            func missing(_ token: ArraySlice<Unicode.Scalar>) -> TokenizerError {
                .tokenNotInVocabulary(file: file, field: entry.path, token: String(String.UnicodeScalarView(token)))
            }
            guard let leftId = vocabulary.id(ScalarKey(left)) else { throw missing(left) }
            guard let rightId = vocabulary.id(ScalarKey(right)) else { throw missing(right) }
            if !prefix.isEmpty, right.starts(with: prefix) { right = right.dropFirst(prefix.count) }
            let merged = (left + right)[...]
            guard let mergedId = vocabulary.id(ScalarKey(merged)) else { throw missing(merged) }
            merges[UInt64(leftId) << 32 | UInt64(rightId)] = UInt64(rank) << 32 | UInt64(mergedId)
        }
        self.merges = merges
    }

    @inline(__always)
    private func scalarId(_ s: Unicode.Scalar) -> Int32? {
        if s.value < 0x10000 {
            let id = bmpScalarIds[Int(s.value)]
            return id >= 0 ? id : nil
        }
        return otherScalarIds[s.value]
    }

    /// Appends the ids of `word` to `ids`.
    func tokenize(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int]) {
        if word.isEmpty { return }
        if ignoreMerges, let id = vocabulary.id(ScalarKey(word)) {
            ids.append(id)
            return
        }
        guard word.count > Self.longWord, prefix.isEmpty, suffix.isEmpty else {
            return tokenizeCached(word, into: &ids)
        }
        let pairs = innerPairSet()
        var start = word.startIndex
        for i in word.indices.dropFirst() {
            let a = word[i - 1]
            let b = word[i]
            if !pairs.contains(UInt64(a.value) << 32 | UInt64(b.value)), scalarId(a) != nil, scalarId(b) != nil {
                tokenizeCached(word[start..<i], into: &ids)
                start = i
            }
        }
        tokenizeCached(word[start...], into: &ids)
    }

    private func innerPairSet() -> Set<UInt64> {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let innerPairs { return innerPairs }
        var pairs = Set<UInt64>()
        for key in vocabulary.idByToken.keys where key.scalars.count > 1 {
            var previous = key.scalars.first!
            for s in key.scalars.dropFirst() {
                pairs.insert(UInt64(previous.value) << 32 | UInt64(s.value))
                previous = s
            }
        }
        innerPairs = pairs
        return pairs
    }

    private func tokenizeCached(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int]) {
        let key = ScalarKey(word)
        cacheLock.lock()
        let hit = cache[key]
        cacheLock.unlock()
        if let hit {
            for id in hit { ids.append(Int(id)) }
            return
        }
        let result = merge(word)
        for id in result { ids.append(Int(id)) }
        if word.count <= Self.cachedWordLength {
            cacheLock.lock()
            if cache.count < Self.cacheCapacity { cache[key.detached] = result }
            cacheLock.unlock()
        }
    }

    /// The library's `merge_word` then `merge_all`.
    private func merge(_ word: ArraySlice<Unicode.Scalar>) -> [Int32] {
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        var pendingUnknown = false
        let plain = prefix.isEmpty && suffix.isEmpty
        for (offset, scalar) in word.enumerated() {
            let id: Int32?
            if plain {
                id = scalarId(scalar)
            } else {
                var text: [Unicode.Scalar] = []
                if offset > 0 { text += prefix }
                text.append(scalar)
                if offset == word.count - 1 { text += suffix }
                id = vocabulary.id(ScalarKey(text[...])).map(Int32.init)
            }
            if let id {
                if pendingUnknown, let unk = unknownId { symbols.append(unk) }
                pendingUnknown = false
                symbols.append(id)
                continue
            }
            // The library looks up the bytes of the symbol text (prefix and suffix included).
            if let byteIds = byteFallbackIds {
                var text: [Unicode.Scalar] = []
                if !plain, offset > 0 { text += prefix }
                text.append(scalar)
                if !plain, offset == word.count - 1 { text += suffix }
                let bytes = text.flatMap { Array($0.utf8) }
                if bytes.allSatisfy({ byteIds[Int($0)] >= 0 }) {
                    // Like the library, a pending unknown is not flushed before byte tokens.
                    for b in bytes { symbols.append(byteIds[Int(b)]) }
                    continue
                }
            }
            if let unk = unknownId {
                if pendingUnknown && !fuseUnknown { symbols.append(unk) }
                pendingUnknown = true
            }
        }
        if pendingUnknown, let unk = unknownId { symbols.append(unk) }
        if symbols.count < 2 || merges.isEmpty { return symbols }
        return mergeAll(symbols)
    }

    /// Merges with a min-heap keyed by (rank, position), skipping stale entries, as `Word::merge_all`.
    private func mergeAll(_ initial: [Int32]) -> [Int32] {
        var ids = initial
        let n = ids.count
        var prev = (0..<n).map { Int32($0) - 1 }
        var next = (0..<n).map { $0 + 1 < n ? Int32($0 + 1) : -1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        for i in 0..<n - 1 {
            if let m = merges[UInt64(UInt32(bitPattern: ids[i])) << 32 | UInt64(UInt32(bitPattern: ids[i + 1]))] {
                heap.push(rank: UInt32(m >> 32), position: UInt32(i), mergedId: UInt32(truncatingIfNeeded: m))
            }
        }
        while let top = heap.pop() {
            let pos = Int(top.position)
            guard alive[pos], next[pos] >= 0 else { continue }
            let right = Int(next[pos])
            let pair = UInt64(UInt32(bitPattern: ids[pos])) << 32 | UInt64(UInt32(bitPattern: ids[right]))
            guard let m = merges[pair], UInt32(truncatingIfNeeded: m) == top.mergedId else { continue }
            ids[pos] = Int32(bitPattern: top.mergedId)
            alive[right] = false
            next[pos] = next[right]
            if next[right] >= 0 { prev[Int(next[right])] = Int32(pos) }
            if prev[pos] >= 0 {
                let left = Int(prev[pos])
                let key = UInt64(UInt32(bitPattern: ids[left])) << 32 | UInt64(UInt32(bitPattern: ids[pos]))
                if let m = merges[key] {
                    heap.push(rank: UInt32(m >> 32), position: UInt32(left), mergedId: UInt32(truncatingIfNeeded: m))
                }
            }
            if next[pos] >= 0 {
                let key = UInt64(UInt32(bitPattern: ids[pos])) << 32 | UInt64(UInt32(bitPattern: ids[Int(next[pos])]))
                if let m = merges[key] {
                    heap.push(rank: UInt32(m >> 32), position: UInt32(pos), mergedId: UInt32(truncatingIfNeeded: m))
                }
            }
        }
        var out: [Int32] = []
        out.reserveCapacity(n)
        for i in 0..<n where alive[i] { out.append(ids[i]) }
        return out
    }
}

/// A binary min-heap of merge candidates ordered by rank, then position.
private struct MergeHeap {
    struct Entry {
        var key: UInt64  // rank << 32 | position
        var mergedId: UInt32
        var rank: UInt32 { UInt32(key >> 32) }
        var position: UInt32 { UInt32(truncatingIfNeeded: key) }
    }
    private var entries: [Entry] = []

    mutating func push(rank: UInt32, position: UInt32, mergedId: UInt32) {
        entries.append(Entry(key: UInt64(rank) << 32 | UInt64(position), mergedId: mergedId))
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[i].key < entries[parent].key else { break }
            entries.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var smallest = i
                if l < entries.count, entries[l].key < entries[smallest].key { smallest = l }
                if r < entries.count, entries[r].key < entries[smallest].key { smallest = r }
                if smallest == i { break }
                entries.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}
