import Foundation

/// Small data files written to a fresh temporary folder, and the shared real data when present.
enum DatasetFiles {
    static func write(_ name: String, _ contents: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        return url
    }

    /// ../shared/data relative to the package root (derived from this file's path).
    static let sharedData: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Datasets
        .deletingLastPathComponent()  // ExpertLockTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .deletingLastPathComponent()
        .appendingPathComponent("shared/data")

    static func shared(_ path: String) -> URL? {
        let url = sharedData.appendingPathComponent(path)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }
}
