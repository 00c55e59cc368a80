import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a file so that readers see either the old file or the complete new one, never a torn
/// one: the bytes go to `<name>.tmp-<random>` in the same folder (same file system, so the
/// rename is atomic), are fsynced, then renamed over the target; the folder is fsynced so the
/// rename survives a crash. On any error the temporary file is removed.
public final class AtomicFile {
    let destination: URL
    let temporaryPath: String
    private var fd: Int32
    private var finished = false  // renamed into place, or cleaned up
    private let failure: (String) -> any Error

    /// Runs `body` with a fresh temporary file and commits it; `failure` builds the error thrown
    /// for a system-call failure from its reason (callers name the file in their own error type).
    static func write(
        to destination: URL, failure: @escaping (String) -> any Error, _ body: (AtomicFile) throws -> Void
    ) throws {
        let file = try AtomicFile(destination: destination, failure: failure)
        do {
            try body(file)
            try file.commit()
        } catch {
            file.abandon()
            throw error
        }
    }

    /// Writes `data` to `url` atomically (creating the folder); errors name the file.
    public static func write(_ data: Data, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try write(to: url, failure: { AtomicWriteError(file: url.path, reason: $0) }) { try $0.write(data) }
    }

    /// Writes UTF-8 text atomically.
    public static func write(_ text: String, to url: URL) throws { try write(Data(text.utf8), to: url) }

    /// Removes the `<name>.tmp-<random>` files a killed writer of `url` left behind. Only for a
    /// command that owns `url` (a resumed run): another process writing it now would lose its
    /// temporary file.
    public static func removeStaleTemporaries(of url: URL) {
        let folder = url.deletingLastPathComponent()
        let prefix = url.lastPathComponent + ".tmp-"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix(prefix) {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    private init(destination: URL, failure: @escaping (String) -> any Error) throws {
        self.destination = destination
        self.failure = failure
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        temporaryPath = destination.path + ".tmp-" + suffix
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        // The reason names no temporary file: the user named `destination`, the error names it.
        guard fd >= 0 else { throw failure(FileMapping.errnoText()) }
    }

    deinit { abandon() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = posixWrite(fd, next, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw failure(FileMapping.errnoText())
            }
            next += written
            remaining -= written
        }
    }

    func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    func write(_ string: String) throws {
        var copy = string
        try copy.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    private func commit() throws {
        guard fsync(fd) == 0 else { throw failure(FileMapping.errnoText()) }
        let closed = close(fd)
        fd = -1
        guard closed == 0 else { throw failure(FileMapping.errnoText()) }
        guard rename(temporaryPath, destination.path) == 0 else {
            throw failure(FileMapping.errnoText())
        }
        finished = true
        // Make the rename durable; a failure here leaves a correct file, so it is not an error.
        let directory = open(destination.deletingLastPathComponent().path, O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
    }

    private func abandon() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !finished {
            unlink(temporaryPath)
            finished = true
        }
    }
}

/// POSIX `write`, named apart from `AtomicFile.write`.
@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Darwin)
        Darwin.write(fd, buffer, count)
    #elseif canImport(Musl)
        Musl.write(fd, buffer, count)
    #else
        Glibc.write(fd, buffer, count)
    #endif
}

/// A failed atomic write (disk full, permission denied, …), naming the file.
public struct AtomicWriteError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): cannot write: \(reason)" }
}
