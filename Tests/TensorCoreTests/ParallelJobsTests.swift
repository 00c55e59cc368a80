import Foundation
import Testing

@testable import TensorCore

/// `Parallel.jobs`: independent jobs side by side, each giving the bits it gives when run alone.
@Suite struct ParallelJobsTests {
    struct Failure: Error, Equatable { var job: Int }

    @Test func everyJobRunsOnceAndResultsComeInJobOrder() throws {
        let ran = JobOutcomes<Int>(count: 7)
        let squares = try Parallel.jobs(7) { i in
            ran.set(i, .success(i))
            return i * i
        }
        #expect(squares == (0..<7).map { $0 * $0 })
        #expect(try ran.values() == Array(0..<7))
        let pooled = try Parallel.jobs(7, atOnce: 2) { i in i + 1 }
        #expect(pooled == Array(1...7))
        #expect(try Parallel.jobs(0) { $0 }.isEmpty)
    }

    @Test func theFirstFailingJobsErrorIsRethrownAfterEveryJobRan() {
        let ran = JobOutcomes<Bool>(count: 5)
        #expect(throws: Failure(job: 1)) {
            _ = try Parallel.jobs(5) { i in
                ran.set(i, .success(true))
                if i == 3 || i == 1 { throw Failure(job: i) }
                return i
            }
        }
        #expect((try? ran.values()) == [Bool](repeating: true, count: 5))
    }

    /// A product large enough to be split across threads: inside a job it is split into the same
    /// blocks (run in order on the job's thread), so the bits equal those of the product run alone.
    @Test func aJobsKernelsGiveTheBitsOfTheSameCallRunAlone() throws {
        let a = randomTensor([300, 256], seed: 11)
        let b = randomTensor([384, 256], seed: 12)
        let alone = Gemm.matmul(a, b, transposeB: true)
        let inJobs = try Parallel.jobs(3) { _ in Gemm.matmul(a, b, transposeB: true) }
        for product in inJobs {
            #expect(product.data.map(\.bitPattern) == alone.data.map(\.bitPattern))
        }
    }

    /// Inside a job, `forEach` makes the chunks `threads` workers would get and runs them in order on
    /// the job's own thread, each as inside a region (so a nested call stays whole, as on a worker).
    @Test func insideAJobChunksRunInOrderOnTheJobsThread() throws {
        let chunking = try Parallel.jobs(2) { _ -> (ranges: [Range<Int>], oneThread: Bool, nested: Bool) in
            let me = pthread_self()
            var ranges: [Range<Int>] = []
            var oneThread = true
            var nested = true
            Parallel.forEach(1000, grain: 10) { range in
                ranges.append(range)
                oneThread = oneThread && pthread_equal(pthread_self(), me) != 0
                nested = nested && Parallel.isInsideRegion
            }
            return (ranges, oneThread, nested)
        }
        let workers = min(Parallel.threads, 100)
        let step = (1000 + workers - 1) / workers
        let expected = stride(from: 0, to: 1000, by: step).map { $0..<min(1000, $0 + step) }
        for job in chunking {
            #expect(job.ranges == expected)
            #expect(job.oneThread)
            #expect(job.nested || workers == 1)
        }
    }
}
