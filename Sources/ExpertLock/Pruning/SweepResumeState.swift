import Crypto
import Foundation
import MoEModels

/// Where an interrupted `expertlock sweep` stands: the attribution it ranks experts by and the
/// points measured so far. Saved atomically after every evaluation beside the output folder, so a
/// killed sweep continues at the next point with `--resume` and writes the uninterrupted curve.
///
/// The attribution is saved rather than recomputed: a sweep that computed it on `--data` does not
/// pay for it twice, and the ranking cannot drift between the two halves of a run.
public struct SweepResumeState: Equatable {
    public static let format = "expertlock-sweep-state-1"

    /// SHA-256 of the settings and input files (`fingerprint(settings:files:)`).
    public var fingerprint: String
    public var attribution: ExpertAttribution
    public var progress: PrunabilitySweep.Progress

    public init(fingerprint: String, attribution: ExpertAttribution, progress: PrunabilitySweep.Progress) {
        self.fingerprint = fingerprint
        self.attribution = attribution
        self.progress = progress
    }

    /// The state file of an output folder: hidden, beside it (`.curve.sweep-state`).
    public static func url(forOutput output: URL) -> URL {
        output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).sweep-state")
    }

    /// SHA-256 over the settings (in order) and the bytes of each input file (a missing file
    /// counts as empty): a state written for other data or options is refused on resume.
    /// The hidden file in a finished sweep's folder holding its run's fingerprint: a `--resume`
    /// that finds the folder without its state knows it by this (a kill fell after the state was
    /// deleted) and reports the finished curve instead of refusing the folder.
    public static let runMarkerName = ".expertlock-sweep"

    public static func fingerprint(settings: [String], files: [URL]) -> String {
        var hasher = SHA256()
        for text in settings { hasher.update(data: Data((text + "\u{0}").utf8)) }
        for file in files {
            let data = FileManager.default.contents(atPath: file.path) ?? Data()
            var count = Int64(data.count).littleEndian
            withUnsafeBytes(of: &count) { hasher.update(bufferPointer: $0) }
            hasher.update(data: data)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The file as stored: Codable, so metrics go through `JSONEncoder`'s shortest round-trip
    /// form and read back bit for bit; the attribution is its own file's JSON text.
    struct Stored: Codable {
        var format: String
        var fingerprint: String
        var attribution: String
        var progress: PrunabilitySweep.Progress
    }

    static func coders() -> (JSONEncoder, JSONDecoder) {
        let (inf, negInf, nan) = ("inf", "-inf", "nan")
        let encoder = JSONFileStyle.encoder(pretty: false)
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: inf, negativeInfinity: negInf, nan: nan)
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: inf, negativeInfinity: negInf, nan: nan)
        return (encoder, decoder)
    }

    public func write(to url: URL) throws {
        let attributionText = try JSONSerialization.data(
            withJSONObject: attribution.jsonObject(), options: [.sortedKeys])
        let stored = Stored(
            format: Self.format, fingerprint: fingerprint,
            attribution: String(decoding: attributionText, as: UTF8.self),
            progress: progress)
        try AtomicFile.write(try Self.coders().0.encode(stored), to: url)
    }

    /// Reads a state file, or nil when there is none.
    public static func read(_ url: URL) throws -> SweepResumeState? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw PruningError.badSweepState(file: url.path, reason: "cannot read the file")
        }
        return try decode(data, file: url.path)
    }

    /// Parses a state file held in memory; `file` is the name used in errors.
    public static func decode(_ data: Data, file: String) throws -> SweepResumeState {
        let stored: Stored
        do {
            let strategy = coders().1.nonConformingFloatDecodingStrategy
            stored = try JSONFileStyle.decode(Stored.self, from: data) {
                $0.nonConformingFloatDecodingStrategy = strategy
            }
        } catch _ {
            throw PruningError.badSweepState(
                file: file, reason: "malformed JSON, or a field missing or of the wrong type")
        }
        guard stored.format == format else {
            throw PruningError.badSweepState(file: file, reason: "'format' is not \(format)")
        }
        let attribution = try ExpertAttribution.decode(Data(stored.attribution.utf8), file: file)
        return SweepResumeState(fingerprint: stored.fingerprint, attribution: attribution, progress: stored.progress)
    }
}

extension PrunabilitySweep {
    /// What a resumable sweep measures: the model, its metric, and where its ranking and merge
    /// calibration come from (each asked for only when the run needs it: a resumed run reads the
    /// ranking from its state, a finished one needs neither).
    public struct Job {
        public var model: MoEModel
        public var metricName: String
        public var higherIsBetter: Bool
        public var parameters: Parameters
        public var evaluate: (MoEModel) throws -> Double
        /// SHA-256 of the settings and inputs (`SweepResumeState.fingerprint(settings:files:)`).
        public var fingerprint: String
        public var ranking: () throws -> ExpertAttribution
        public var calibration: () throws -> MergeCalibration?

        public init(
            model: MoEModel, metricName: String, higherIsBetter: Bool, parameters: Parameters,
            evaluate: @escaping (MoEModel) throws -> Double, fingerprint: String,
            ranking: @escaping () throws -> ExpertAttribution, calibration: @escaping () throws -> MergeCalibration?
        ) {
            self.model = model
            self.metricName = metricName
            self.higherIsBetter = higherIsBetter
            self.parameters = parameters
            self.evaluate = evaluate
            self.fingerprint = fingerprint
            self.ranking = ranking
            self.calibration = calibration
        }
    }

    /// A sweep that survives a kill, into an `.atOnce` output folder: the state (ranking and points
    /// so far) is saved beside it after every point, `--resume` continues at the next point, and
    /// the finished folder carries the run's fingerprint (`SweepResumeState.runMarkerName`), by
    /// which a resumed run recognises a folder it finished before a kill. `write` fills the folder.
    /// `resumed` is told how many points a resumed run already has.
    public static func runResumable(
        _ job: Job, output: ResumableOutput, progress: ((Int, Int) -> Bool)? = nil, resumed: (Int) -> Void = { _ in },
        write: (PrunabilityCurve, URL) throws -> Void
    ) throws -> (curve: PrunabilityCurve, finishedBefore: Bool) {
        let marker = output.url.appendingPathComponent(SweepResumeState.runMarkerName)
        let curveFile = output.url.appendingPathComponent("curve.json")
        if try output.finishedRun(matches: { (try? String(contentsOf: marker, encoding: .utf8)) == job.fingerprint }) {
            return (try JSONFileStyle.decode(PrunabilityCurve.self, from: Data(contentsOf: curveFile)), true)
        }
        output.removeStaleTemporaries()
        guard let stateURL = output.state else { preconditionFailure("a sweep writes its output at once") }
        let saved = output.resume ? try SweepResumeState.read(stateURL) : nil
        if let saved, saved.fingerprint != job.fingerprint {
            throw PruningError.badSweepState(file: stateURL.path, reason: "written for other data or options")
        }
        let ranking = try saved?.attribution ?? job.ranking()
        if saved == nil {
            try SweepResumeState(fingerprint: job.fingerprint, attribution: ranking, progress: .init()).write(
                to: stateURL)
        }
        let calibration = try job.calibration()
        if let saved { resumed(saved.progress.points.count) }
        let curve = try run(
            model: job.model, attribution: ranking, metricName: job.metricName, higherIsBetter: job.higherIsBetter,
            parameters: job.parameters, evaluate: job.evaluate, progress: progress, resume: saved?.progress,
            save: {
                try SweepResumeState(fingerprint: job.fingerprint, attribution: ranking, progress: $0).write(
                    to: stateURL)
            },
            calibration: calibration)
        try output.writeFolder { folder in
            try write(curve, folder)
            try AtomicFile.write(
                Data(job.fingerprint.utf8), to: folder.appendingPathComponent(SweepResumeState.runMarkerName))
        }
        return (curve, false)
    }
}
