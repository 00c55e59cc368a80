import TensorCore

/// Seeded mutations of byte strings: the generic ones every fuzzer has (bit flips, byte
/// insert/delete/duplicate, splices between corpus entries, truncation) plus, per grammar, ones
/// that know where the numbers, values and length fields are (`Mutator+Text`, `Mutator+SafeTensors`).
///
/// Everything random goes through one `SplitMix64`, so a seed names a run: the same seed, corpus
/// and build give the same inputs in the same order.
struct Mutator {
    var rng: SplitMix64
    let grammar: InputGrammar
    /// Tokens worth inserting: the grammar's punctuation and keywords plus every string and word
    /// found in the seed corpus (an automatic dictionary, as AFL builds one).
    let dictionary: [[UInt8]]
    let maxSize: Int

    init(seed: UInt64, grammar: InputGrammar, corpus: [[UInt8]], maxSize: Int) {
        rng = SplitMix64(seed: seed)
        self.grammar = grammar
        self.maxSize = maxSize
        dictionary = Self.dictionary(for: grammar, corpus: corpus)
    }

    /// A mutant of `input`: one to five stacked mutations (mostly few), `partner` for splices.
    mutating func mutate(_ input: [UInt8], partner: [UInt8]) -> [UInt8] {
        var bytes = input
        let rounds = 1 + Int(below(8) == 0 ? below(5) : below(2))
        for _ in 0..<rounds {
            if grammar == .safetensors && below(3) != 0 {
                mutateSafeTensors(&bytes, partner: partner)
            } else {
                mutateOnce(&bytes, partner: partner)
            }
        }
        if bytes.count > maxSize { bytes.removeSubrange(maxSize...) }
        return bytes
    }

    /// One mutation chosen by weight: structure-aware ones for JSON and text grammars half the
    /// time, generic byte-level ones otherwise.
    mutating func mutateOnce(_ bytes: inout [UInt8], partner: [UInt8]) {
        switch below(20) {
        case 0, 1: flipBit(&bytes)
        case 2: setRandomByte(&bytes)
        case 3: insertRandomBytes(&bytes)
        case 4: insertRepeatedByte(&bytes)
        case 5, 6: deleteRange(&bytes)
        case 7: duplicateRange(&bytes)
        case 8: splice(&bytes, partner)
        case 9: truncate(&bytes)
        case 10, 11, 12: insertToken(&bytes)
        case 13, 14, 15: replaceNumber(&bytes)
        case 16, 17:
            switch grammar {
            case .tsv, .text: replaceLineOrField(&bytes, partner)
            case .binary: setWord(&bytes)
            default: replaceJSONValue(&bytes, partner)
            }
        case 18: swapLines(&bytes)
        default: copyRangeWithin(&bytes)
        }
    }

    // MARK: - Randomness

    /// Uniform in 0..<n (n > 0).
    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// A length biased to small values: 1...8 mostly, up to 64, rarely up to `limit`.
    mutating func smallLength(limit: Int = 4096) -> Int {
        switch below(16) {
        case 0: return 1 + below(max(limit, 1))
        case 1, 2, 3: return 1 + below(64)
        default: return 1 + below(8)
        }
    }

    /// A random position in 0...count (insertion point).
    mutating func position(in bytes: [UInt8]) -> Int { below(bytes.count + 1) }

    // MARK: - Generic byte mutations

    mutating func flipBit(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        bytes[below(bytes.count)] ^= 1 << UInt8(below(8))
    }

    mutating func setRandomByte(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        let interesting: [UInt8] = [0, 0x7F, 0x80, 0xFF, 0x22, 0x5C, 0x0A, 0x09, 0x30, 0x39, 0x2D]
        bytes[below(bytes.count)] = below(2) == 0 ? pick(interesting) : UInt8(truncatingIfNeeded: rng.next())
    }

    mutating func insertRandomBytes(_ bytes: inout [UInt8]) {
        let n = smallLength(limit: 64)
        bytes.insert(contentsOf: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: position(in: bytes))
    }

    mutating func insertRepeatedByte(_ bytes: inout [UInt8]) {
        let byte: UInt8 = below(2) == 0 ? pick(Array("[{\"0 \t\n,:9-".utf8)) : UInt8(truncatingIfNeeded: rng.next())
        bytes.insert(contentsOf: [UInt8](repeating: byte, count: smallLength(limit: 16384)), at: position(in: bytes))
    }

    mutating func deleteRange(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        let start = below(bytes.count)
        bytes.removeSubrange(start..<min(bytes.count, start + smallLength(limit: bytes.count)))
    }

    mutating func duplicateRange(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        let start = below(bytes.count)
        let chunk = Array(bytes[start..<min(bytes.count, start + smallLength(limit: bytes.count))])
        let copies = below(8) == 0 ? 1 + below(64) : 1
        for _ in 0..<copies { bytes.insert(contentsOf: chunk, at: position(in: bytes)) }
    }

    mutating func copyRangeWithin(_ bytes: inout [UInt8]) {
        guard bytes.count > 1 else { return }
        let start = below(bytes.count)
        let chunk = Array(bytes[start..<min(bytes.count, start + smallLength(limit: bytes.count))])
        let to = below(bytes.count)
        let end = min(bytes.count, to + chunk.count)
        bytes.replaceSubrange(to..<end, with: chunk[0..<(end - to)])
    }

    /// A prefix of this input joined to a suffix of another corpus entry (or of itself).
    mutating func splice(_ bytes: inout [UInt8], _ partner: [UInt8]) {
        let cut = position(in: bytes)
        let from = below(partner.count + 1)
        bytes = Array(bytes[..<cut]) + Array(partner[from...])
    }

    mutating func truncate(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        bytes.removeSubrange(below(bytes.count)...)
    }

    mutating func insertToken(_ bytes: inout [UInt8]) {
        guard !dictionary.isEmpty else { return }
        let token = pick(dictionary)
        if below(4) == 0, !bytes.isEmpty {  // overwrite instead of insert
            let at = below(bytes.count)
            bytes.replaceSubrange(at..<min(bytes.count, at + token.count), with: token)
        } else {
            bytes.insert(contentsOf: token, at: position(in: bytes))
        }
    }

    /// Exchanges two lines (rows of a TSV or JSONL file, paragraphs of text).
    mutating func swapLines(_ bytes: inout [UInt8]) {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        guard lines.count > 1 else { return }
        let a = below(lines.count), b = below(lines.count)
        if below(3) == 0 { lines.insert(lines[a], at: b) } else { lines.swapAt(a, b) }
        bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
    }
}
