import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

extension RealignCommand {
    /// `realign` of a switch_transformers folder: classification in T5's text-to-text form (`TextToTextPool`),
    /// every strategy, the decoder's loss on the chosen label words fine-tuning --trainable (`Seq2SeqTrainer`).
    /// Same folders, resume and report as a decoder-only run.
    func runEncoderDecoder(strategies: [QueryStrategy], out: URL) throws
        -> (results: [ActiveLearningLoop.Result], reference: Double?, outcomes: [Double]?)
    {
        let folder = modelOptions.url
        guard task == .classify else {
            throw ArgumentInputError(
                "\(modelOptions.model): realign on a switch_transformers model runs --task classify (text-to-text)")
        }
        if template != nil || tokenizer == "bytes" {
            throw ArgumentInputError(
                "\(modelOptions.model): a switch_transformers model reads T5's own prompts with its tokenizer "
                    + "(no --template, no --tokenizer bytes)")
        }
        guard modelOptions.precisionOptions.precision == .f32 else {
            throw ArgumentInputError("--precision bf16: realign fine-tunes the model, and training computes in f32")
        }
        let hf = try ModelOptions.tokenizer(folder: tokenizer.map { URL(fileURLWithPath: $0) } ?? folder, model: folder)
        let config = try SwitchTransformersConfig.load(from: folder)
        guard
            case .classification(let classes, let items) = try DatasetLoader.load(
                URL(fileURLWithPath: pool), format: poolFormat, limit: poolLimit
            ).0
        else {
            throw RealignmentError.unusableData(file: pool, reason: "holds no classification examples (text and label)")
        }
        guard
            case .classification(_, let evaluation) = try DatasetLoader.load(
                URL(fileURLWithPath: evalData), format: evalFormat, limit: evalLimit
            ).0
        else {
            throw RealignmentError.unusableData(
                file: evalData, reason: "holds no classification examples (text and label)")
        }
        let textPool = try TextToTextPool(
            pool: items, evaluation: evaluation, task: classes, tokenizer: hf,
            decoderStart: config.decoderStartTokenId ?? config.padTokenId ?? 0, poolFile: pool,
            evaluationFile: evalData)
        var results: [ActiveLearningLoop.Result] = []
        for strategy in strategies {
            for s in 0..<UInt64(seeds) {
                let run = out.appendingPathComponent("\(strategy.rawValue)-seed\(seed + s)")
                if resume, let done = Self.finishedResult(in: run) {
                    results.append(done)
                    continue
                }
                let model = try SwitchTransformersModel.load(directory: folder, residency: .resident)
                Console.progress("realign \(strategy.rawValue) seed \(seed + s) → \(run.path)")
                let result = try ActiveLearningLoop.run(
                    model: model, task: textPool, parameters: try parameters(strategy: strategy, seed: seed + s),
                    stateDirectory: run, resume: resume
                ) { progress in
                    if progress.phase != .trained || progress.step == progress.steps { Console.progress("\(progress)") }
                    return .more
                }
                if !noModel {
                    try OutputDirectory.write(to: run.appendingPathComponent("model"), overwrite: true) { tmp in
                        try model.save(to: tmp, configSource: folder.appendingPathComponent("config.json"))
                        try OutputDirectory.copyCompanionFiles(from: folder, to: tmp)
                    }
                }
                try AtomicFile.write(
                    try JSONFileStyle.encoder().encode(result), to: run.appendingPathComponent("result.json"))
                results.append(result)
            }
        }
        guard let reference else { return (results, nil, nil) }
        if let value = Double(reference) { return (results, value, nil) }
        guard SwitchTransformersModel.isSwitchCheckpoint(URL(fileURLWithPath: reference)) else {
            throw ArgumentInputError("--reference: '\(reference)' is neither a number nor a switch_transformers folder")
        }
        let model = try SwitchTransformersModel.load(directory: URL(fileURLWithPath: reference))
        let (metric, outcomes) = try textPool.evaluateWithOutcomes(model: model)
        return (results, metric, outcomes)
    }

    /// A run's result.json when --resume finds it finished.
    static func finishedResult(in run: URL) -> ActiveLearningLoop.Result? {
        let url = run.appendingPathComponent("result.json")
        guard let data = FileManager.default.contents(atPath: url.path),
            let done = try? JSONFileStyle.decode(ActiveLearningLoop.Result.self, from: data)
        else { return nil }
        Console.progress("realign \(done.strategy.rawValue) seed \(done.seed): done earlier (\(url.path))")
        return done
    }
}
