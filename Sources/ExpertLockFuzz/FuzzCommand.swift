import ArgumentParser
import Foundation

/// `expertlock-fuzz`: mutation fuzzing of ExpertLock's parsers (fuzz/README.md).
@main
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expertlock-fuzz",
        abstract: "Fuzz one of ExpertLock's parsers with seeded mutations of a seed corpus.",
        discussion: """
            Targets: \(FuzzTarget.all.map(\.name).joined(separator: ", ")) (--list describes them).
            A thrown error is a pass; a crash, trap, hang (> --timeout s), invariant violation or peak memory
            above --rss-limit-mb is a finding. Before each input the runner writes it to
            <crash-dir>/<target>-current, so a crash leaves it behind; replay it with --replay.
            Exit code: 0 nothing found, 1 findings, 2 bad arguments, 3 a hang that never ended.
            """)

    @Argument(help: "The parser to fuzz.") var target: String?
    @Flag(help: "List the targets and exit.") var list = false
    @Option(help: "Mutated inputs to run (after the seeds themselves).") var iterations = 100_000
    @Option(help: "Seed of the mutation sequence; the same seed and corpus give the same inputs.") var seed: UInt64 = 1
    @Option(help: "Seed corpus folder (repeatable); default fuzz/corpus/<target>.") var corpus: [String] = []
    @Option(help: "Seconds one input may take before it is reported as a hang.") var timeout = 2.0
    @Option(help: "Largest mutated input in bytes.") var maxSize = 128 * 1024
    @Option(help: "Peak resident memory (MB) that counts as an allocation driven by the input.") var rssLimitMb = 2048
    @Option(help: "Where crashing, hanging and violating inputs are saved.") var crashDir = "fuzz/crashes"
    @Option(help: "Run these files (or every file in these folders) once each and report each outcome.")
    var replay: [String] = []
    @Flag(help: "Print the summary as one JSON object.") var json = false
    @Flag(help: "List every kind of refusal seen (error type, case and message shape).") var showRefusals = false
    @Flag(help: "Hand over to libFuzzer (a build with -sanitize=fuzzer); arguments after -- go to libFuzzer.")
    var libfuzzer = false
    @Argument(parsing: .postTerminator, help: "libFuzzer arguments (with --libfuzzer).") var libFuzzerArguments:
        [String] = []

    func run() throws {
        if list || target == nil {
            for t in FuzzTarget.all {
                print("\(t.name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(t.summary)")
            }
            return
        }
        guard let name = target, let fuzzTarget = FuzzTarget.named(name) else {
            throw ValidationError(
                "unknown target '\(target ?? "")'; one of: \(FuzzTarget.all.map(\.name).joined(separator: ", "))")
        }
        if libfuzzer {
            guard let status = try LibFuzzerDriver.run(fuzzTarget, arguments: libFuzzerArguments) else {
                throw ValidationError(
                    "this build has no libFuzzer: build with -Xswiftc -sanitize=fuzzer (fuzz/README.md)")
            }
            throw ExitCode(status)
        }
        if !replay.isEmpty {
            try Replay.run(fuzzTarget, paths: replay, timeout: timeout)
            return
        }
        var options = FuzzRunner.Options()
        options.iterations = iterations
        options.seed = seed
        options.timeout = timeout
        options.maxSize = maxSize
        options.rssLimitMB = rssLimitMb
        options.crashDirectory = crashDir
        let seeds = try FuzzRunner.loadCorpus(corpus.isEmpty ? ["fuzz/corpus/\(name)"] : corpus)
        let report = try FuzzRunner(target: fuzzTarget, seeds: seeds, options: options).run()
        print(json ? report.json : report.text)
        if showRefusals { report.refusalKinds.sorted().forEach { print("  refusal: \($0)") } }
        if report.foundBugs { throw ExitCode(1) }
    }
}
