import Foundation

/// Progress of jobs that run side by side (`Parallel.jobs`): each job reports its own fraction from its
/// own thread, and `report` sees their mean, one call at a time, so a progress line written by the
/// caller never interleaves.
final class JobProgress: @unchecked Sendable {
    private var fractions: [Double]
    private let lock = NSLock()
    private let report: (Double) -> Void

    init(jobs: Int, report: @escaping (Double) -> Void) {
        fractions = Array(repeating: 0, count: max(1, jobs))
        self.report = report
    }

    /// Records how far `job` is (0...1) and reports the mean over all jobs.
    func update(job: Int, fraction: Double) {
        lock.lock()
        defer { lock.unlock() }
        fractions[job] = min(1, max(0, fraction))
        report(fractions.reduce(0, +) / Double(fractions.count))
    }
}
