import Foundation
import TensorCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The seeded mutation loop: pick an input from the pool (seed corpus plus inputs that reached
/// a new outcome), mutate it, save it as the current input, parse it on the timed worker,
/// classify the outcome. Crashes end the process with the input saved; hangs, invariant
/// violations and runaway memory are saved and reported.
struct FuzzRunner {
    struct Options {
        var iterations = 100_000
        var seed: UInt64 = 1
        var timeout = 2.0
        /// After a timeout, how long to keep waiting before declaring a hang and exiting.
        var hangLimit = 60.0
        var maxSize = 128 * 1024
        /// Total bytes of the remembered inputs (seeds included); see `InputPool`.
        var poolBytes = 32 << 20
        var rssLimitMB = 2048
        var stackSize = 8 << 20
        var crashDirectory = "fuzz/crashes"
        var progressInterval = 10.0
    }

    /// Counts and timings of one run.
    struct Report {
        var target = ""
        var inputs = 0
        var seconds = 0.0
        var seeds = 0
        var pool = 0
        var accepted = 0
        var refused = 0
        var refusalKinds: Set<String> = []
        var unexpectedErrors: [String: String] = [:]  // signature -> first description
        var unexpectedCount = 0
        var slow: [String] = []  // saved inputs that took longer than the timeout
        var violations: [String] = []  // saved inputs
        var peakRSSMB = 0
        var memoryRunaway: String?

        var foundBugs: Bool { !slow.isEmpty || !violations.isEmpty || memoryRunaway != nil }
    }

    let target: FuzzTarget
    let seeds: [[UInt8]]
    let options: Options

    func run() throws -> Report {
        try FileManager.default.createDirectory(atPath: options.crashDirectory, withIntermediateDirectories: true)
        let scratch = try FuzzScratch()
        defer { scratch.remove() }
        try target.setUp(scratch)
        let current = try CurrentInputFile(path: "\(options.crashDirectory)/\(target.name)-current")
        let worker = TimedWorker(stackSize: options.stackSize)
        var mutator = Mutator(seed: options.seed, grammar: target.grammar, corpus: seeds, maxSize: options.maxSize)
        var pool = InputPool(seeds: seeds, maxBytes: options.poolBytes)
        var seen: Set<String> = []
        var report = Report(target: target.name, seeds: seeds.count)
        let start = Date()
        var lastProgress = start

        for i in 0..<(seeds.count + options.iterations) {
            // The seeds themselves first, then mutants.
            let input: [UInt8]
            if i < seeds.count {
                input = seeds[i]
            } else {
                let base = pool[mutator.below(pool.count)]
                let partner = pool[mutator.below(pool.count)]
                input = mutator.mutate(base, partner: partner)
            }
            current.store(input)
            let data = Data(input)
            nonisolated(unsafe) var outcome = FuzzOutcome.accepted
            let began = Date()
            if !worker.run(timeout: options.timeout, { outcome = FuzzOutcome.of(target, data, scratch) }) {
                let saved = save(input, as: "hang-\(i)")
                FileHandle.standardError.write(
                    Data(
                        "\(target.name): input \(i) still running after \(options.timeout) s; saved as \(saved)\n".utf8)
                )
                guard worker.waitLonger(options.hangLimit) else {
                    FileHandle.standardError.write(
                        Data(
                            "\(target.name): input \(i) did not finish in \(options.hangLimit) s: a hang. Stopping.\n"
                                .utf8))
                    exit(3)
                }
                report.slow.append("\(saved) (\(String(format: "%.1f", Date().timeIntervalSince(began))) s)")
            }
            report.inputs += 1
            switch outcome {
            case .accepted:
                report.accepted += 1
                if i >= seeds.count && mutator.below(8) == 0 { pool.remember(input, &mutator) }
            case .refused(let signature):
                report.refused += 1
                report.refusalKinds.insert(signature)
                if seen.insert(signature).inserted { pool.remember(input, &mutator) }
            case .unexpectedError(let signature, let description):
                report.unexpectedCount += 1
                if report.unexpectedErrors[signature] == nil {
                    report.unexpectedErrors[signature] =
                        "\(description) [saved as \(save(input, as: "unexpected-\(i)"))]"
                    pool.remember(input, &mutator)
                }
            case .violation(let message):
                let saved = save(input, as: "violation-\(i)")
                report.violations.append("\(saved): \(message)")
                FileHandle.standardError.write(
                    Data("\(target.name): invariant violated by input \(i) (\(saved)): \(message)\n".utf8))
            }
            let rss = Self.peakRSSMB()
            report.peakRSSMB = rss
            if rss > options.rssLimitMB && report.memoryRunaway == nil {
                report.memoryRunaway = save(input, as: "memory-\(i)")
                FileHandle.standardError.write(
                    Data(
                        ("\(target.name): peak memory \(rss) MB after input \(i) "
                            + "(saved as \(report.memoryRunaway ?? ""))\n").utf8))
                break
            }
            if Date().timeIntervalSince(lastProgress) >= options.progressInterval {
                lastProgress = Date()
                let elapsed = lastProgress.timeIntervalSince(start)
                FileHandle.standardError.write(
                    Data(
                        String(
                            format:
                                "%@: %d inputs, %.0f s, %.0f/s, pool %d (%.1f MB), accepted %d, refused %d (%d "
                                + "kinds)\n",
                            target.name, report.inputs, elapsed, Double(report.inputs) / elapsed, pool.count,
                            Double(pool.bytes) / 1_048_576, report.accepted,
                            report.refused, report.refusalKinds.count
                        ).utf8))
            }
        }
        report.seconds = Date().timeIntervalSince(start)
        report.pool = pool.count
        current.discard()
        return report
    }

    private func save(_ input: [UInt8], as suffix: String) -> String {
        let path = "\(options.crashDirectory)/\(target.name)-\(suffix)"
        _ = FileManager.default.createFile(atPath: path, contents: Data(input))
        return path
    }

    /// Peak resident memory of this process so far (Linux reports kilobytes, macOS bytes).
    static func peakRSSMB() -> Int {
        var usage = rusage()
        #if os(macOS)
            getrusage(RUSAGE_SELF, &usage)
            return Int(usage.ru_maxrss) >> 20
        #else
            getrusage(RUSAGE_SELF.rawValue, &usage)  // Glibc imports RUSAGE_SELF as an enum case
            return Int(usage.ru_maxrss) >> 10
        #endif
    }

    /// Seed inputs: every regular file in the given folders (sorted by name, hidden files skipped).
    static func loadCorpus(_ directories: [String]) throws -> [[UInt8]] {
        var inputs: [[UInt8]] = []
        for directory in directories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
                throw FuzzError("\(directory): no such corpus folder")
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                var isDirectory: ObjCBool = false
                let path = "\(directory)/\(name)"
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    let data = FileManager.default.contents(atPath: path)
                else { continue }
                inputs.append(Array(data))
            }
        }
        guard !inputs.isEmpty else { throw FuzzError("\(directories.joined(separator: ", ")): no seed inputs") }
        return inputs
    }
}
