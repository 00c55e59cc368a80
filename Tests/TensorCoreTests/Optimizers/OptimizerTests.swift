import Foundation
import Testing

@testable import TensorCore

/// Golden trajectories from scripts/fixtures/make_optimizer_fixtures.py (torch.optim.AdamW with
/// foreach=False, torch.nn.utils.clip_grad_norm_).
struct OptimizerFixture: Decodable {
    struct AdamWCase: Decodable {
        struct Step: Decodable {
            let lr: Double
            let grads: [String: [Float]?]
            let after: [String: [Float]]
        }
        let beta1: Double, beta2: Double, eps: Double
        let weight_decay: Double
        let shapes: [String: [Int]]
        let initial: [String: [Float]]
        let steps: [Step]
    }
    struct ClipCase: Decodable {
        let max_norm: Double
        let shapes: [String: [Int]]
        let grads: [String: [Float]]
        let total_norm: Double
        let clipped: [String: [Float]]
    }
    let adamw: [AdamWCase]
    let clip: [ClipCase]

    static func load() throws -> OptimizerFixture {
        let url = try #require(
            Bundle.module.url(forResource: "optimizer", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(OptimizerFixture.self, from: Data(contentsOf: url))
    }
}

@Suite struct OptimizerTests {
    static let names = ["w", "b"]

    static func parameters(_ shapes: [String: [Int]], _ values: [String: [Float]]) -> [Variable] {
        names.map { Variable(Tensor(shape: shapes[$0]!, data: values[$0]!), requiresGrad: true, name: $0) }
    }

    static func adamW(_ c: OptimizerFixture.AdamWCase, _ params: [Variable]) -> AdamW {
        AdamW(
            parameters: params, learningRate: Float(c.steps[0].lr), beta1: Float(c.beta1), beta2: Float(c.beta2),
            eps: Float(c.eps), weightDecay: Float(c.weight_decay))
    }

    /// Sets the fixture's gradients of step `s` (nil where PyTorch had none) and steps.
    static func replay(_ c: OptimizerFixture.AdamWCase, step s: Int, _ optimizer: AdamW) {
        let step = c.steps[s]
        optimizer.learningRate = Float(step.lr)
        for p in optimizer.parameters {
            p.grad = (step.grads[p.name!] ?? nil).map { Tensor(shape: p.shape, data: $0) }
        }
        optimizer.step()
        optimizer.zeroGrad()
    }

    @Test(arguments: 0..<3)
    func adamWMatchesTorch(caseIndex: Int) throws {
        let c = try OptimizerFixture.load().adamw[caseIndex]
        let params = Self.parameters(c.shapes, c.initial)
        let optimizer = Self.adamW(c, params)
        for s in c.steps.indices {
            Self.replay(c, step: s, optimizer)
            for p in params {
                let expected = Tensor(shape: p.shape, data: c.steps[s].after[p.name!]!)
                let error = p.value.maxAbsDifference(expected)
                #expect(error <= 1e-6, "step \(s + 1) \(p.name!): max |Δ| \(error)")
            }
        }
        #expect(optimizer.stepCount == c.steps.count)
    }

    /// The eight-lane update gives the bits of PyTorch's scalar expression, tail lanes included.
    @Test func adamWLanesEqualTheScalarExpressionBitForBit() {
        let n = 21  // two full vectors and a tail of five
        let update = AdamWLanes(
            decay: 1 - 1e-3 * 0.01, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: 0.001, correction2: 0.0447,
            eps: 1e-8, stepSize: -1e-3 / 0.1)
        let start = (0..<4).map { k in randomTensor([n], seed: UInt64(60 + k)).data }
        var (p, m, v, g) = (start[0], start[1], start[2].map { $0 * $0 }, start[3])
        var (ps, ms, vs) = (p, m, v)
        for j in 0..<n {
            let gj = g[j]
            ps[j] *= update.decay
            ms[j] += update.oneMinusBeta1 * (gj - ms[j])
            vs[j] = vs[j] * update.beta2 + update.oneMinusBeta2 * gj * gj
            let denominator = vs[j].squareRoot() / update.correction2 + update.eps
            ps[j] += update.stepSize * ms[j] / denominator
        }
        p.withUnsafeMutableBufferPointer { pp in
            m.withUnsafeMutableBufferPointer { pm in
                v.withUnsafeMutableBufferPointer { pv in
                    g.withUnsafeMutableBufferPointer { pg in
                        update.apply(
                            p: pp.baseAddress!, m: pm.baseAddress!, v: pv.baseAddress!, g: pg.baseAddress!, 0..<n)
                    }
                }
            }
        }
        #expect(p == ps)
        #expect(m == ms)
        #expect(v == vs)
        #expect(p != start[0])
    }

    @Test func resumedAdamWContinuesBitExactly() throws {
        let c = try OptimizerFixture.load().adamw[0]
        let straight = Self.adamW(c, Self.parameters(c.shapes, c.initial))
        for s in c.steps.indices { Self.replay(c, step: s, straight) }

        let first = Self.adamW(c, Self.parameters(c.shapes, c.initial))
        for s in 0..<3 { Self.replay(c, step: s, first) }
        let state = first.exportState()
        #expect(state["b.step"]?.scalar == 2)  // b had no gradient at step 3
        let resumed = Self.adamW(c, first.parameters.map { Variable($0.value, requiresGrad: true, name: $0.name) })
        try resumed.importState(state)
        #expect(resumed.stepCount == 3)
        for s in 3..<c.steps.count { Self.replay(c, step: s, resumed) }
        for (a, b) in zip(straight.parameters, resumed.parameters) { #expect(a.value == b.value) }
    }

    @Test func importRejectsForeignState() throws {
        let optimizer = AdamW(
            parameters: [Variable(Tensor.zeros([2]), requiresGrad: true, name: "w")], learningRate: 1e-3)
        #expect(throws: OptimizerError.unknownKey("v.exp_avg")) {
            try optimizer.importState(["v.exp_avg": Tensor.zeros([2])])
        }
        #expect(throws: OptimizerError.shapeMismatch(key: "w.exp_avg", expected: [2], actual: [3])) {
            try optimizer.importState(["w.exp_avg": Tensor.zeros([3])])
        }
        #expect(throws: OptimizerError.missingKey("w.exp_avg_sq")) {
            try optimizer.importState(["w.exp_avg": Tensor.zeros([2])])
        }
        #expect(OptimizerError.unknownKey("v.exp_avg").description.contains("v.exp_avg"))
    }

    @Test(arguments: 0..<2)
    func clipGradNormMatchesTorch(caseIndex: Int) throws {
        let c = try OptimizerFixture.load().clip[caseIndex]
        let params = Self.names.map { Variable(Tensor.zeros(c.shapes[$0]!), requiresGrad: true, name: $0) }
        for p in params { p.grad = Tensor(shape: p.shape, data: c.grads[p.name!]!) }
        let total = clipGradNorm(params, maxNorm: Float(c.max_norm))
        #expect(abs(Double(total) - c.total_norm) <= 1e-6 * c.total_norm)
        for p in params {
            #expect(p.grad!.maxAbsDifference(Tensor(shape: p.shape, data: c.clipped[p.name!]!)) <= 1e-6)
        }
    }

    @Test func sgdWithMomentumAndDecay() throws {
        // torch.optim.SGD(momentum=0.9, weight_decay=0.1) by hand: d = g + λp; b = d, then μb + d; p -= lr·b.
        let p = Variable(Tensor(shape: [2], data: [1, -2]), requiresGrad: true, name: "p")
        let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        var expected: [Double] = [1, -2]
        var buffer: [Double] = [0, 0]
        let grads: [[Float]] = [[0.5, 0.25], [-1, 2], [0.125, 0]]
        for (s, g) in grads.enumerated() {
            p.grad = Tensor(shape: [2], data: g)
            sgd.step()
            for i in 0..<2 {
                let d = Double(g[i]) + 0.1 * expected[i]
                buffer[i] = s == 0 ? d : 0.9 * buffer[i] + d
                expected[i] -= 0.1 * buffer[i]
            }
        }
        for i in 0..<2 { #expect(abs(Double(p.value.data[i]) - expected[i]) < 1e-6) }
        let state = sgd.exportState()
        let again = SGD(
            parameters: [Variable(p.value, requiresGrad: true, name: "p")], learningRate: 0.1, momentum: 0.9)
        try again.importState(state)
        #expect(again.stepCount == 3)
        #expect(again.exportState()["p.momentum_buffer"] == state["p.momentum_buffer"])
    }

    @Test func stepSkipsParametersWithoutGradient() {
        let p = Variable(Tensor(shape: [2], data: [1, 2]), requiresGrad: true)
        AdamW(parameters: [p], learningRate: 0.1).step()
        #expect(p.value.data == [1, 2])
    }
}
