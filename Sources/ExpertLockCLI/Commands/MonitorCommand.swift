import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

/// `expertlock monitor`: for a model owner, which clients' routing traffic looks like
/// attribution logging (docs/MONITOR.md).
struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Flag clients whose routing traces look like expert-attribution probing.",
        discussion: """
            Reads per-request routing traces as a serving engine records them (vLLM or SGLang responses, \
            JSON or JSONL, each record with a "client" (or "user") field, or {"client", "response": {...}}), \
            groups them by client and scores each: how far its pooled top-k expert usage diverges from the \
            general traffic (--reference traces, or every other client), against pseudo-clients of as many \
            requests drawn from that traffic. A client with at least --min-requests requests whose score \
            reaches --threshold is flagged. --model needs only config.json. \
            With --json prints the report: {"clients": [{"client","requests","tokens","divergence","score",\
            "flagged","coverage","detected_after_requests"}], "flagged": [...], "threshold", ...}.
            """)

    @OptionGroup var modelPath: ModelPathOption
    @OptionGroup var tracesOption: TracesOption
    @Option(
        parsing: .upToNextOption, help: "Traces of known-general traffic to compare with (default: the other clients).")
    var reference: [String] = []
    @Option(help: "Score at which a client is flagged.") var threshold = ProbeMonitor.Parameters().threshold
    @Option(help: "Fewest requests before a client can be flagged.") var minRequests = ProbeMonitor.Parameters()
        .minRequests
    @Option(help: "Pseudo-clients drawn from the general traffic per score.") var nullSamples =
        ProbeMonitor.Parameters().nullSamples
    @OptionGroup var seedOption: SeedOption
    @Flag(help: "Skip scoring every prefix of each client's requests (no detected_after_requests).") var noOnline =
        false
    @OptionGroup var outputFile: OutputFileOptions
    @OptionGroup var output: OutputOptions

    var out: String? { outputFile.out }
    var model: String { modelPath.model }
    var traces: [String] { tracesOption.traces }
    var seed: UInt64 { seedOption.seed }

    func run() async throws {
        try await runReportingErrors {
            guard !traces.isEmpty else { throw ArgumentInputError("monitor needs --traces FILE...") }
            guard minRequests >= 1, nullSamples >= 2, threshold.isFinite else {
                throw ArgumentInputError("--min-requests must be ≥ 1, --null-samples ≥ 2 and --threshold finite")
            }
            let destination = try out.map {
                try ResumableOutput(
                    $0, layout: .atOnce(), inputs: [model] + traces + reference, resume: false,
                    overwrite: outputFile.overwrite)
            }
            let shape = RoutingShape(config: try ModelConfig.load(from: URL(fileURLWithPath: model)))
            let (traffic, referenceTraces) = try readTraces(shape: shape)
            let scores = ProbeMonitor.scores(
                traces: traffic, shape: shape, reference: reference.isEmpty ? nil : referenceTraces,
                parameters: parameters())
            let report = report(scores, requests: traffic.count)
            try destination?.writeFile(
                try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted]))
            if output.json {
                try Console.printJSON(report)
            } else {
                for s in scores.sorted(by: { $0.score > $1.score }) {
                    let figures = String(format: "score %.2f divergence %.4f", s.score, s.divergence)
                    print("\(s.flagged ? "FLAG" : "ok  ") \(s.client) \(figures) requests \(s.requests)")
                }
                if let out { print("wrote \(out)") }
            }
        }
    }

    /// The traffic (every request naming its client) and the reference traces.
    func readTraces(shape: RoutingShape) throws -> (traffic: [RoutingTrace], reference: [RoutingTrace]) {
        var traffic: [RoutingTrace] = []
        for file in traces {
            let read = try RoutingTraceReader.read(URL(fileURLWithPath: file), shape: shape)
            if let anonymous = read.first(where: { $0.client == nil }) {
                throw RoutingTraceError.malformed(
                    file: file, request: anonymous.request, reason: "no \"client\" (or \"user\") to group it by")
            }
            traffic += read
        }
        var referenceTraces: [RoutingTrace] = []
        for file in reference {
            referenceTraces += try RoutingTraceReader.read(URL(fileURLWithPath: file), shape: shape)
        }
        return (traffic, referenceTraces)
    }

    func parameters() -> ProbeMonitor.Parameters {
        var parameters = ProbeMonitor.Parameters()
        parameters.threshold = threshold
        parameters.minRequests = minRequests
        parameters.nullSamples = nullSamples
        parameters.seed = seed
        parameters.online = !noOnline
        return parameters
    }

    func report(_ scores: [ProbeMonitor.ClientScore], requests: Int) -> [String: Any] {
        let clients: [[String: Any]] = scores.map { s in
            var row: [String: Any] = [
                "client": s.client, "requests": s.requests, "tokens": s.tokens, "divergence": s.divergence,
                "score": s.score, "flagged": s.flagged, "coverage": s.coverage,
            ]
            if let n = s.detectedAfter { row["detected_after_requests"] = n }
            return row
        }
        return [
            "format": "expertlock-monitor-1", "threshold": threshold, "min_requests": minRequests,
            "null_samples": nullSamples, "seed": seed,
            "baseline": reference.isEmpty ? "other clients" : "reference",
            "requests": requests, "clients": clients, "flagged": scores.filter(\.flagged).map(\.client),
        ]
    }
}
