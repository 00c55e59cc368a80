import ArgumentParser
import Foundation
import MoEModels
import TensorCore

// What `bench forward` and `bench train` share: the model options, the built-in configs, a
// random initialisation, the FLOP count and the timing loop. `scripts/bench/pytorch_reference.py`
// mirrors the configs and the FLOP formula; keep the two in step.

/// Options of the model benchmarks.
struct BenchModelOptions: ParsableArguments {
    @OptionGroup var configOption: ConfigOption
    @OptionGroup var forwardBatch: ForwardBatchOption
    @OptionGroup var sequenceLength: SequenceLengthOption
    @OptionGroup var threadsOption: ThreadsOption
    @Option(help: "Untimed iterations first.") var warmup = 2
    @Option(help: "Timed iterations (the median is reported).") var iterations = 10
    @OptionGroup var seedOption: SeedOption

    func validate() throws {
        guard batch > 0, seq > 0 else { throw ValidationError("--batch and --seq must be positive") }
        guard iterations > 0, warmup >= 0 else { throw ValidationError("--iterations must be positive, --warmup ≥ 0") }
    }

    /// Applies `--threads` to the Swift kernels and to `Gemm` (OpenBLAS itself stays at one thread).
    func applyThreads() { threadsOption.apply() }
    var threads: Int? { threadsOption.threads }
    var config: String { configOption.config ?? "A" }
    var seq: Int { sequenceLength.seq ?? 256 }
    var batch: Int { forwardBatch.batch ?? 8 }
    var seed: UInt64 { seedOption.seed }

    /// The model config: a built-in name or a `config.json` file.
    func modelConfig() throws -> ModelConfig {
        if let builtin = BenchModelFactory.builtin(config) { return builtin }
        guard FileManager.default.fileExists(atPath: config) else {
            throw ArgumentInputError("\(config): neither a built-in config (A, B) nor an existing config.json")
        }
        return try ModelConfig.load(from: URL(fileURLWithPath: config))
    }
}

/// Random models for throughput measurements: the built-in configs and a seeded initialisation.
///
/// Weights have the scale of transformers' `_init_weights` for these families: standard deviation
/// 0.02 for every matrix (`initializer_range`; uniform on ±0.02·√3 rather than normal, which is
/// ten times cheaper to draw and makes no difference to throughput), ones for the norm weights,
/// zeros for biases. A plausible scale keeps routing spread over the experts as in a trained model
/// rather than collapsing onto one.
enum BenchModelFactory {
    /// Config A: vocab 8000, hidden 512, intermediate 1024, 4 layers, 8 heads, 4 KV heads, 8 experts,
    /// top-2. Config B: the same with hidden 128, intermediate 256, vocab 2000. Mixtral family.
    static func builtin(_ name: String) -> ModelConfig? {
        switch name.uppercased() {
        case "A":
            return mixtral(vocab: 8000, hidden: 512, intermediate: 1024)
        case "B":
            return mixtral(vocab: 2000, hidden: 128, intermediate: 256)
        default:
            return nil
        }
    }

    static func mixtral(vocab: Int, hidden: Int, intermediate: Int) -> ModelConfig {
        ModelConfig(
            modelType: ModelFamily.mixtral.rawValue, vocabSize: vocab, hiddenSize: hidden,
            intermediateSize: intermediate,
            numHiddenLayers: 4, numAttentionHeads: 8, numKeyValueHeads: 4, numExperts: 8, numExpertsPerToken: 2,
            rmsNormEps: 1e-5, ropeTheta: 10_000)
    }

    /// A model with every weight resident and frozen (inference builds no graph).
    static func randomModel(_ config: ModelConfig, seed: UInt64, trainable: Bool = false) throws -> MoEModel {
        try config.validate()
        var rng = SplitMix64(seed: seed)
        return try MoEModel(config: config) { name, shape in
            let count = Tensor.count(of: shape)
            let value: Tensor
            if name.hasSuffix("norm.weight") || name.hasSuffix("layernorm.weight") {
                value = Tensor(shape: shape, repeating: 1)
            } else if name.hasSuffix(".bias") {
                value = Tensor.zeros(shape)
            } else {
                let bound = Float(0.02 * 3.0.squareRoot())
                value = Tensor(shape: shape, data: (0..<count).map { _ in bound * (2 * rng.nextFloat() - 1) })
            }
            return Parameter(name: name, value: value, trainable: trainable)
        }
    }

    /// Next-token targets of a batch: row b*T + t predicts token t + 1; each sequence's last row
    /// has none (-100, ignored), as transformers' shifted causal-LM loss.
    static func nextTokenTargets(_ batch: TokenBatch) -> [Int] {
        (0..<batch.tokenCount).map { r in r % batch.seq == batch.seq - 1 ? -100 : batch.ids[r + 1] }
    }

    /// Uniform random token ids [B*T].
    static func randomBatch(_ config: ModelConfig, batch: Int, seq: Int, seed: UInt64) -> TokenBatch {
        var rng = SplitMix64(seed: seed ^ 0x5EED)
        let ids = (0..<(batch * seq)).map { _ in Int(rng.next() % UInt64(config.vocabSize)) }
        return TokenBatch(ids: ids, batch: batch, seq: seq)
    }
}

/// The FLOPs of one forward pass, counted the standard way.
///
/// forward = 2 · active_params · tokens + attention, where
/// - active_params = Σ_layers (q, k, v, o projections + router + K experts' gate/up/down + shared
///   expert and its gate) + lm_head; the embedding lookup and norm weights are not products;
/// - attention = Σ_layers B · H · 4 · D · T(T+1)/2: q·kᵀ and P·v over the causal half only (the
///   keys a query actually sees), 2 FLOPs per multiply-add.
/// A train step counts 3 × forward (the backward costs two forwards).
struct BenchFlops {
    let activeParametersPerToken: Int
    let parameters: Int
    let forwardFlops: Double

    init(config: ModelConfig, model: MoEModel, batch: Int, seq: Int) {
        let c = config.hiddenSize, h = config.numAttentionHeads, kv = config.numKeyValueHeads, d = config.headDim
        let attention = c * h * d + 2 * c * kv * d + h * d * c
        var active = 0
        for layer in model.layers {
            active += attention
            switch layer.feedForward {
            case .sparse(let block):
                let expert = 3 * c * config.moeIntermediateSize
                active += block.expertCount * c + block.topK * expert
                if let shared = block.sharedExpert { active += 3 * c * shared.intermediateSize + c }
            case .dense(let mlp):
                active += 3 * c * mlp.intermediateSize
            }
        }
        active += config.vocabSize * c  // lm_head
        activeParametersPerToken = active
        parameters = model.parameters.reduce(0) { $0 + $1.elementCount }
        let tokens = Double(batch * seq)
        let causalPairs = Double(seq * (seq + 1) / 2)
        let attentionFlops = Double(config.numHiddenLayers * batch * h * 4 * d) * causalPairs
        forwardFlops = 2 * Double(active) * tokens + attentionFlops
    }
}

/// Runs a step `warmup + iterations` times and summarises the timed ones.
struct BenchTimer {
    var seconds: [Double] = []
    /// CPU time (user + system, all threads) per timed iteration. On an idle machine it is about
    /// threads × wall time; much less means other processes took the cores and the wall-clock
    /// figures are pessimistic.
    var cpuSecondsPerIteration: Double = 0

    static func measure(warmup: Int, iterations: Int, _ step: () throws -> Void) rethrows -> BenchTimer {
        for _ in 0..<warmup { try step() }
        var timer = BenchTimer()
        let cpu0 = processCPUSeconds()
        for _ in 0..<iterations {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try step()
            timer.seconds.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        timer.cpuSecondsPerIteration = (processCPUSeconds() - cpu0) / Double(max(1, iterations))
        return timer
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        #if canImport(Darwin)
            getrusage(RUSAGE_SELF, &usage)
        #else
            getrusage(RUSAGE_SELF.rawValue, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    var median: Double {
        let s = seconds.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var best: Double { seconds.min() ?? .nan }
    var mean: Double { seconds.reduce(0, +) / Double(max(1, seconds.count)) }
}
