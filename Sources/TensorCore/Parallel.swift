import Dispatch
import Foundation

/// Parallel-for over the outermost loop of a kernel.
///
/// Kernels split their rows into chunks and run them with `DispatchQueue.concurrentPerform`.
/// Tests can force the serial path (`Parallel.isSerial = true`) to compare results, and the
/// BLAS threads are kept apart from these threads by `BLAS.setThreads`.
public enum Parallel {
    /// Worker count for Swift kernels (defaults to the active processor count).
    nonisolated(unsafe) public static var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// When true every kernel runs on the calling thread.
    nonisolated(unsafe) public static var isSerial = false

    /// Runs `body` over `0..<count` split into contiguous ranges; ranges are disjoint so the
    /// body may write to disjoint output rows without synchronisation.
    /// `grain` is the minimum number of items per chunk, chosen so that a chunk is worth a thread.
    @inlinable
    public static func forEach(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let workers = isSerial ? 1 : min(threads, max(1, count / max(1, grain)))
        if workers <= 1 {
            body(0..<count)
            return
        }
        let chunks = workers
        let step = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { escapable in
            // The chunks write disjoint rows, so sharing the closure across threads is safe.
            let shared = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * step
                let hi = min(count, lo + step)
                if lo < hi { shared.value(lo..<hi) }
            }
        }
    }
}

/// Carries a value across a `@Sendable` boundary where the caller guarantees data-race freedom
/// (kernels whose parallel chunks touch disjoint memory).
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    @inlinable public init(_ value: T) { self.value = value }
}
