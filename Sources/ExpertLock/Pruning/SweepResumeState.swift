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
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: inf, negativeInfinity: negInf, nan: nan)
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: inf, negativeInfinity: negInf, nan: nan)
        return (encoder, decoder)
    }

    public func write(to url: URL) throws {
        let attributionText = try JSONSerialization.data(withJSONObject: attribution.jsonObject(), options: [.sortedKeys])
        let stored = Stored(
            format: Self.format, fingerprint: fingerprint, attribution: String(decoding: attributionText, as: UTF8.self),
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
            throw PruningError.badSweepState(file: file, reason: "malformed JSON, or a field missing or of the wrong type")
        }
        guard stored.format == format else {
            throw PruningError.badSweepState(file: file, reason: "'format' is not \(format)")
        }
        let attribution = try ExpertAttribution.decode(Data(stored.attribution.utf8), file: file)
        return SweepResumeState(fingerprint: stored.fingerprint, attribution: attribution, progress: stored.progress)
    }
}
