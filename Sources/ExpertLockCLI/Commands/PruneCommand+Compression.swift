import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

extension PruneCommand {
    /// `prune --merge METHOD --keep K` and `prune --inner-keep R`: calibrate on the data, compress, write the
    /// checkpoint with its plan (merge_plan.json or inner_pruning_plan.json).
    func runCompression(_ attack: CompressionAttack) throws {
        guard threshold == nil, drop == nil, plan == nil, !random, mode == .remove else {
            throw ArgumentInputError(
                "--merge and --inner-keep write a new checkpoint: they go without --threshold, --drop, --plan, "
                    + "--random and --mode mask")
        }
        if case .inner = attack, keep != nil { throw ArgumentInputError("--inner-keep goes without --keep") }
        guard compression.data != nil || compression.ids != nil else {
            throw ArgumentInputError("--merge and --inner-keep need calibration data: --data FILE or --ids FILE")
        }
        let model = try modelOptions.load()
        if model.expertMask != nil {
            throw ArgumentInputError(
                "\(modelOptions.model): is mask-pruned (\(ExpertMaskFile.fileName)); merge or inner-prune the original")
        }
        if !model.loraAdapters.isEmpty { try model.mergeLoRA() }
        let sequences = try TaskCorpus.sequences(
            model: modelOptions, task: .perplexity, data: compression.data, ids: compression.ids,
            format: compression.calibration.format,
            context: try compression.calibrationContext.resolved(default: 256, model: modelOptions.model),
            limit: compression.calibration.limit)
        let calibration = try MergeCalibration.run(
            model: model, batches: CorpusBatches.batches(sequences, batchSize: 4),
            maxTokens: compression.calibrationTokens)
        let (compressed, record) = try attack.apply(to: model, calibration: calibration)
        let source = modelOptions.url
        let bytesPerParameter = try Self.bytesPerParameter(source)
        let before = ModelSize(model: model, bytesPerParameter: bytesPerParameter)
        let after = ModelSize(model: compressed, bytesPerParameter: bytesPerParameter)
        let dtype = try Self.storedDType(source)
        var written: ModelConfig?
        try OutputDirectory.write(
            to: URL(fileURLWithPath: out), overwrite: overwrite,
            inputs: [source] + [compression.data, compression.ids].compactMap { $0 }.map { URL(fileURLWithPath: $0) }
        ) { tmp in
            try compressed.save(to: tmp, dtype: dtype, configSource: source.appendingPathComponent("config.json"))
            try OutputDirectory.copyCompanionFiles(from: source, to: tmp)
            let (name, data) = try record.encoded()
            try AtomicFile.write(data, to: tmp.appendingPathComponent(name))
            written = try ModelConfig.load(from: tmp)
        }
        // transformers reads one expert count and one expert size; ExpertLock's own keys say otherwise.
        let loadable = written.map { $0.expertsPerLayer == nil && $0.expertIntermediateSizes == nil } ?? false
        let sizes = compressed.moeBlocks.map { $0.experts.map(\.intermediateSize) }
        var result: [String: Any] = [
            "rule": attack.rule, "out": out, "calibration_tokens": calibration.tokens,
            "experts_per_layer": compressed.moeBlocks.map(\.expertCount), "expert_intermediate_sizes": sizes,
            "parameters_before": before.parameters, "parameters_after": after.parameters,
            "bytes_before": before.bytes, "bytes_after": after.bytes,
            "active_parameters_per_token_before": before.activeParametersPerToken,
            "active_parameters_per_token_after": after.activeParametersPerToken,
            "loadable_by_transformers": loadable, "notes": compressed.notes,
        ]
        if case .merge(let plan) = record {
            result["groups"] = plan.layers.map { $0.map(\.members) }
            result["weights"] = plan.layers.map { $0.map(\.weights) }
        }
        if !loadable {
            Console.progress(
                "warning: \(out): experts of different sizes (expertlock_expert_intermediate_sizes); ExpertLock loads "
                    + "it, Hugging Face transformers cannot (one moe_intermediate_size). Use --inner-scope uniform")
        }
        if output.json {
            try Console.printJSON(result)
            return
        }
        var summary = HumanSummary("prune: \(attack.rule)")
        if case .merge(let plan) = record {
            for (l, groups) in plan.layers.enumerated() {
                let text = groups.map { g in
                    zip(g.members, g.weights).map { "\($0)×\(String(format: "%.2f", $1))" }.joined(separator: "+")
                }
                summary.add("layer \(model.moeBlocks[l].layer)", text.joined(separator: ", "))
            }
        } else {
            for (l, s) in sizes.enumerated() { summary.add("layer \(model.moeBlocks[l].layer)", "channels \(s)") }
        }
        summary.add("parameters", "\(HumanSummary.count(before.parameters)) → \(HumanSummary.count(after.parameters))")
        summary.add("loadable by transformers", loadable ? "yes" : "no")
        summary.note("wrote \(out)")
        print(summary.render(), terminator: "")
    }
}
