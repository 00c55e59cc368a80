import Foundation
import MoEModels
import TensorCore

@testable import ExpertLock

/// A character-level encoder over a fixed alphabet (id 0 = BOS, 1 = EOS, 2 = unknown), standing in
/// for a tokenizer in the training tests.
struct CharacterEncoder: TextEncoder {
    let alphabet: [Character]
    let index: [Character: Int]

    init(texts: [String]) {
        alphabet = Array(Set(texts.flatMap { Array($0) })).sorted()
        index = Dictionary(uniqueKeysWithValues: alphabet.enumerated().map { ($1, $0 + 3) })
    }

    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        (addSpecialTokens ? [0] : []) + text.map { index[$0] ?? 2 }
    }

    var vocabSize: Int { alphabet.count + 3 }
    var bosTokenId: Int? { 0 }
    var eosTokenId: Int? { 1 }
    var padTokenId: Int? { nil }
}

enum TrainingFixtures {
    /// A micro Mixtral (fast in debug builds) with `vocab` tokens.
    static func microModel(vocab: Int, seed: UInt64 = 1) throws -> MoEModel {
        let config = ModelConfig(
            modelType: "mixtral", vocabSize: vocab, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
            numAttentionHeads: 2, numKeyValueHeads: 1, numExperts: 4, numExpertsPerToken: 2, routerAuxLossCoef: 0.02)
        return try MoEModel.randomlyInitialized(config: config, seed: seed)
    }

    /// LM chunks of a seeded random token stream with some structure (repeats) to learn.
    static func tokenExamples(vocab: Int, count: Int, length: Int, seed: UInt64) -> [TrainingExample] {
        var rng = SplitMix64(seed: seed)
        var ids: [Int] = []
        while ids.count < count * (length - 1) + 1 {
            let word = (0..<3).map { _ in Int(rng.next() % UInt64(vocab)) }
            for _ in 0..<(1 + Int(rng.next() % 3)) { ids += word }
        }
        return TrainingData.languageModeling(ids: ids, sequenceLength: length)
    }

    /// Every weight of a model by name (base weights and adapters).
    static func snapshot(_ model: MoEModel) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for p in model.parameters { out[p.name] = try p.tensor() }
        for adapter in model.loraAdapters {
            out[adapter.a.name] = try adapter.a.tensor()
            out[adapter.b.name] = try adapter.b.tensor()
        }
        return out
    }

    static func temporaryDirectory() throws -> URL { try Fixtures.temporaryDirectory() }
}
