import ArgumentParser
import ExpertLock
import Foundation
import MoEModels

extension AttributeCommand {
    /// `attribute --traces`: the attribution a client of a serving engine can compute from the
    /// routing it is handed, with only the model's `config.json` (docs/TRACES.md).
    func runTraces() throws {
        guard merge.isEmpty, data == nil, ids == nil else {
            throw ArgumentInputError("--traces replaces --data, --ids and --merge; pass one of them")
        }
        guard !resume, !streaming.streamLayers else {
            throw ArgumentInputError("--traces reads no model weights: drop --resume and --stream-layers")
        }
        guard let model else {
            throw ArgumentInputError("--traces needs --model (a folder with the model's config.json)")
        }
        if let out { try refuseOutputOverlappingInputs(out, inputs: [model] + traces) }
        let replace =
            try out.map {
                try OutputDirectory.mayReplace(URL(fileURLWithPath: $0), overwrite: overwrite, resumingFrom: nil)
            }
            ?? overwrite
        let folder = URL(fileURLWithPath: model)
        let shape = RoutingShape(config: try ModelConfig.load(from: folder))
        let shard = try self.shard.map(Shard.init(parsing:))
        var all: [RoutingTrace] = []
        for file in traces { all += try RoutingTraceReader.read(URL(fileURLWithPath: file), shape: shape) }
        let selected = shard.map { Array(all[$0.range(of: all.count)]) } ?? all
        var attribution = try TraceAttribution.attribute(
            traces: selected, shape: shape, modelPath: model, criterion: criterion, files: traces)
        // With the weights at hand, the file carries the folder's identity, as a model run's does,
        // so it merges with those shards and is refused for another model's; a folder with only
        // config.json (the usual case for a served model) identifies nothing beyond its shapes.
        let hasWeights = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .contains { $0.hasSuffix(".safetensors") }
        if hasWeights { attribution.modelFingerprint = ModelFolderIdentity.fingerprint(of: folder) }
        var object = attribution.jsonObject()
        object["run_fingerprint"] = TraceAttribution.runFingerprint(
            traces: all, modelPath: model, shape: shape, criterion: criterion)
        if let shard { object["shard"] = shard.description }
        if let out {
            let url = URL(fileURLWithPath: out)
            if FileManager.default.fileExists(atPath: url.path) && !replace { throw OutputError.exists(out) }
            try AtomicFile.write(
                try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]), to: url)
        }
        if output.json {
            try Console.printJSON(object)
        } else {
            let formats = attribution.source?.kinds.joined(separator: ", ") ?? ""
            Console.progress(
                "\(selected.count) requests (\(formats)), \(attribution.tokens) tokens; criteria: "
                    + (attribution.source?.criteria.map(\.rawValue).joined(separator: ", ") ?? ""))
            for (l, layer) in attribution.shares(attribution.criterion).enumerated() {
                print(
                    "layer \(attribution.signature.sparseLayers[l]): "
                        + layer.map { String(format: "%.3f", $0) }.joined(separator: " "))
            }
            if let out { print("wrote \(out)") }
        }
    }
}

/// Shard outputs (`--shard I/N`) carry the whole run's `run_fingerprint` and their `shard`.
enum ShardFiles {
    /// The run fingerprint when `files` are all N shards of one run (the merged file is then that
    /// run's file); nil when none is a shard. Some shards, shards of two runs, or a missing or
    /// repeated shard: exit 2.
    static func completeRun(_ files: [String]) throws -> String? {
        var shards: [Shard] = []
        var run: String?
        var unsharded: String?
        for file in files {
            let object =
                (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))))
                as? [String: Any]
            guard let spec = object?["shard"] as? String else {
                unsharded = file
                continue
            }
            shards.append(try Shard(parsing: spec))
            let fingerprint = object?["run_fingerprint"] as? String ?? ""
            if let run, run != fingerprint { throw ShardError.differentRuns(first: files[0], second: file) }
            run = fingerprint
        }
        guard !shards.isEmpty else { return nil }
        if let unsharded {
            throw ShardError.incomplete(
                files: files, reason: "\(unsharded) is not a shard (--shard I/N) of the others' run")
        }
        try Shard.checkComplete(shards, files: files)
        return run
    }
}
