/// The inputs mutants are drawn from: the seeds, which always stay, plus inputs that reached a
/// new outcome. Bounded in count and in total bytes, so a long run's memory does not drift with
/// it: mutations stack (insertions, duplications, splices), so remembered inputs grow towards
/// `--max-size` generation after generation, and 1,000 entries of 128 KB would be 128 MB.
struct InputPool {
    private(set) var entries: [[UInt8]]
    private(set) var bytes: Int
    let seedCount: Int
    let maxEntries: Int
    let maxBytes: Int

    init(seeds: [[UInt8]], maxEntries: Int = 1000, maxBytes: Int = 32 << 20) {
        entries = seeds
        bytes = seeds.reduce(0) { $0 + $1.count }
        seedCount = seeds.count
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }

    var count: Int { entries.count }

    subscript(i: Int) -> [UInt8] { entries[i] }

    /// Adds `input`; past either bound it replaces random non-seed entries until it fits. An
    /// input larger than the whole byte budget is not kept.
    mutating func remember(_ input: [UInt8], _ mutator: inout Mutator) {
        guard input.count <= maxBytes else { return }
        while entries.count > seedCount
            && (entries.count >= seedCount + maxEntries || bytes + input.count > maxBytes)
        {
            let victim = seedCount + mutator.below(entries.count - seedCount)
            bytes -= entries[victim].count
            entries.swapAt(victim, entries.count - 1)
            entries.removeLast()
        }
        guard bytes + input.count <= maxBytes || entries.count == seedCount else { return }
        entries.append(input)
        bytes += input.count
    }
}
