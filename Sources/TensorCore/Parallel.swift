import Dispatch
import Foundation

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#endif

/// Parallel-for over the outermost loop of a kernel.
///
/// Kernels split their rows into chunks and run them with `DispatchQueue.concurrentPerform`.
/// Tests can force the serial path for themselves (`Parallel.withSerial { … }`) to compare results. OpenBLAS runs
/// single-threaded inside these threads (see `BLAS`), so the cores are never oversubscribed.
public enum Parallel {
    /// Worker count for Swift kernels and matrix products. Defaults to `EXPERTLOCK_THREADS` when
    /// that is a positive integer, else the active processor count: two jobs sharing a machine
    /// (two experiment variants side by side) each take their share instead of oversubscribing.
    nonisolated(unsafe) public static var threads: Int = defaultThreads(
        environment: ProcessInfo.processInfo.environment,
        processors: ProcessInfo.processInfo.activeProcessorCount)
    /// Set by `withSerial` for the calling task and everything it calls: a test that compares the
    /// serial path with the parallel one forces it for itself only. A process-wide switch would
    /// also serialise (or un-serialise) suites running beside it, so a serial-vs-parallel test
    /// could end up comparing parallel with parallel.
    @TaskLocal public static var forcedSerial = false

    /// Whether kernels called from here run on the calling thread (`withSerial`).
    @inlinable public static var isSerial: Bool { forcedSerial }

    /// Set by `jobs` for each job: kernels split their work exactly as with `threads` workers (the
    /// same chunks, so the same bits) but run the chunks one after another on the job's own thread,
    /// each marked as inside a region as a worker's would be. The jobs beside it use the other cores.
    @TaskLocal public static var chunksInOrder = false

    /// Runs `body` with every kernel it calls on the calling thread: the reference order of
    /// operations, for tests that compare it with the parallel one.
    public static func withSerial<R>(_ body: () throws -> R) rethrows -> R {
        try $forcedSerial.withValue(true) { try body() }
    }

    /// Runs `body` over `0..<count` split into contiguous ranges; ranges are disjoint so the
    /// body may write to disjoint output rows without synchronisation.
    /// `grain` is the minimum number of items per chunk, chosen so that a chunk is worth a thread.
    /// A call made from inside another parallel region (a kernel called per attention head, say)
    /// runs serially: the outer loop already occupies the cores.
    @inlinable
    public static func forEach(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let workers = isSerial || isInsideRegion ? 1 : min(threads, max(1, count / max(1, grain)))
        if workers <= 1 {
            body(0..<count)
            return
        }
        let chunks = workers
        let step = (count + chunks - 1) / chunks
        let noGradients = Variable.gradientsDisabled
        if chunksInOrder {
            for c in 0..<chunks where c * step < count {
                runInsideRegion(noGradients: noGradients) { body(c * step..<min(count, c * step + step)) }
            }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            // The chunks write disjoint rows, so sharing the closure across threads is safe.
            let shared = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * step
                let hi = min(count, lo + step)
                if lo < hi { runInsideRegion(noGradients: noGradients) { shared.value(lo..<hi) } }
            }
        }
    }

    /// Runs `body(i)` for every i in `order` on up to `threads` workers that each take the next
    /// item when they finish one (dynamic scheduling): for a few items of unequal cost, such as the
    /// experts of an MoE layer. Put the costliest first. Serial inside another region.
    public static func forEachItem(in order: [Int], _ body: (Int) -> Void) {
        let workers = isSerial || isInsideRegion ? 1 : min(threads, order.count)
        if workers <= 1 {
            for i in order { body(i) }
            return
        }
        let noGradients = Variable.gradientsDisabled
        if chunksInOrder {
            for i in order { runInsideRegion(noGradients: noGradients) { body(i) } }
            return
        }
        let next = ItemCounter()
        withoutActuallyEscaping(body) { escapable in
            // Every item runs once, on one worker; the body's writes are the caller's to keep disjoint.
            let shared = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                runInsideRegion(noGradients: noGradients) {
                    while let position = next.take(below: order.count) { shared.value(order[position]) }
                }
            }
        }
    }

    /// The worker count `EXPERTLOCK_THREADS` asks for (a positive integer), else `processors`.
    public static func defaultThreads(environment: [String: String], processors: Int) -> Int {
        if let text = environment["EXPERTLOCK_THREADS"], let n = Int(text.trimmingCharacters(in: .whitespaces)), n > 0 {
            return n
        }
        return max(1, processors)
    }

    /// True on a thread that is running a chunk of a parallel region.
    public static var isInsideRegion: Bool { pthread_getspecific(regionKey) != nil }

    /// Thread-local marker of threads running a chunk (pthread key: cheap, works on GCD threads).
    static let regionKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `body` with the current thread marked as inside a parallel region, in the caller's
    /// gradient mode (`withoutGradients` is per thread; workers take the mode of the region's caller).
    @usableFromInline
    static func runInsideRegion(noGradients: Bool = false, _ body: () -> Void) {
        let previous = pthread_getspecific(regionKey)
        pthread_setspecific(regionKey, UnsafeRawPointer(bitPattern: 1))
        Variable.withGradientsDisabled(noGradients, body)
        pthread_setspecific(regionKey, previous)
    }
}

/// The next unclaimed position of a work list, shared by the workers of `forEachItem`.
final class ItemCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()

    /// Claims the next position, or nil when all `count` are taken.
    func take(below count: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < count else { return nil }
        value += 1
        return value - 1
    }
}

/// Carries a value across a `@Sendable` boundary where the caller guarantees data-race freedom
/// (kernels whose parallel chunks touch disjoint memory).
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    @inlinable public init(_ value: T) { self.value = value }
}
