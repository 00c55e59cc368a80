import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// Router losses against transformers (scripts/fixtures/make_router_loss_fixtures.py): the
/// load-balancing loss the models return as `aux_loss`, the z-loss, and their gradients with respect
/// to the router weights, with and without padding.
struct RouterLossTests {
    struct Batch: Decodable {
        let ids: [[Int]]
        let lengths: [Int]?
        let aux_loss: Double
        let z_loss: Double
        let router_grads: [String: [[Double]]]
        let z_grad: [String: [[Double]]]
    }
    struct Case: Decodable {
        let num_experts: Int
        let top_k: Int
        let batches: [Batch]
    }
    struct Fixture: Decodable { let cases: [String: Case] }

    static func fixture() throws -> Fixture {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
            .appendingPathComponent("training/router_losses.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    /// The router of decoder layer L named in the fixture (`model.layers.L.mlp.gate.weight`).
    static func router(_ model: MoEModel, _ name: String) throws -> Parameter {
        let layer = try #require(Int(name.split(separator: ".")[2]))
        return try #require(model.layers[layer].moe?.router)
    }

    static func maxDifference(_ actual: Tensor?, _ expected: [[Double]]) -> Double {
        guard let actual, actual.rows == expected.count, actual.lastDim == expected[0].count else { return .infinity }
        var m = 0.0
        for (r, row) in expected.enumerated() {
            for (j, v) in row.enumerated() { m = max(m, abs(Double(actual.data[r * actual.lastDim + j]) - v)) }
        }
        return m
    }

    @Test(arguments: ["mixtral_f32_gqa2", "qwen2_moe_f32_shared_dense", "qwen3_moe_f32_headdim", "olmoe_f32_mha"])
    func lossesAndGradientsMatchTransformers(_ name: String) throws {
        let fixture = try #require(try Self.fixture().cases[name])
        let model = try ModelLoader.load(directory: ModelParityTests.fixture(name), residency: .resident)
        for batch in fixture.batches {
            let tokens = TokenBatch(
                ids: batch.ids.flatMap { $0 }, batch: batch.ids.count, seq: batch.ids[0].count, lengths: batch.lengths)
            for routerName in batch.router_grads.keys { try Self.router(model, routerName).setTrainable(true) }
            let out = try model.forward(tokens, options: ForwardOptions(loadBalancingLoss: true, routerZLoss: true))
            let aux = try #require(out.auxiliaryLoss)
            let z = try #require(out.routerZLoss)
            #expect(abs(Double(aux.value.scalar) - batch.aux_loss) <= 1e-5 * max(1, batch.aux_loss), "\(name) aux")
            #expect(abs(Double(z.value.scalar) - batch.z_loss) <= 1e-5 * max(1, batch.z_loss), "\(name) z")

            aux.backward()
            for (routerName, expected) in batch.router_grads {
                let leaf = try #require(try Self.router(model, routerName).residentVariable)
                #expect(Self.maxDifference(leaf.grad, expected) <= 1e-5, "\(name) \(routerName) d aux")
                leaf.zeroGrad()
            }
            z.backward()
            for (routerName, expected) in batch.z_grad {
                let leaf = try #require(try Self.router(model, routerName).residentVariable)
                #expect(Self.maxDifference(leaf.grad, expected) <= 1e-4, "\(name) \(routerName) d z")
            }
            for p in model.parameters { p.residentVariable?.zeroGrad() }
        }
    }

    @Test func uniformRoutingGivesTopK() {
        // Identical logits in every row: P = 1/E; ties go to the lowest experts, so f is not uniform,
        // but Σ_e f_e = K and P_e = 1/E give E · K / E = K exactly.
        let logits = Variable(Tensor(shape: [6, 4], repeating: 0.5), requiresGrad: true)
        let loss = RouterLosses.loadBalancing([logits, logits], topK: 2, rows: nil)
        #expect(abs(loss.value.scalar - 2) < 1e-6)
    }

    @Test func paddingRowsDoNotCount() {
        var data = [Float](repeating: 0, count: 4 * 3)
        for i in data.indices { data[i] = Float((i * 7) % 5) - 2 }
        let full = Variable(Tensor(shape: [4, 3], data: data))
        var padded = data
        for j in 0..<3 { padded[3 * 3 + j] = 100 * Float(j + 1) }  // row 3 is padding: any values
        let withPadding = Variable(Tensor(shape: [4, 3], data: padded))
        let a = RouterLosses.loadBalancing([gatherRows(full, [0, 1, 2])], topK: 1, rows: nil)
        let b = RouterLosses.loadBalancing([withPadding], topK: 1, rows: [0, 1, 2])
        #expect(a.value.scalar == b.value.scalar)
        let za = RouterLosses.zLoss([gatherRows(full, [0, 1, 2])], rows: nil)
        let zb = RouterLosses.zLoss([withPadding], rows: [0, 1, 2])
        #expect(za.value.scalar == zb.value.scalar)
    }

    @Test func withoutOptionsNoLossIsComputed() throws {
        let config = try #require(ModelConfig.preset("tiny", vocabSize: 20))
        let model = try MoEModel.randomlyInitialized(config: config, seed: 1)
        let out = try model.forward(TokenBatch([1, 2, 3]))
        #expect(out.auxiliaryLoss == nil && out.routerZLoss == nil)
    }
}
