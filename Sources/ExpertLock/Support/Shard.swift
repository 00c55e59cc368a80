import Foundation
import MoEModels
import TensorCore

/// `--shard I/N`: the I-th of N deterministic slices of a run's work items (batches of sequences,
/// perplexity window batches, trace requests), I counted from 0 as a Slurm array
/// (`--array=0-(N-1)`), a Kubernetes indexed Job (`JOB_COMPLETION_INDEX`) and `range(N)` in Ray
/// count it.
///
/// A shard is a contiguous range of the items the whole run would process, cut from the same
/// list in the same order: each item is computed exactly as in one run (same batch, same shapes,
/// hence the same bits), and the shards' sums combine in item order to one run's bits.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else { throw ShardError.outOfRange(index: index, count: count) }
        self.index = index
        self.count = count
    }

    /// Parses "I/N".
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else { throw ShardError.syntax(text) }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The items of this shard among `total`: [⌊I·total/N⌋, ⌊(I+1)·total/N⌋).
    public func range(of total: Int) -> Range<Int> {
        let start = Int((Int64(index) * Int64(total)) / Int64(count))
        let end = Int((Int64(index + 1) * Int64(total)) / Int64(count))
        return start..<end
    }

    /// Checks that `shards` are each of 0..<N exactly once, all of the same N.
    public static func checkComplete(_ shards: [Shard], files: [String]) throws {
        guard let n = shards.first?.count else { return }
        guard shards.allSatisfy({ $0.count == n }) else {
            throw ShardError.incomplete(files: files, reason: "the files are shards of different counts")
        }
        let seen = shards.map(\.index).sorted()
        guard seen == Array(0..<n) else {
            let missing = Set(0..<n).subtracting(seen).sorted()
            let twice = Dictionary(grouping: seen, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            throw ShardError.incomplete(
                files: files,
                reason: missing.isEmpty
                    ? "shard(s) \(twice.map { "\($0)/\(n)" }.joined(separator: ", ")) given twice"
                    : "shard(s) \(missing.map { "\($0)/\(n)" }.joined(separator: ", ")) missing")
        }
    }
}

public enum ShardError: InputError, Equatable {
    case syntax(String)
    case outOfRange(index: Int, count: Int)
    case incomplete(files: [String], reason: String)
    case differentRuns(first: String, second: String)

    public var description: String {
        switch self {
        case .syntax(let text): return "--shard \(text): expected I/N, e.g. 0/4 (I from 0 to N-1)"
        case .outOfRange(let i, let n): return "--shard \(i)/\(n): need N ≥ 1 and 0 ≤ I < N"
        case .incomplete(let files, let reason): return "cannot merge \(files.joined(separator: ", ")): \(reason)"
        case .differentRuns(let a, let b):
            return "\(a) and \(b) are shards of different runs (model, data or settings differ)"
        }
    }
}
