import ArgumentParser
import MoEModels
import TensorCore

/// `--precision f32|bf16` for commands that run a model (CLI.md).
///
/// The default is f32 everywhere: it is exact (BF16 weights are widened inside the products, never
/// rounded further), it is what the golden tests compare with transformers in float32, and it makes a
/// study's numbers independent of the machine. bf16 is the speed setting for large checkpoints stored in
/// bfloat16: both operands of every weight product rounded to bfloat16, Float32 accumulation, as PyTorch
/// and llama.cpp compute in bfloat16 (perplexities then differ from f32 by about 1e-3 relative, see
/// README's speed section). Training always computes in Float32.
struct PrecisionOptions: ParsableArguments {
    @Option(help: "Matrix products: f32 (exact, the default) or bf16 (BF16 operands, F32 accumulation; faster).")
    var precision: Precision = .f32

    /// Sets the precision on a loaded model; returns it for chaining.
    @discardableResult
    func apply(to model: MoEModel) -> MoEModel {
        model.setPrecision(precision)
        return model
    }
}

extension Precision: ExpressibleByArgument {}
