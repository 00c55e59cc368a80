import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// Presets and random initialisation.
struct ModelInitializationTests {
    @Test func presetsAreValidMixtralConfigs() throws {
        let tiny = try #require(ModelConfig.preset("tiny", vocabSize: 300))
        let small = try #require(ModelConfig.preset("small", vocabSize: 300))
        try tiny.validate()
        try small.validate()
        #expect(tiny.family == .mixtral && tiny.numExperts == 8 && tiny.numExpertsPerToken == 2)
        let tinyShape: [Int] = [
            tiny.hiddenSize, tiny.numHiddenLayers, tiny.numAttentionHeads, tiny.numKeyValueHeads,
            tiny.moeIntermediateSize,
        ]
        let smallShape: [Int] = [small.hiddenSize, small.numHiddenLayers, small.moeIntermediateSize]
        #expect(tinyShape == [64, 2, 4, 2, 128])
        #expect(smallShape == [128, 4, 256])
        #expect(ModelConfig.preset("huge", vocabSize: 10) == nil)
        let model = try MoEModel.randomlyInitialized(config: tiny, seed: 0)
        // embed + lm_head + per layer: 2 norms, q/o 64x64, k/v 32x64, router 8x64, 8 experts x 3 x 128x64; + final norm
        let perLayer = 2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 8 * 64 + 8 * 3 * 128 * 64
        #expect(model.parameters.reduce(0) { $0 + $1.elementCount } == 2 * 300 * 64 + 2 * perLayer + 64)
        #expect(model.parameters.allSatisfy { $0.isResident && !$0.isTrainable })
    }

    @Test func initialisationIsSeededAndScaled() throws {
        let config = try #require(ModelConfig.preset("tiny", vocabSize: 500))
        let a = try MoEModel.randomlyInitialized(config: config, seed: 7)
        let b = try MoEModel.randomlyInitialized(config: config, seed: 7)
        let c = try MoEModel.randomlyInitialized(config: config, seed: 8)
        for (x, y) in zip(a.parameters, b.parameters) { #expect(try x.tensor() == y.tensor(), "\(x.name)") }
        #expect(try a.embedTokens.tensor() != c.embedTokens.tensor())

        func std(_ t: Tensor) -> Double {
            let m = Double(t.mean())
            return (t.data.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(t.count)).squareRoot()
        }
        #expect(abs(std(try a.embedTokens.tensor()) - 0.02) < 0.001)
        #expect(abs(std(try a.layers[0].attention.qProj.tensor()) - 0.02) < 0.002)
        // Residual outputs: 0.02 / sqrt(2 * 2 layers) = 0.01.
        #expect(abs(std(try a.layers[0].attention.oProj.tensor()) - 0.01) < 0.001)
        #expect(abs(std(try #require(a.layers[1].moe).experts[3].down.tensor()) - 0.01) < 0.001)
        #expect(try a.finalNorm.tensor() == Tensor(shape: [64], repeating: 1))
        #expect(try a.layers[0].inputNorm.tensor() == Tensor(shape: [64], repeating: 1))
    }

    @Test func initialisedModelSavesAndLoadsBack() throws {
        let config = try #require(ModelConfig.preset("tiny", vocabSize: 40))
        let model = try MoEModel.randomlyInitialized(config: config, seed: 3)
        try TestSupport.withTemporaryDirectory { dir in
            try model.save(to: dir)
            let loaded = try ModelLoader.load(directory: dir)
            let ids = TokenBatch([1, 5, 9, 2])
            #expect(try model.forward(ids).logits.value == loaded.forward(ids).logits.value)
            #expect(try ModelConfig.resolve(dir.path, vocabSize: 40).hiddenSize == 64)
            #expect(throws: ConfigError.self) { try ModelConfig.resolve(dir.path, vocabSize: 41) }
        }
        #expect(throws: ConfigError.self) { try ModelConfig.resolve("/nonexistent/config.json", vocabSize: 10) }
        #expect(try ModelConfig.resolve("small", vocabSize: 10).vocabSize == 10)
    }
}
