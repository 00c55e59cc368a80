import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Copies a file into a new file of its own: never a hard link, whose bytes are the input's, so
/// writing the copy would change the input ("input models are never modified").
///
/// Where the file system can, the copy is a copy-on-write clone (Linux `ioctl(FICLONE)` on Btrfs,
/// XFS and others; macOS `clonefile` on APFS): instant, sharing blocks until either side writes,
/// when the written block is copied. Elsewhere the bytes are copied.
public enum FileCopy {
    /// How the last copy was made, for tests and progress lines.
    public enum Method: Sendable, Equatable { case cloned, copied }

    /// Copies `source` to `destination`, which must not exist. Errors name the destination and the cause.
    @discardableResult
    public static func copy(from source: URL, to destination: URL) throws -> Method {
        #if canImport(Darwin)
            if clonefile(source.path, destination.path, 0) == 0 { return .cloned }
        #endif
        let input = open(source.path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw FileCopyError(file: source.path, reason: "cannot open: \(FileMapping.errnoText())")
        }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0 else {
            throw FileCopyError(file: source.path, reason: "cannot stat: \(FileMapping.errnoText())")
        }
        let output = open(destination.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(info.st_mode & 0o777))
        guard output >= 0 else {
            throw FileCopyError(file: destination.path, reason: "cannot create: \(FileMapping.errnoText())")
        }
        var finished = false
        defer {
            close(output)
            if !finished { unlink(destination.path) }
        }
        #if os(Linux)
            // FICLONE = _IOW(0x94, 9, int): the whole file as a reflink, or an error (EOPNOTSUPP,
            // EXDEV, EINVAL) when the file system cannot, and then the bytes are copied.
            let ficlone: UInt = 0x4004_9409
            if ioctl(output, ficlone, input) == 0 {
                finished = true
                return .cloned
            }
        #endif
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let got = read(input, buffer, chunk)
            if got < 0 {
                if errno == EINTR { continue }
                throw FileCopyError(file: source.path, reason: "cannot read: \(FileMapping.errnoText())")
            }
            if got == 0 { break }
            var offset = 0
            while offset < got {
                let written = write(output, buffer + offset, got - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FileCopyError(file: destination.path, reason: "cannot write: \(FileMapping.errnoText())")
                }
                offset += written
            }
        }
        finished = true
        return .copied
    }
}

/// A failed copy, naming the file and the cause.
public struct FileCopyError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}
