import ArgumentParser
import Crypto
import ExpertLock
import Foundation
import MoEModels

/// The perplexity result file of `eval --out` (docs/SHARDS.md): the settings, the exact partial
/// log-likelihood of every window batch (its Double's bits in hex beside the readable value) and,
/// unless it is one shard, the perplexity they give. One run's file and the merge of its N
/// shards' files are the same bytes.
enum PerplexityFile {
    static let format = "expertlock-perplexity-1"

    static func object(
        model: String, runFingerprint: String, context: Int, stride: Int, batches: Int,
        partials: [Perplexity.Partial], shard: Shard?
    ) throws -> [String: Any] {
        var object: [String: Any] = [
            "format": format, "model": model, "run_fingerprint": runFingerprint, "context": context, "stride": stride,
            "batches": batches,
            "partials": partials.sorted { $0.batch < $1.batch }.map { p -> [String: Any] in
                [
                    "batch": p.batch, "log_likelihood": p.logLikelihood, "tokens": p.tokens,
                    "log_likelihood_bits": String(format: "%016llx", p.logLikelihood.bitPattern),
                ]
            },
        ]
        if let shard {
            object["shard"] = shard.description
        } else {
            let result = try Perplexity.combine(partials)
            object["perplexity"] = result.perplexity
            object["nll"] = result.nll
            object["tokens"] = result.tokens
        }
        return object
    }

    /// A shard file's partials, checked.
    static func read(_ file: String) throws -> (object: [String: Any], partials: [Perplexity.Partial]) {
        func fail(_ reason: String) -> ArgumentInputError {
            ArgumentInputError("\(file): not a perplexity shard file: \(reason)")
        }
        guard let data = FileManager.default.contents(atPath: file) else { throw fail("cannot read the file") }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            object["format"] as? String == format
        else { throw fail("'format' is not \(format)") }
        guard let rows = object["partials"] as? [[String: Any]] else { throw fail("no 'partials'") }
        let partials = try rows.map { row -> Perplexity.Partial in
            guard let batch = (row["batch"] as? NSNumber)?.intValue,
                let tokens = (row["tokens"] as? NSNumber)?.intValue,
                let hex = row["log_likelihood_bits"] as? String, hex.count == 16, let bits = UInt64(hex, radix: 16),
                batch >= 0, tokens >= 0
            else { throw fail("a malformed partial") }
            return Perplexity.Partial(batch: batch, logLikelihood: Double(bitPattern: bits), tokens: tokens)
        }
        return (object, partials)
    }
}

extension EvalCommand {
    /// Perplexity through exact per-batch partials: one shard's with `--shard`, every batch's otherwise.
    func evaluatePerplexityShard(_ model: MoEModel, context: Int) throws -> [String: Any] {
        let shard = try self.shard.map(Shard.init(parsing:))
        let tokenIds = try perplexityIds(vocabSize: model.config.vocabSize)
        let parameters = Perplexity.Parameters(context: context, stride: stride, batchSize: batch ?? 4)
        let batches = try Perplexity.batchCount(ids: tokenIds, parameters: parameters)
        let meter = ProgressLine("perplexity", unit: "batches")
        let partials = try Perplexity.partials(model: model, ids: tokenIds, parameters: parameters, shard: shard) {
            meter.update($0, of: $1)
        }
        let modelPath = self.model ?? ""
        var object = try PerplexityFile.object(
            model: modelPath, runFingerprint: runFingerprint(ids: tokenIds, parameters: parameters),
            context: parameters.context, stride: parameters.stride ?? parameters.context, batches: batches,
            partials: partials, shard: shard)
        if let out { try write(object, to: out) }
        object["tokens_per_s"] = Double(partials.reduce(0) { $0 + $1.tokens }) / meter.elapsed
        return object
    }

    /// SHA-256 of the model (path and folder identity), the token ids and the window settings.
    func runFingerprint(ids: [Int], parameters: Perplexity.Parameters) -> String {
        var hasher = SHA256()
        let modelPath = model ?? ""
        let settings =
            "perplexity\u{0}\(modelPath)\u{0}"
            + "\(ModelFolderIdentity.fingerprint(of: URL(fileURLWithPath: modelPath)))\u{0}"
            + "\(parameters.context) \(parameters.stride ?? parameters.context) \(parameters.batchSize)\u{0}"
            + (precision.precision == .f32 ? "" : "precision=bf16\u{0}")  // bf16 shards never merge with f32 ones
        hasher.update(data: Data(settings.utf8))
        ids.map { Int64($0).littleEndian }.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// `eval --task perplexity --merge FILES`: all N shards of one run, added in batch order.
    func runMerge() throws {
        guard task == .perplexity else { throw ArgumentInputError("--merge works with --task perplexity") }
        guard model == nil, data == nil, ids == nil, shard == nil else {
            throw ArgumentInputError("--merge reads only shard files: drop --model, --data, --ids and --shard")
        }
        guard out != nil || output.json else { throw ArgumentInputError("--merge needs --out FILE or --json") }
        if let out { try refuseOutputOverlappingInputs(out, inputs: merge) }
        let files = try merge.map { try PerplexityFile.read($0) }
        var shards: [Shard] = []
        for (file, read) in zip(merge, files) {
            guard let spec = read.object["shard"] as? String else {
                throw ShardError.incomplete(files: merge, reason: "\(file) is not a shard (--shard I/N)")
            }
            shards.append(try Shard(parsing: spec))
            for key in ["run_fingerprint", "model", "context", "stride", "batches"]
            where !(read.object[key] as? NSObject == files[0].object[key] as? NSObject) {
                throw ShardError.differentRuns(first: merge[0], second: file)
            }
        }
        try Shard.checkComplete(shards, files: merge)
        let partials = files.flatMap(\.partials)
        let first = files[0].object
        guard let batches = (first["batches"] as? NSNumber)?.intValue,
            partials.map(\.batch).sorted() == Array(0..<batches)
        else { throw ShardError.incomplete(files: merge, reason: "the shards' batches do not cover the run once") }
        let object = try PerplexityFile.object(
            model: first["model"] as? String ?? "", runFingerprint: first["run_fingerprint"] as? String ?? "",
            context: (first["context"] as? NSNumber)?.intValue ?? 0,
            stride: (first["stride"] as? NSNumber)?.intValue ?? 0,
            batches: batches, partials: partials, shard: nil)
        if let out { try write(object, to: out) }
        if output.json {
            try Console.printJSON(object)
        } else {
            for key in ["perplexity", "nll", "tokens"] { print("\(key): \(object[key]!)") }
            if let out { print("wrote \(out)") }
        }
    }

    private func write(_ object: [String: Any], to out: String) throws {
        let url = URL(fileURLWithPath: out)
        if FileManager.default.fileExists(atPath: url.path) && !overwrite { throw OutputError.exists(out) }
        try AtomicFile.write(
            try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]), to: url)
    }
}
