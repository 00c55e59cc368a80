// Port of the `tokenizers` library's BpeTrainer (tokenizers/src/models/bpe/trainer.rs and the
// `Word::merge` of word.rs), without limit_alphabet, continuing_subword_prefix, end_of_word_suffix
// and max_token_length, which the byte-level pipeline does not use.

/// Learns BPE merges from counted words.
///
/// Ids: the special tokens first, then the alphabet (every scalar of the words and of the initial
/// alphabet) sorted by code point, then each merged token as it is made. Pair counts are kept up to
/// date incrementally: merging a pair inside a word reports which neighbouring pairs disappear and
/// appear, weighted by the word's count, and a max-heap yields the next pair.
///
/// Traps, all kept because they decide which merges come out:
/// - The heap orders by count, then by the *smaller* pair (left id, then right id): ties go to the
///   pair of the lowest ids, which is not the first seen nor the alphabetically first string.
/// - Entries are lazy: a popped entry whose count is out of date is pushed back with the current
///   count (and its own word list) instead of being merged.
/// - A new entry is pushed only for pairs that gained occurrences in the last merge, and it lists
///   only the words where they were gained. When a merge makes a token that already exists (`ab`+`c`
///   after `a`+`bc`), a pair holding it can thus have two entries with different word lists, and is
///   merged twice.
/// - The count of the merged pair itself is never lowered, only those of its neighbours.
enum BPETrainer {
    struct Result {
        /// Token scalars by id.
        var tokens: [[Unicode.Scalar]]
        /// Merges in rank order, as ids.
        var merges: [(left: Int32, right: Int32)]
    }

    /// `progress(merges, vocabularySize)` is called every 256 merges and at the end.
    static func train(
        _ wordCounts: [ScalarKey: Int], vocabSize: Int, minFrequency: Int, specialTokens: [[Unicode.Scalar]],
        initialAlphabet: [Unicode.Scalar], progress: (Int, Int) -> Void = { _, _ in }
    ) -> Result {
        var tokens: [[Unicode.Scalar]] = []
        var idByToken: [ScalarKey: Int32] = [:]
        func add(_ token: [Unicode.Scalar]) {
            let key = ScalarKey(token[...])
            guard idByToken[key] == nil else { return }
            idByToken[key] = Int32(tokens.count)
            tokens.append(token)
        }

        // 1. Special tokens, 2. the alphabet sorted by code point.
        specialTokens.forEach(add)
        var alphabet = Set(initialAlphabet.map(\.value))
        for word in wordCounts.keys { for scalar in word.scalars { alphabet.insert(scalar.value) } }
        for value in alphabet.sorted() { if let scalar = Unicode.Scalar(value) { add([scalar]) } }
        var idByScalar: [UInt32: Int32] = [:]
        for value in alphabet { idByScalar[value] = Unicode.Scalar(value).flatMap { idByToken[ScalarKey([$0][...])] } }

        // 3. Words as ids (every scalar is in the alphabet).
        var words: [[Int32]] = []
        var counts: [Int] = []
        words.reserveCapacity(wordCounts.count)
        counts.reserveCapacity(wordCounts.count)
        for (word, count) in wordCounts {
            words.append(word.scalars.map { idByScalar[$0.value] ?? 0 })
            counts.append(count)
        }

        // 4. Pair counts and, per pair, the words holding it.
        var pairCounts: [UInt64: Int] = [:]
        var whereToUpdate: [UInt64: [Int32]] = [:]
        for (i, word) in words.enumerated() where word.count > 1 {
            for j in 0..<(word.count - 1) {
                let pair = Self.pair(word[j], word[j + 1])
                pairCounts[pair, default: 0] += counts[i]
                whereToUpdate[pair, default: []].appendUnique(Int32(i))
            }
        }
        var queue = MergeQueue()
        for (pair, positions) in whereToUpdate {
            if let count = pairCounts[pair], count > 0 { queue.push(count: count, pair: pair, positions: positions) }
        }
        whereToUpdate.removeAll()

        // 5. Merges.
        var merges: [(left: Int32, right: Int32)] = []
        var changes: [(pair: UInt64, change: Int)] = []
        while idByToken.count < vocabSize, var top = queue.pop() {
            let current = pairCounts[top.pair] ?? 0
            if top.count != current {
                top.count = current
                queue.push(top)
                continue
            }
            if top.count < 1 || minFrequency > top.count {
                queue.release(top)
                break
            }
            let left = Int32(truncatingIfNeeded: top.pair >> 32)
            let right = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let merged = tokens[Int(left)] + tokens[Int(right)]
            let newId = idByToken[ScalarKey(merged[...])] ?? Int32(tokens.count)
            add(merged)
            merges.append((left, right))

            for i in queue.positions(of: top) {
                let w = Int(i)
                changes.removeAll(keepingCapacity: true)
                Self.merge(&words[w], left, right, newId, into: &changes)
                for (pair, change) in changes {
                    pairCounts[pair, default: 0] += change * counts[w]
                    if change > 0 { whereToUpdate[pair, default: []].appendUnique(i) }
                }
            }
            queue.release(top)
            for (pair, positions) in whereToUpdate {
                if let count = pairCounts[pair], count > 0 {
                    queue.push(count: count, pair: pair, positions: positions)
                }
            }
            whereToUpdate.removeAll(keepingCapacity: true)
            if merges.count % 256 == 0 { progress(merges.count, idByToken.count) }
        }
        progress(merges.count, idByToken.count)
        return Result(tokens: tokens, merges: merges)
    }

    static func pair(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    /// `Word::merge`: replaces each (c1, c2), left to right, by `replacement` and reports the pairs
    /// that lose (-1) and gain (+1) an occurrence around it.
    static func merge(
        _ symbols: inout [Int32], _ c1: Int32, _ c2: Int32, _ replacement: Int32,
        into changes: inout [(pair: UInt64, change: Int)]
    ) {
        var i = 0
        while i < symbols.count {
            if symbols[i] == c1, i + 1 < symbols.count, symbols[i + 1] == c2 {
                if i > 0 {
                    changes.append((pair(symbols[i - 1], c1), -1))
                    changes.append((pair(symbols[i - 1], replacement), 1))
                }
                symbols[i] = replacement
                symbols.remove(at: i + 1)
                if i < symbols.count - 1 {
                    changes.append((pair(c2, symbols[i + 1]), -1))
                    changes.append((pair(replacement, symbols[i + 1]), 1))
                }
            }
            i += 1
        }
    }
}

extension Array where Element == Int32 {
    /// Appends `i` unless it is already last: word indices arrive grouped by word, so this keeps the
    /// list a set as the library's `HashSet<usize>` is.
    mutating func appendUnique(_ i: Int32) {
        if last != i { append(i) }
    }
}

/// The trainer's `BinaryHeap<Merge>`: the largest count first, then the smallest pair. Word lists
/// are stored beside the heap and referenced by index so that entries move cheaply.
struct MergeQueue {
    struct Entry {
        var count: Int
        var pair: UInt64
        var list: Int

        /// Whether `self` pops before `other`.
        @inline(__always)
        func precedes(_ other: Entry) -> Bool {
            count != other.count ? count > other.count : pair < other.pair
        }
    }

    private var heap: [Entry] = []
    private var lists: [[Int32]] = []
    private var freeLists: [Int] = []

    var isEmpty: Bool { heap.isEmpty }

    mutating func push(count: Int, pair: UInt64, positions: [Int32]) {
        let list: Int
        if let reused = freeLists.popLast() {
            lists[reused] = positions
            list = reused
        } else {
            list = lists.count
            lists.append(positions)
        }
        push(Entry(count: count, pair: pair, list: list))
    }

    mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        let n = heap.count
        while true {
            let left = 2 * parent + 1
            if left >= n { break }
            var best = left
            if left + 1 < n, heap[left + 1].precedes(heap[left]) { best = left + 1 }
            guard heap[best].precedes(heap[parent]) else { break }
            heap.swapAt(best, parent)
            parent = best
        }
        return top
    }

    func positions(of entry: Entry) -> [Int32] { lists[entry.list] }

    /// Frees the word list of an entry that leaves the queue for good.
    mutating func release(_ entry: Entry) {
        lists[entry.list] = []
        freeLists.append(entry.list)
    }
}
