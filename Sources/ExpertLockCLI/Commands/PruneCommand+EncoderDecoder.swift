import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

extension PruneCommand {
    /// `prune` of a switch_transformers folder: the same rules over its encoder and decoder sparse layers (named
    /// `encoder.B` / `decoder.B`); removal slices router rows and renumbers experts, copying every other tensor
    /// byte for byte, so transformers loads a uniformly pruned result.
    func runEncoderDecoder() throws {
        let source = modelOptions.url
        let model = try SwitchTransformersModel.load(directory: source, residency: .mapped)
        let signature = ModelSignature(switchModel: model)
        let identity = ModelFolderIdentity.fingerprint(of: source)
        let counts = signature.expertsPerLayer
        let names = model.config.sparseLayers.map(\.description)
        let rules = [keep != nil && !random, threshold != nil, drop != nil, plan != nil, random].filter { $0 }.count
        guard rules == 1 else {
            throw ArgumentInputError(
                "choose exactly one of --keep, --threshold, --drop, --plan, --random (with --keep)")
        }
        func loadAttribution() throws -> ExpertAttribution {
            guard let attribution else { throw ArgumentInputError("--keep and --threshold need --attribution FILE") }
            let a = try ExpertAttribution.read(from: URL(fileURLWithPath: attribution))
            guard a.signature == signature else {
                throw ArgumentInputError(
                    "\(attribution): made on another model (sparse layers \(a.signature.sparseLayers))")
            }
            return a
        }
        let pruningPlan: PruningPlan
        if random {
            guard let keep else { throw ArgumentInputError("--random needs --keep K") }
            pruningPlan = try PruningPlan.random(expertsPerLayer: counts, k: keep, seed: seed, minimumPerLayer: 1)
        } else if let keep {
            let a = try loadAttribution()
            pruningPlan = try PruningPlan.topK(
                a, k: keep, scope: scope, criterion: criterion ?? a.criterion, minimumPerLayer: 1)
        } else if let threshold {
            let a = try loadAttribution()
            pruningPlan = try PruningPlan.threshold(
                a, tau: threshold, criterion: criterion ?? a.criterion, minimumPerLayer: 1)
        } else if let drop {
            pruningPlan = try PruningPlan.drop(drop.items, expertsPerLayer: counts, minimumPerLayer: 1)
        } else {
            pruningPlan = try PruningPlan.read(from: URL(fileURLWithPath: plan ?? ""))
        }
        try pruningPlan.validate(for: signature, minimumPerLayer: 1)
        try OutputDirectory.write(
            to: URL(fileURLWithPath: out), overwrite: overwrite,
            inputs: [source] + [attribution, plan].compactMap { $0 }.map { URL(fileURLWithPath: $0) }
        ) { tmp in
            switch mode {
            case .remove:
                try SwitchTransformersModel.writePruned(source: source, kept: pruningPlan.kept, to: tmp)
            case .mask:
                let all = counts.map { Array(0..<$0) }
                try SwitchTransformersModel.writePruned(source: source, kept: all, to: tmp)
                try ExpertMaskFile.write(kept: pruningPlan.kept, to: tmp)
            }
            try OutputDirectory.copyCompanionFiles(from: source, to: tmp)
            var recorded = pruningPlan
            recorded.modelFingerprint = identity
            try AtomicFile.write(
                try JSONFileStyle.encoder().encode(recorded), to: tmp.appendingPathComponent("pruning_plan.json"))
        }
        let expertParameters = 2 * model.config.dModel * model.config.dFF
        let removed = mode == .remove ? zip(counts, pruningPlan.kept).map { $0 - $1.count }.reduce(0, +) : 0
        let routerRows = mode == .remove ? removed * model.config.dModel : 0
        let before = model.parameters.map(\.elementCount).reduce(0, +)
        let result: [String: Any] = [
            "kept": pruningPlan.kept, "layers": names, "rule": pruningPlan.rule, "mode": mode.rawValue, "out": out,
            "parameters_before": before, "parameters_after": before - removed * expertParameters - routerRows,
            "loadable_by_transformers": mode == .remove && pruningPlan.isUniform,
        ]
        if output.json {
            try Console.printJSON(result)
        } else {
            var summary = HumanSummary("prune: \(pruningPlan.rule)")
            for (l, kept) in pruningPlan.kept.enumerated() {
                summary.add("layer \(names[l])", "kept \(kept.count) of \(counts[l]): \(kept)")
            }
            summary.add("loadable by transformers", mode == .remove && pruningPlan.isUniform ? "yes" : "no")
            summary.note("wrote \(out)")
            print(summary.render(), terminator: "")
        }
    }
}
