import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// Backward through the new components on real family checkpoints: latent attention (q LoRA, shared rotary
/// key, value padding), YaRN and interleaved rotary, the sigmoid grouped router with its selection bias
/// (the gradient flows through the applied weights; the choice is piecewise constant) and ungated shared
/// experts, against central finite differences of the language-model loss.
struct FamilyGradientTests {
    final class Choices: RoutingObserver {
        var experts: [[Int]] = []
        func observeRouting(layer: Int, probabilities: Tensor, experts: [Int], weights: Tensor, batch: TokenBatch) {
            self.experts.append(experts)
        }
        func observeExpertOutput(
            layer: Int, expert: Int, rows: [Int], slots: [Int], outputNorms: [Float], batch: TokenBatch
        ) {}
    }

    @Test(arguments: [
        "deepseek_v3_f32_qlora_groups", "deepseek_v3_bf16_yarn_shared2", "glm4_moe_lite_f32_qlora_groups",
        "deepseek_v2_bf16_grouped_yarn", "ernie4_5_moe_f32_shared2_interval",
        // Sinks, sliding windows, router bias, clamped SwiGLU with expert biases (gpt-oss); chunks,
        // NoPE temperature, L2 q/k norm, routing on the expert input, shared expert (Llama-4).
        "gpt_oss_f32_window5_plain_rope", "gpt_oss_bf16_window3_yarn",
        "llama4_text_f32_chunk4_nope_qknorm",
    ])
    func lossGradientMatchesFiniteDifferences(_ name: String) throws {
        let model = try ModelLoader.load(directory: FamilyParityTests.fixture(name), residency: .resident)
        for p in model.parameters { try p.setTrainable(true) }
        let ids = Array(try FamilyParityTests.expected(name).ids.prefix(8))
        let batch = TokenBatch(ids)
        let targets = Array(ids.dropFirst()) + [-100]
        func loss() throws -> (Variable, [[Int]]) {
            let choices = Choices()
            var options = ForwardOptions(recordRouterLogits: false)
            options.observer = choices
            let out = try model.forward(batch, options: options)
            return (out.languageModelLoss(targets: targets), choices.experts)
        }
        let (base, routing) = try loss()
        base.backward()
        var checked = 0
        var pick = SplitMix64(seed: 5)
        for p in model.parameters {
            let leaf = try #require(p.residentVariable)
            guard let grad = leaf.grad else { continue }  // e.g. a selection bias: it only chooses
            for _ in 0..<2 {
                let i = Int(pick.next() % UInt64(leaf.value.count))
                let original = leaf.value.data[i]
                // gpt-oss clamps its SwiGLU at `swiglu_limit`: a smaller step straddles a clamp's kink less often.
                let h: Float = name.hasPrefix("gpt_oss") ? 2e-3 : 1e-2
                leaf.value.data[i] = original + h
                let (up, routingUp) = try loss()
                leaf.value.data[i] = original - h
                let (down, routingDown) = try loss()
                leaf.value.data[i] = original
                guard routingUp == routing, routingDown == routing else { continue }
                let numeric = (up.value.scalar - down.value.scalar) / (2 * h)
                #expect(abs(numeric - grad.data[i]) <= 2e-3 + 2e-2 * abs(grad.data[i]), "\(name) \(p.name)[\(i)]")
                checked += 1
            }
        }
        #expect(checked > model.parameters.count)
    }
}
