import Foundation

extension Parallel {
    /// Runs `count` independent jobs side by side, each on a thread of its own, and returns their
    /// results in job order.
    ///
    /// Why: a tiny model's kernels keep two cores only partly busy (the demo's audit runs at about 1.1
    /// cores' worth on 2), while several such jobs that do not depend on each other (three models to
    /// train, two audits, twelve re-alignment runs) keep every core busy. Inside a job the kernels
    /// split their work into the same chunks as with `threads` workers and run them in order on the
    /// job's thread (`chunksInOrder`), so every job gives the same bits as when run alone: a result
    /// never depends on what ran beside it.
    ///
    /// - `atOnce`: how many jobs run at a time (default: all of them, so a few jobs of unequal length
    ///   finish together while the OS shares the cores; a pool of `threads` suits many equal jobs,
    ///   whose workers each take the next job when they finish one).
    /// - With one thread, inside a region, a job or `withSerial`, or with `atOnce` 1, the jobs
    ///   run one after another on the calling thread, as plain calls.
    /// - Every job runs even when one throws; the error of the lowest-numbered failing job is rethrown.
    public static func jobs<T>(_ count: Int, atOnce: Int? = nil, _ job: @escaping (Int) throws -> T) throws -> [T] {
        guard count > 0 else { return [] }
        let workers = min(count, max(1, atOnce ?? count))
        if threads <= 1 || isSerial || isInsideRegion || chunksInOrder || workers == 1 {
            let outcomes = (0..<count).map { i in Result { try job(i) } }
            return try outcomes.map { try $0.get() }
        }
        let outcomes = JobOutcomes<T>(count: count)
        let next = ItemCounter()
        let noGradients = Variable.gradientsDisabled
        let finished = DispatchGroup()
        // Each job writes only its own slot of `outcomes` (under its lock); the caller waits for all.
        let shared = UncheckedSendable(job)
        for _ in 0..<workers {
            finished.enter()
            let thread = Thread {
                Variable.withGradientsDisabled(noGradients) {
                    $chunksInOrder.withValue(true) {
                        while let i = next.take(below: count) { outcomes.set(i, Result { try shared.value(i) }) }
                    }
                }
                finished.leave()
            }
            // The main thread's size: a deep backward pass must not find a smaller stack here.
            thread.stackSize = 8 << 20
            thread.start()
        }
        finished.wait()
        return try outcomes.values()
    }
}

/// The results of `Parallel.jobs`, one slot per job, written from the job threads.
final class JobOutcomes<T>: @unchecked Sendable {
    private var slots: [Result<T, any Error>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ outcome: Result<T, any Error>) {
        lock.lock()
        slots[i] = outcome
        lock.unlock()
    }

    /// Every job's value in order, or the first error by job index.
    func values() throws -> [T] {
        lock.lock()
        defer { lock.unlock() }
        return try slots.map { try $0!.get() }
    }
}
