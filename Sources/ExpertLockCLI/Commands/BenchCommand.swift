import ArgumentParser
import Foundation
import TensorCore

/// `expertlock bench gemm|forward|train`: throughput measurements (docs: CLI.md).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput: gemm (matrix products), forward, train.",
        subcommands: [GemmBench.self, ForwardBench.self, TrainBench.self]
    )
}

/// GFLOP/s of C = A·B at n×n×n for the BLAS path and the Swift fallback.
struct GemmBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm", abstract: "GFLOP/s of square sgemm, and of products with BF16 weights in f32 and bf16.")

    @Option(help: "Matrix size n (C = A·B with n×n matrices).") var size = 2048
    @Option(help: "Repetitions (the best is reported).") var repeats = 3
    @OptionGroup var threadsOption: ThreadsOption
    @Flag(help: "Skip the Swift fallback kernel (slow at large sizes).") var skipFallback = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runReportingErrors {
            threadsOption.apply()
            var result = Self.measure(size: size, repeats: repeats, skipFallback: skipFallback)
            result["threads"] = threadsOption.threads ?? Parallel.threads
            result["bf16_weights_kernel"] = "\(StoredGemm.kernel)"
            result["gflops"] = result["blas_gflops"] is Double ? result["blas_gflops"]! : result["fallback_gflops"]!
            result["peak_rss_bytes"] = PeakMemory.residentBytes
            if output.json {
                try Console.printJSON(result)
            } else {
                for (key, value) in result.sorted(by: { $0.key < $1.key }) { print("\(key): \(value)") }
            }
        }
    }

    /// GFLOP/s of the BLAS and Swift products, and of products with BF16 weights in each precision
    /// (the best of `repeats`; the fallback once).
    static func measure(size n: Int, repeats: Int, skipFallback: Bool) -> [String: Any] {
        var rng = SplitMix64(seed: 1)
        let a = Tensor(shape: [n, n], data: (0..<(n * n)).map { _ in rng.nextFloat() - 0.5 })
        let b = Tensor(shape: [n, n], data: (0..<(n * n)).map { _ in rng.nextFloat() - 0.5 })
        let flops = 2.0 * Double(n) * Double(n) * Double(n)
        func best(_ repeats: Int, _ body: () -> Void) -> Double {
            var best = Double.infinity
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            return flops / best / 1e9
        }
        func measure(_ backend: Gemm.Backend, repeats: Int) -> Double {
            Gemm.forcedBackend = backend
            defer { Gemm.forcedBackend = nil }
            return best(repeats) { _ = Gemm.matmul(a, b) }
        }
        var result: [String: Any] = ["size": n]
        if BLAS.shared != nil {
            result["blas_gflops"] = measure(.blas, repeats: repeats)
            result["blas_library"] = BLAS.shared!.path
        } else {
            result["blas_gflops"] = NSNull()
            result["blas_library"] = NSNull()
        }
        result["fallback_gflops"] = skipFallback ? NSNull() : measure(.swift, repeats: 1)
        // Products with bfloat16 weights as the models store them (StoredGemm: A·Wᵀ, W [n, n]).
        let weights = BF16Matrix(rounding: b)
        for precision in Precision.allCases {
            result["bf16_weights_\(precision.rawValue)_gflops"] = best(repeats) {
                _ = StoredGemm.linear(a, weights, precision: precision)
            }
        }
        return result
    }
}
