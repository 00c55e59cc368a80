import Foundation
import Testing

@testable import ExpertLock

struct ShardTests {
    @Test(arguments: [0, 1, 2, 5, 7, 100])
    func shardsCoverEveryItemOnceInOrder(_ total: Int) throws {
        for count in 1...6 {
            let ranges = try (0..<count).map { try Shard(index: $0, count: count).range(of: total) }
            #expect(ranges.flatMap { Array($0) } == Array(0..<total))
            #expect(ranges.map(\.count).max()! - ranges.map(\.count).min()! <= 1)
        }
    }

    @Test func parsingAndCompleteness() throws {
        #expect(try Shard(parsing: "2/3") == Shard(index: 2, count: 3))
        for bad in ["3/3", "-1/3", "1/0", "1", "a/b", "1/2/3", ""] {
            #expect(throws: ShardError.self) { try Shard(parsing: bad) }
        }
        let all = try (0..<3).map { try Shard(index: $0, count: 3) }
        try Shard.checkComplete(all.reversed(), files: ["a", "b", "c"])
        #expect(throws: ShardError.self) { try Shard.checkComplete(Array(all.prefix(2)), files: ["a", "b"]) }
        #expect(throws: ShardError.self) { try Shard.checkComplete(all + [all[0]], files: ["a", "b", "c", "d"]) }
    }
}
