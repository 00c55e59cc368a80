import Foundation

extension ModelConfig {
    /// Names accepted by `preset(_:vocabSize:)`.
    public static let presetNames = ["tiny", "small"]

    /// A small Mixtral-family config for training from scratch: 8 experts, top-2, GQA with 2 KV heads.
    ///
    /// - `tiny`: hidden 64, 2 layers, 4 heads, expert intermediate 128 (tests, demos: seconds per 100 steps);
    /// - `small`: hidden 128, 4 layers, 4 heads, expert intermediate 256.
    ///
    /// Router aux-loss coefficient 0.02 as Mixtral-8x7B's config.json. Returns nil for another name.
    public static func preset(
        _ name: String, vocabSize: Int, bosTokenId: Int? = nil, eosTokenId: Int? = nil
    ) -> ModelConfig? {
        let (hidden, layers, intermediate): (Int, Int, Int)
        switch name {
        case "tiny": (hidden, layers, intermediate) = (64, 2, 128)
        case "small": (hidden, layers, intermediate) = (128, 4, 256)
        default: return nil
        }
        return ModelConfig(
            modelType: ModelFamily.mixtral.rawValue, vocabSize: vocabSize, hiddenSize: hidden,
            intermediateSize: intermediate, numHiddenLayers: layers, numAttentionHeads: 4, numKeyValueHeads: 2,
            numExperts: 8, numExpertsPerToken: 2, normTopKProb: true, rmsNormEps: 1e-5, ropeTheta: 10_000,
            tieWordEmbeddings: false, routerAuxLossCoef: 0.02, maxPositionEmbeddings: 2048,
            bosTokenId: bosTokenId, eosTokenId: eosTokenId, torchDtype: "float32")
    }

    /// A preset name or the path of a config.json (or of the folder holding one). A preset gets
    /// `vocabSize`; a file's `vocab_size` must be at least `vocabSize` when one is given, so every
    /// token id of the data has an embedding.
    public static func resolve(_ spec: String, vocabSize: Int?) throws -> ModelConfig {
        if presetNames.contains(spec) {
            guard let vocabSize, vocabSize > 0 else {
                throw ConfigError.invalid(file: spec, reason: "a preset needs the tokenizer's vocabulary size")
            }
            return preset(spec, vocabSize: vocabSize)!
        }
        let config = try load(from: URL(fileURLWithPath: spec))
        if let vocabSize, config.vocabSize < vocabSize {
            throw ConfigError.invalid(
                file: configFile(URL(fileURLWithPath: spec)).path,
                reason: "vocab_size \(config.vocabSize) is smaller than the tokenizer's \(vocabSize)")
        }
        return config
    }
}
