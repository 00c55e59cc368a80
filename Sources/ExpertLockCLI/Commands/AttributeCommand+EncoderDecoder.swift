import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

extension AttributeCommand {
    /// `attribute` of a switch_transformers folder: routing statistics of every encoder and decoder sparse layer
    /// over the task's source/target pairs (`EncoderDecoderTask.pairs`). Layers are numbered over both stacks
    /// (decoder block B is num_layers + B) and named in each layer entry (`"name": "decoder.1"`).
    func runEncoderDecoder(model path: String, criterion: AttributionCriterion) throws {
        guard let data else { throw ArgumentInputError("attribute of an encoder-decoder model needs --data") }
        if ids != nil || shard != nil || resume || streaming.streamLayers || criterion == .ablation {
            throw ArgumentInputError(
                "\(path): an encoder-decoder model is attributed from --data in one run (no --ids, --shard, --resume, "
                    + "--stream-layers or ablation)")
        }
        if let out, !overwrite, FileManager.default.fileExists(atPath: out) { throw OutputError.exists(out) }
        let folder = URL(fileURLWithPath: path)
        let model = try SwitchTransformersModel.load(directory: folder)
        let task = try EncoderDecoderTask(
            model: model, folder: folder, task: self.task, data: data, format: format, limit: limit,
            maxTokens: context ?? 512)
        let progress = ProgressLine("attribute")
        var attribution = try Attribution.run(
            switchModel: model, modelPath: path, pairs: task.pairs, criterion: criterion
        ) {
            progress.update(done: $0, total: $1, tokens: $2)
            return true
        }
        attribution.modelFingerprint = ModelFolderIdentity.fingerprint(of: folder)
        var object = attribution.jsonObject()
        let names = model.config.sparseLayers.map(\.description)
        if var layers = object["layers"] as? [[String: Any]] {
            for i in layers.indices { layers[i]["name"] = names[i] }
            object["layers"] = layers
        }
        if let out {
            let bytes = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            try AtomicFile.write(bytes, to: URL(fileURLWithPath: out))
        }
        if output.json {
            try Console.printJSON(object)
        } else {
            for (l, name) in names.enumerated() {
                let ranking = attribution.ranking(layer: l, criterion: criterion)
                print("\(name): experts by \(criterion.rawValue) \(ranking)")
            }
            if let out { print("wrote \(out)") }
        }
    }
}
