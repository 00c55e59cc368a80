import Foundation
import Testing

/// Locations and small builders shared by the MoEModels tests.
enum TestSupport {
    /// The committed fixtures (copied into the test bundle by Package.swift).
    static var fixtures: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)
            ?? packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures")
    }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath)  // …/Tests/MoEModelsTests/Support/TestSupport.swift
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// Real public data next to the package (`../shared/data`); absent in a user's clone.
    static var sharedData: URL { packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data") }

    static func sharedDataExists(_ relativePath: String) -> Bool {
        FileManager.default.fileExists(atPath: sharedData.appendingPathComponent(relativePath).path)
    }

    /// Runs `body` with a fresh empty folder that is removed afterwards.
    static func withTemporaryDirectory<R>(_ body: (URL) throws -> R) throws -> R {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("expertlock-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        return try body(url)
    }

    static func readJSON(_ url: URL) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        return try #require(object as? [String: Any], "\(url.path) is not a JSON object")
    }

    /// A safetensors file from a header string and data bytes; `length` overrides the header length.
    static func safetensorsBytes(header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
        var out = Data()
        var n = (length ?? UInt64(header.utf8.count)).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        out.append(contentsOf: data)
        return out
    }

    /// Integers of a JSON array (as `JSONSerialization` returns them).
    static func ints(_ value: Any?) -> [Int] {
        (value as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.intValue }
    }

    static func bits(_ value: Any?) -> [UInt32] {
        (value as? [Any] ?? []).compactMap { ($0 as? NSNumber).map { UInt32(truncatingIfNeeded: $0.int64Value) } }
    }
}
