import Foundation

/// The one progress renderer of the command line: lines on stderr with rate and ETA, at most a few
/// per second, for every long run (attribution, sweeps, traces, evaluation).
///
/// Rate and ETA count only the work this process did: a resumed run starts with batches (and
/// tokens) done by the killed one, and counting them over this run's seconds gave "27859174
/// tokens/s, ETA 0s" right after `--resume`. `resumed(done:tokens:)` sets that starting point.
final class ProgressLine {
    let label: String
    private(set) var start = Date()
    private var lastPrint = Date.distantPast
    let quiet: Bool
    /// What `update`'s count measures, per second ("tokens", or a sweep's "points").
    let unit: String
    private var baseDone = 0
    private var baseTokens: Int64 = 0

    init(_ label: String, quiet: Bool = false, unit: String = "tokens") {
        self.label = label
        self.quiet = quiet
        self.unit = unit
    }

    /// Seconds since this process's part of the run began (never 0: rates divide by it).
    var elapsed: Double { max(Date().timeIntervalSince(start), 1e-9) }

    /// Progress counted in `unit`s only (windows, examples, batches): the rate is items per second.
    func update(_ done: Int, of total: Int) {
        update(done: done, total: total, tokens: Int64(done))
    }

    /// The work a resumed run starts from (done by an earlier process): excluded from rate and ETA.
    func resumed(done: Int, tokens: Int64) {
        baseDone = done
        baseTokens = tokens
        start = Date()
    }

    func update(done: Int, total: Int, tokens: Int64, force: Bool = false) {
        guard !quiet else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastPrint) > 0.5 || done == total else { return }
        lastPrint = now
        Console.progress(
            Self.line(
                label: label, done: done, total: total, unit: unit, elapsed: now.timeIntervalSince(start),
                doneHere: done - baseDone, unitsHere: tokens - baseTokens))
    }

    /// "label: 3/10, 1200 tokens/s, 4s elapsed, ETA 9s"; the ETA is "unknown" until this process
    /// has finished some work to time.
    static func line(
        label: String, done: Int, total: Int, unit: String, elapsed: Double, doneHere: Int, unitsHere: Int64
    ) -> String {
        let rate = elapsed > 0 && doneHere > 0 ? Double(unitsHere) / elapsed : 0
        let eta = doneHere > 0 ? duration(elapsed / Double(doneHere) * Double(total - done)) : "unknown"
        return String(format: "%@: %d/%d, %.\(rate < 10 ? 2 : 0)f %@/s, ", label, done, total, rate, unit)
            + "\(duration(elapsed)) elapsed, ETA \(eta)"
    }

    /// "42s", "3m07s", "2h05m".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600
            ? "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m"
            : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
