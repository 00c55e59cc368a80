import ArgumentParser
import Foundation
import MoEModels
import TensorCore

/// `expertlock bench forward`: inference throughput of a randomly initialised model.
///
/// Inference mode: every weight is frozen, so the ops build no graph and intermediates are freed as
/// they go out of scope. The reported figures use the median of the timed iterations;
/// `scripts/bench/pytorch_reference.py forward` prints the same JSON for transformers.
struct ForwardBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Tokens/s and GFLOP/s of a forward pass of a random model.",
        discussion: """
            With --json prints {"tokens_per_s", "gflops", "peak_rss_bytes", "seconds_median", ...}. \
            GFLOPs = 2 · active parameters · tokens + causal attention (see BenchFlops).
            """)

    @OptionGroup var model: BenchModelOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            model.applyThreads()
            let config = try model.modelConfig()
            let network = try BenchModelFactory.randomModel(config, seed: model.seed)
            let batch = BenchModelFactory.randomBatch(config, batch: model.batch, seq: model.seq, seed: model.seed)
            let flops = BenchFlops(config: config, model: network, batch: model.batch, seq: model.seq)
            let weightsBytes = 4 * flops.parameters
            let timer = try BenchTimer.measure(warmup: model.warmup, iterations: model.iterations) {
                _ = try network.forward(batch)
            }
            let tokens = Double(batch.tokenCount)
            let result: [String: Any] = [
                "implementation": "expertlock",
                "mode": "forward",
                "config": model.config,
                "batch": model.batch,
                "seq": model.seq,
                "threads": Parallel.threads,
                "tokens": batch.tokenCount,
                "warmup": model.warmup,
                "iterations": model.iterations,
                "gemm_backend": Gemm.backend.rawValue,
                "seconds_median": timer.median,
                "seconds_best": timer.best,
                "seconds_mean": timer.mean,
                "cpu_seconds_per_iteration": timer.cpuSecondsPerIteration,
                "tokens_per_s": tokens / timer.median,
                "tokens_per_s_best": tokens / timer.best,
                "flops_per_iteration": flops.forwardFlops,
                "gflops": flops.forwardFlops / timer.median / 1e9,
                "params": flops.parameters,
                "active_params_per_token": flops.activeParametersPerToken,
                "weights_bytes": weightsBytes,
                "peak_rss_bytes": PeakMemory.residentBytes(),
            ]
            if output.json {
                try Console.printJSON(result)
            } else {
                for (key, value) in result.sorted(by: { $0.key < $1.key }) { print("\(key): \(value)") }
            }
        }
    }
}
