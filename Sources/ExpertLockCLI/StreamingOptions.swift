import ArgumentParser
import Foundation
import MoEModels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--stream-layers` for commands that run a whole corpus through a model (`attribute`, `eval`).
struct StreamingOptions: ParsableArguments {
    @Flag(
        help: """
            Larger than memory: run the corpus layer by layer (every batch through layer l, then l+1), reading \
            the checkpoint with pread instead of mapping it, so only one layer's weights are in memory. Same results.
            """)
    var streamLayers = false
    @Option(help: "With --stream-layers: hidden states above this many MB go to a temporary file between layers.")
    var streamActivationsMb = 256
    @Option(
        help: """
            With --stream-layers: layers read ahead of the one computing, on a background thread (0: read each \
            layer when it starts). Memory holds up to this many + 1 layers' stored bytes.
            """)
    var streamReadAhead = 1

    var parameters: LayerStreaming.Parameters {
        LayerStreaming.Parameters(
            activationBudgetBytes: max(0, streamActivationsMb) << 20, readAhead: max(0, streamReadAhead))
    }

    /// Loads the model for streaming: every weight read on use, nothing mapped.
    func load(_ directory: String) throws -> MoEModel {
        try ModelLoader.load(directory: URL(fileURLWithPath: directory), residency: .read)
    }

    /// Prints each finished stage on stderr with the time since the pass began and an ETA from
    /// the stages left (stages take about the same time: one layer's weights and every batch).
    func report(_ label: String) -> (LayerStreaming.Progress) -> Void {
        let start = Date()
        return { progress in
            Console.progress(
                Self.line(
                    label, stage: progress.stage, of: progress.stages, name: progress.name,
                    elapsed: Date().timeIntervalSince(start)))
        }
    }

    static func line(_ label: String, stage: Int, of stages: Int, name: String, elapsed: Double) -> String {
        let eta = stage > 0 ? ProgressLine.duration(elapsed / Double(stage) * Double(stages - stage)) : "unknown"
        return "\(label): \(name) (\(stage)/\(stages)), \(ProgressLine.duration(elapsed)) elapsed, ETA \(eta)"
    }
}
