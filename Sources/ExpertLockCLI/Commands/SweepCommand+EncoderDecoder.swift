import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

extension SweepCommand {
    /// `sweep` of a switch_transformers folder: the prunability curve over its encoder and decoder sparse layers
    /// (the same k in every one), the metric in text-to-text form (`EncoderDecoderTask`). One run, no --resume.
    func runEncoderDecoder() throws {
        if resume || ids != nil || !thresholds.items.isEmpty {
            throw ArgumentInputError(
                "\(modelOptions.model): an encoder-decoder sweep runs from --data in one pass (no --resume, --ids or "
                    + "--thresholds)")
        }
        guard let data = evalData ?? data else { throw ArgumentInputError("sweep needs --data or --eval-data") }
        let outURL = URL(fileURLWithPath: out)
        let replace = try OutputDirectory.mayReplace(outURL, overwrite: overwrite, resumingFrom: nil)
        let folder = modelOptions.url
        let model = try SwitchTransformersModel.load(directory: folder, residency: modelOptions.residency)
        let signature = ModelSignature(switchModel: model)
        let fewest = signature.expertsPerLayer.min() ?? 0
        let keeps = keep.items.filter { $0 <= fewest }
        let criteriaList = criteria.items
        let evaluation = try EncoderDecoderTask(
            model: model, folder: folder, task: task, data: data, format: format, limit: limit,
            maxNewTokens: maxNewTokens, maxTokens: context ?? 256)
        let ranking: ExpertAttribution
        if let attribution {
            ranking = try ExpertAttribution.read(from: URL(fileURLWithPath: attribution))
            guard ranking.signature == signature else {
                throw ArgumentInputError(
                    "\(attribution): made on another model (sparse layers \(ranking.signature.sparseLayers))")
            }
        } else {
            let source = try self.data.map {
                try EncoderDecoderTask(
                    model: model, folder: folder, task: task, data: $0, format: format, limit: limit,
                    maxTokens: context ?? 256)
            }
            let p = ProgressLine("attribute")
            ranking = try Attribution.run(
                switchModel: model, modelPath: modelOptions.model, pairs: (source ?? evaluation).pairs
            ) { done, total, tokens in
                p.update(done: done, total: total, tokens: tokens)
                return true
            }
        }
        let progress = ProgressLine("sweep", unit: "points")
        let curve = try PrunabilitySweep.run(
            signature: signature,
            attribution: ranking, metricName: evaluation.metricName, higherIsBetter: evaluation.higherIsBetter,
            parameters: .init(keeps: keeps, criteria: criteriaList, randomSeeds: seeds),
            evaluate: { flags in try evaluation.evaluate(model.masked(flags)) },
            progress: { done, total in
                progress.update(done: done, total: total, tokens: Int64(done))
                return true
            })
        let referenceK = max(1, fewest / 4)
        let names = model.config.sparseLayers.map(\.description)
        try OutputDirectory.write(
            to: outURL, overwrite: replace,
            inputs: [modelOptions.model, self.data, evalData, attribution].compactMap { $0 }.map {
                URL(fileURLWithPath: $0)
            }
        ) { dir in
            try AtomicFile.write(
                try JSONFileStyle.encoder().encode(curve), to: dir.appendingPathComponent("curve.json"))
            try AtomicFile.write(curve.csv(), to: dir.appendingPathComponent("curve.csv"))
            try AtomicFile.write(
                curve.markdownTable() + "\n" + curve.resistanceMarkdown(referenceK: referenceK)
                    + "\nSparse layers: \(names.joined(separator: ", ")) (the same k in each).\n",
                to: dir.appendingPathComponent("table.md"))
            try AtomicFile.write(
                curve.svg(title: "Prunability: \(curve.metricName) vs experts kept"),
                to: dir.appendingPathComponent("curve.svg"))
        }
        if output.json {
            try Console.printJSON([
                "full": curve.full, "metric": curve.metricName, "out": out, "reference_k": referenceK,
                "layers": names, "resistance": curve.resistance(referenceK: referenceK),
                "curve": curve.points.map { p -> [String: Any] in
                    ["k": p.k ?? NSNull(), "strategy": p.strategy, "seed": p.seed ?? NSNull(), "metric": p.metric]
                },
            ])
        } else {
            print(curve.markdownTable())
            print(curve.resistanceMarkdown(referenceK: referenceK))
            print("sparse layers: \(names.joined(separator: ", "))")
            print("wrote \(out) (curve.json, curve.csv, table.md, curve.svg)")
        }
    }
}
