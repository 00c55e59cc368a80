import Foundation

/// Runs one job at a time on a dedicated thread so the caller can stop waiting: a parse that
/// takes longer than the timeout is reported as a hang instead of stalling the whole run.
///
/// The thread is created once (not per input) with an explicit stack size, so deep recursion in
/// a parser overflows at the same depth as on the main thread of `expertlock`.
final class TimedWorker: @unchecked Sendable {
    private let start = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Written by the caller before `start.signal()`, read by the worker after `start.wait()`.
    private var job: (() -> Void)?

    init(stackSize: Int) {
        let thread = Thread { [self] in
            while true {
                start.wait()
                job?()
                job = nil
                finished.signal()
            }
        }
        thread.stackSize = stackSize
        thread.name = "expertlock-fuzz worker"
        thread.start()
    }

    /// Starts `job`; true when it finished within `timeout` seconds.
    func run(timeout: Double, _ job: @escaping () -> Void) -> Bool {
        self.job = job
        start.signal()
        return finished.wait(timeout: .now() + timeout) == .success
    }

    /// After a timeout: waits up to `seconds` more for the job to finish.
    func waitLonger(_ seconds: Double) -> Bool {
        finished.wait(timeout: .now() + seconds) == .success
    }
}
