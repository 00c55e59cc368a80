import Crypto
import Foundation
import MoEModels
import TensorCore

/// Attribution that survives a kill: the statistics of the batches done so far are saved in a
/// state file beside the output, and `--resume` adds the remaining batches to them.
///
/// Statistics are fixed-point Int64 sums (`ExpertStatistics`), so the saved sums plus those of the
/// remaining batches equal one uninterrupted run bit for bit; there is nothing else to restore (the
/// forward pass keeps no state between batches). The state is written atomically (temporary file,
/// fsync, rename), so a kill at any moment leaves either the previous state or the next.
public struct AttributionResumeState: Equatable {
    public static let format = "expertlock-attribute-state-1"

    /// What the run is over (model, corpus, batching, criterion): a state made for anything else
    /// is refused rather than silently merged.
    public var fingerprint: String
    public var batchesDone: Int
    public var totalBatches: Int
    /// Statistics of the first `batchesDone` batches.
    public var partial: ExpertAttribution

    public init(fingerprint: String, batchesDone: Int, totalBatches: Int, partial: ExpertAttribution) {
        self.fingerprint = fingerprint
        self.batchesDone = batchesDone
        self.totalBatches = totalBatches
        self.partial = partial
    }

    /// The state file of an output file: hidden, in the same folder (`.a.json.state`).
    public static func url(forOutput output: URL) -> URL {
        output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).state")
    }

    /// SHA-256 of everything a result depends on: the model's path, contents
    /// (`modelIdentity`, its `ModelFolderIdentity`: the same path may hold other weights) and
    /// shape, the criterion, and every token id of every batch in order (which covers data, task,
    /// format, context, limit and batch size).
    public static func fingerprint(
        modelPath: String, modelIdentity: String, signature: ModelSignature,
        criterion: AttributionCriterion, batches: [TokenBatch]
    ) -> String {
        var hasher = SHA256()
        func add(_ text: String) { hasher.update(data: Data((text + "\u{0}").utf8)) }
        func add(_ value: Int) {
            var v = Int64(value).littleEndian
            withUnsafeBytes(of: &v) { hasher.update(bufferPointer: $0) }
        }
        add(modelPath)
        add(modelIdentity)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]  // key order is otherwise not stable across processes
        add((try? encoder.encode(signature)).map { String(decoding: $0, as: UTF8.self) } ?? "")
        add(criterion.rawValue)
        add(batches.count)
        for batch in batches {
            add(batch.batch)
            add(batch.seq)
            for row in 0..<batch.tokenCount { add(batch.isValid(row: row) ? batch.ids[row] : -1) }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    public func write(to url: URL) throws {
        let object: [String: Any] = [
            "format": Self.format, "fingerprint": fingerprint, "batches_done": batchesDone,
            "total_batches": totalBatches, "attribution": partial.jsonObject(),
        ]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), to: url)
    }

    /// Reads a state file, or nil when there is none.
    public static func read(_ url: URL) throws -> AttributionResumeState? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw AttributionError.badState(file: url.path, reason: "cannot read the file")
        }
        return try decode(data, file: url.path)
    }

    /// Parses a state file held in memory; `file` is the name used in errors.
    public static func decode(_ data: Data, file: String) throws -> AttributionResumeState {
        func fail(_ reason: String) -> AttributionError { .badState(file: file, reason: reason) }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("not a JSON object")
        }
        guard root["format"] as? String == format else { throw fail("'format' is not \(format)") }
        guard let fingerprint = root["fingerprint"] as? String,
            let done = (root["batches_done"] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }),
            let total = (root["total_batches"] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }),
            done >= 0, done <= total
        else { throw fail("missing or malformed fingerprint, batches_done or total_batches") }
        guard let object = root["attribution"] as? [String: Any], JSONSerialization.isValidJSONObject(object),
            let attributionData = try? JSONSerialization.data(withJSONObject: object)
        else { throw fail("missing 'attribution'") }
        let partial = try ExpertAttribution.decode(attributionData, file: file)
        return AttributionResumeState(
            fingerprint: fingerprint, batchesDone: done, totalBatches: total, partial: partial)
    }
}

extension Attribution {
    /// `run`, saving the statistics to `stateURL` every `saveEvery` batches and, when `resume`,
    /// continuing from the state found there. The state file is removed by the caller once the
    /// output is written (`AttributionResumeState.url(forOutput:)`). `fingerprint`: the run's
    /// `AttributionResumeState.fingerprint`, when the caller has computed it already.
    public static func runResumable(
        model: MoEModel, modelPath: String, batches: [TokenBatch], criterion: AttributionCriterion = .soft,
        stateURL: URL, resume: Bool, saveEvery: Int = 1, fingerprint: String? = nil,
        progress: ((Int, Int, Int64) -> Bool)? = nil
    ) throws -> ExpertAttribution {
        let signature = ModelSignature(model: model)
        let fingerprint =
            fingerprint
            ?? AttributionResumeState.fingerprint(
                modelPath: modelPath,
                modelIdentity: ModelFolderIdentity.fingerprint(of: URL(fileURLWithPath: modelPath)),
                signature: signature, criterion: criterion, batches: batches)
        AtomicFile.removeStaleTemporaries(of: stateURL)
        var done = 0
        var total = ExpertAttribution(
            model: modelPath, signature: signature, tokens: 0,
            statistics: model.moeBlocks.map {
                [ExpertStatistics](repeating: ExpertStatistics(), count: $0.expertCount)
            },
            criterion: criterion)
        total.softMassIsApplied = AttributionCollector(model: model).softMassIsApplied
        if resume, let state = try AttributionResumeState.read(stateURL) {
            guard state.fingerprint == fingerprint, state.totalBatches == batches.count,
                state.partial.signature == signature
            else {
                throw AttributionError.resumeMismatch(
                    file: stateURL.path, reason: "it was written for another model, corpus or setting")
            }
            done = state.batchesDone
            total = state.partial
        }
        let step = max(1, saveEvery)
        while done < batches.count {
            let end = min(done + step, batches.count)
            let offset = done
            var processed = end - done
            var stopped = false
            let part = try run(
                model: model, modelPath: modelPath, batches: Array(batches[done..<end]), criterion: criterion
            ) {
                i, _, tokens in
                processed = i
                if let progress, !progress(offset + i, batches.count, total.tokens + tokens) { stopped = true }
                return !stopped
            }
            total = try total.merged(with: part)
            done += processed
            try AttributionResumeState(
                fingerprint: fingerprint, batchesDone: done, totalBatches: batches.count, partial: total
            )
            .write(to: stateURL)
            if stopped { break }
        }
        return total
    }
}
