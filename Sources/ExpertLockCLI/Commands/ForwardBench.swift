import ArgumentParser
import Foundation
import MoEModels
import TensorCore

/// `expertlock bench forward`: inference throughput of a randomly initialised model.
///
/// Inference mode: every weight is frozen, so the ops build no graph and intermediates are freed as
/// they go out of scope. Each iteration is what `eval` does to a batch (`MoEModel.headScores`):
/// the layers in passes, and every row of a pass through the output head to its next token's
/// log-probability (the products of one [N, V] logits matrix plus a log-softmax, without holding
/// the matrix). The reported figures use the median of the timed iterations;
/// `scripts/bench/pytorch_reference.py forward` prints the same JSON for transformers, whose
/// forward computes the same next-token loss (`labels=`).
struct ForwardBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Tokens/s and GFLOP/s of a forward pass of a random model.",
        discussion: """
            With --json prints {"tokens_per_s", "gflops", "peak_rss_bytes", "seconds_median", ...}. \
            GFLOPs = 2 · active parameters · tokens + causal attention (see BenchFlops).
            """)

    @OptionGroup var model: BenchModelOptions
    @Option(
        help:
            """
            Tokens per pass through the layers (default: what eval uses, a tenth of the weights' bytes in \
            activations, at least 12 MB).
            """
    )
    var passTokens: Int?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let passTokens, passTokens < 1 { throw ValidationError("--pass-tokens must be at least 1") }
    }

    func run() async throws {
        try await runReportingErrors {
            model.applyThreads()
            let config = try model.modelConfig()
            let network = try BenchModelFactory.randomModel(config, seed: model.seed)
            let passTokens = passTokens ?? network.scoringPassTokens
            let batch = BenchModelFactory.randomBatch(config, batch: model.batch, seq: model.seq, seed: model.seed)
            let flops = BenchFlops(config: config, model: network, batch: model.batch, seq: model.seq)
            // Every row scores a token (a sequence's last row the first id, having no next one).
            let targets = BenchModelFactory.nextTokenTargets(batch).map { max(0, $0) }
            let timer = try BenchTimer.measure(warmup: model.warmup, iterations: model.iterations) {
                _ = try network.headScores(
                    batch, rows: Array(0..<batch.tokenCount), targets: targets, passTokens: passTokens)
            }
            var report = BenchReport(
                mode: "forward", options: model, tokens: batch.tokenCount, flopsPerIteration: flops.forwardFlops,
                flops: flops, timer: timer)
            report.extra["pass_tokens"] = network.sequencesPerPass(batch, passTokens: passTokens) * batch.seq
            try report.print(json: output.json)
        }
    }
}

/// `expertlock bench train`: one training step of a randomly initialised model, every weight
/// trainable: forward, next-token cross-entropy, backward, AdamW step (lr 1e-4, weight decay 0.01),
/// gradients cleared — what `scripts/bench/pytorch_reference.py train` times for transformers.
struct TrainBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Tokens/s and GFLOP/s of a training step (forward + backward + AdamW) of a random model.",
        discussion: """
            With --json prints the same fields as `bench forward`. GFLOPs = 3 × the forward's \
            (the backward costs two forwards; see BenchFlops).
            """)

    @OptionGroup var model: BenchModelOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            model.applyThreads()
            let config = try model.modelConfig()
            let network = try BenchModelFactory.randomModel(config, seed: model.seed, trainable: true)
            let batch = BenchModelFactory.randomBatch(config, batch: model.batch, seq: model.seq, seed: model.seed)
            let targets = BenchModelFactory.nextTokenTargets(batch)
            let flops = BenchFlops(config: config, model: network, batch: model.batch, seq: model.seq)
            let optimizer = AdamW(
                parameters: network.parameters.compactMap(\.residentVariable), learningRate: 1e-4, weightDecay: 0.01)
            var lastLoss: Float = .nan
            let timer = try BenchTimer.measure(warmup: model.warmup, iterations: model.iterations) {
                let out = try network.forward(batch)
                let loss = out.languageModelLoss(targets: targets)
                lastLoss = loss.value.scalar
                loss.backward()
                optimizer.step()
                optimizer.zeroGrad()
            }
            var report = BenchReport(
                mode: "train", options: model, tokens: batch.tokenCount, flopsPerIteration: 3 * flops.forwardFlops,
                flops: flops, timer: timer)
            report.extra["loss"] = Double(lastLoss)
            try report.print(json: output.json)
        }
    }
}

/// The JSON object both model benchmarks print (the fields of `pytorch_reference.py`).
struct BenchReport {
    let mode: String
    let options: BenchModelOptions
    let tokens: Int
    let flopsPerIteration: Double
    let flops: BenchFlops
    let timer: BenchTimer
    var extra: [String: Any] = [:]

    var fields: [String: Any] {
        var result: [String: Any] = [
            "implementation": "expertlock",
            "mode": mode,
            "config": options.config,
            "batch": options.batch,
            "seq": options.seq,
            "threads": Parallel.threads,
            "tokens": tokens,
            "warmup": options.warmup,
            "iterations": options.iterations,
            "gemm_backend": Gemm.backend.rawValue,
            "seconds_median": timer.median,
            "seconds_best": timer.best,
            "seconds_mean": timer.mean,
            "cpu_seconds_per_iteration": timer.cpuSecondsPerIteration,
            "tokens_per_s": Double(tokens) / timer.median,
            "tokens_per_s_best": Double(tokens) / timer.best,
            "flops_per_iteration": flopsPerIteration,
            "gflops": flopsPerIteration / timer.median / 1e9,
            "params": flops.parameters,
            "active_params_per_token": flops.activeParametersPerToken,
            "weights_bytes": 4 * flops.parameters,
            "peak_rss_bytes": PeakMemory.residentBytes,
        ]
        for (key, value) in extra { result[key] = value }
        return result
    }

    func print(json: Bool) throws {
        let result = fields
        if json {
            try Console.printJSON(result)
        } else {
            for (key, value) in result.sorted(by: { $0.key < $1.key }) { Swift.print("\(key): \(value)") }
        }
    }
}
