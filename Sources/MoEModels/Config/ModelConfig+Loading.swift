import Foundation

extension ModelConfig {
    public static let fileName = "config.json"

    /// Reads, decodes and validates `config.json`. `url` may name the file or the checkpoint
    /// folder holding it. Every error names the file.
    public static func load(from url: URL) throws -> ModelConfig {
        let file = configFile(url)
        guard FileManager.default.fileExists(atPath: file.path) else { throw ConfigError.fileNotFound(file: file.path) }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw ConfigError.unreadable(file: file.path, reason: error.localizedDescription)
        }
        return try decode(data, file: file.path)
    }

    /// Decodes and validates config JSON held in memory; `file` is the name used in errors.
    public static func decode(_ data: Data, file: String = fileName) throws -> ModelConfig {
        _ = try jsonObject(data, file: file)
        let decoder = JSONDecoder()
        decoder.userInfo[fileKey] = file
        let config: ModelConfig
        do {
            config = try decoder.decode(ModelConfig.self, from: data)
        } catch let error as DecodingError {
            throw configError(error, file: file)
        }
        try config.validate(file: file)
        return config
    }

    /// Copies the `config.json` at `source` to `destination`, keeping every key as it is except
    /// the expert counts, for a checkpoint pruned to fewer experts:
    /// - `numExperts`: written to the family's expert-count key(s) that the file has (the declared
    ///   key if it has neither); nil keeps the current value. For a non-uniform plan pass the
    ///   count the config should advertise (e.g. the largest layer).
    /// - `expertsPerLayer`: stored as `expertlock_experts_per_layer`; nil removes that key, since
    ///   a uniformly pruned checkpoint must not keep a stale list.
    /// The result is decoded and validated before it is written (atomically, Python-style JSON:
    /// sorted keys, two-space indent, floats kept as floats). Returns the new config.
    @discardableResult
    public func rewritten(
        numExperts: Int?, expertsPerLayer: [Int]?, numExpertsPerToken: Int? = nil, source: URL, to destination: URL
    ) throws -> ModelConfig {
        let sourceFile = Self.configFile(source)
        let original = try Self.load(from: sourceFile)
        guard original.modelType == modelType else {
            throw ConfigError.modelTypeMismatch(file: sourceFile.path, expected: modelType, found: original.modelType)
        }
        guard let family = original.family else {
            throw ConfigError.unknownModelType(file: sourceFile.path, modelType: original.modelType)
        }
        var root = try Self.jsonObject(try Data(contentsOf: sourceFile), file: sourceFile.path)
        // A multimodal config keeps the language model's keys in `text_config`: they are patched there.
        let nestedKey = family.definition.nestedConfigKey
        var object = nestedKey.flatMap { root[$0] as? [String: Any] } ?? root
        if let numExperts {
            let keys = [family.expertCountKeys.declared, family.expertCountKeys.alias].filter { object[$0] != nil }
            for key in keys.isEmpty ? [family.expertCountKeys.declared] : keys { object[key] = numExperts }
        }
        object["expertlock_experts_per_layer"] = expertsPerLayer
        // A layer pruned below top-k routes to every expert it has left. Both spellings the file has are
        // rewritten (ERNIE reads `moe_k` and its alias `num_experts_per_tok`; two values are a conflict).
        if let numExpertsPerToken {
            let keys = [family.expertsPerTokenKey, "num_experts_per_tok"].filter { object[$0] != nil }
            for key in keys.isEmpty ? [family.expertsPerTokenKey] : keys { object[key] = numExpertsPerToken }
        }
        // Group-limited routing rewritten by pruning (uneven groups whose limit selected every group).
        if let router, let before = original.router,
            router.groups != before.groups || router.topkGroup != before.topkGroup
        {
            object["n_group"] = router.groups
            object["topk_group"] = router.topkGroup
        }
        // Multi-token-prediction layers the model did not carry over are not in the new checkpoint.
        if nextTokenPredictionLayers != original.nextTokenPredictionLayers {
            let key = object["num_mtp_layers"] != nil ? "num_mtp_layers" : "num_nextn_predict_layers"
            object[key] = nextTokenPredictionLayers
        }
        // Errors name the file being written: the patched config is its content.
        // A nested object decodes inside its root (its own model_type, `qwen3_5_moe_text`, is not a family).
        let wrapping = root
        func whole(_ object: [String: Any]) -> [String: Any] {
            guard let nestedKey else { return object }
            var full = wrapping
            full[nestedKey] = object
            return full
        }
        try patchExpertSizes(&object, file: Self.configFile(destination).path, whole: whole)
        root = whole(object)
        let text = JSONText.pretty(root) + "\n"

        let destinationFile = Self.configFile(destination)
        let patched = try Self.decode(Data(text.utf8), file: destinationFile.path)
        try AtomicFile.write(
            to: destinationFile, failure: { ConfigError.writeFailed(file: destinationFile.path, reason: $0) }
        ) {
            try $0.write(text)
        }
        return patched
    }

    /// Writes inner-pruned expert sizes: one size for every expert goes to the family's own key (the
    /// first of `moe_intermediate_size`, `moe_intermediate_size` with the shared-expert multiple
    /// rescaled, or `intermediate_size` when every layer is sparse) that decodes to this config, so
    /// transformers loads it; sizes that differ, or a size no key can state (DeepSeek's shared experts
    /// are `moe_intermediate_size` × `n_shared_experts`), go to `expertlock_expert_intermediate_sizes`.
    /// `whole` gives the config file's object for a patched `object` (its root when `object` is nested).
    private func patchExpertSizes(
        _ object: inout [String: Any], file: String, whole: ([String: Any]) -> [String: Any]
    ) throws {
        let key = "expertlock_expert_intermediate_sizes"
        object[key] = nil
        let base = try Self.decode(Data((JSONText.pretty(whole(object)) + "\n").utf8), file: file)
        if let sizes = expertIntermediateSizes {
            object[key] = sizes
            return
        }
        let size = moeIntermediateSize
        guard size != base.moeIntermediateSize else { return }
        var candidates: [[String: Any]] = [["moe_intermediate_size": size]]
        let shared = base.sharedExpertIntermediateSize
        for multiple in ["n_shared_experts", "moe_num_shared_experts"] where shared > 0 && shared % size == 0 {
            candidates.append(["moe_intermediate_size": size, multiple: shared / size])
        }
        candidates.append(["intermediate_size": size])
        for patch in candidates {
            var trial = object
            for (k, v) in patch { trial[k] = v }
            guard let d = try? Self.decode(Data((JSONText.pretty(whole(trial)) + "\n").utf8), file: file) else {
                continue
            }
            let denseUnchanged =
                d.intermediateSize == base.intermediateSize
                || base.sparseLayers.count == base.numHiddenLayers
            if d.moeIntermediateSize == size && d.sharedExpertIntermediateSize == shared && denseUnchanged
                && d.numExperts == base.numExperts && d.expertIntermediateSizes == nil
            {
                object = trial
                return
            }
        }
        let sparse = Set(base.sparseLayers)
        object[key] = (0..<base.numHiddenLayers).map {
            sparse.contains($0)
                ? Array(
                    repeating: size,
                    count:
                        base.expertCount(layer: $0)) : []
        }
    }

    // MARK: - Helpers

    /// `url` itself, or `url/config.json` when `url` is a folder.
    static func configFile(_ url: URL) -> URL {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return url.appendingPathComponent(fileName)
        }
        return url
    }

    static func jsonObject(_ data: Data, file: String) throws -> [String: Any] {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigError.invalidJSON(file: file, reason: "invalid JSON")
        }
        guard let object = root as? [String: Any] else {
            throw ConfigError.invalidJSON(file: file, reason: "top level is not an object")
        }
        return object
    }

    private static func configError(_ error: DecodingError, file: String) -> ConfigError {
        func path(_ context: DecodingError.Context, _ key: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, context):
            return .missingKey(file: file, key: path(context, key))
        case let .valueNotFound(_, context):
            return .invalidValue(file: file, key: path(context), reason: "is null")
        case let .typeMismatch(type, context):
            return .invalidValue(file: file, key: path(context), reason: "expected \(type)")
        case let .dataCorrupted(context):
            return context.codingPath.isEmpty
                ? .invalidJSON(file: file, reason: context.debugDescription)
                : .invalidValue(file: file, key: path(context), reason: context.debugDescription)
        @unknown default:
            return .invalidJSON(file: file, reason: "\(error)")
        }
    }
}
