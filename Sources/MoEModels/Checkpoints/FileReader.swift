import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file kept open for positioned reads (`pread`), never mapped: the alternative to
/// `FileMapping` when the process may not reserve address space for the whole checkpoint.
///
/// Layer streaming reads each tensor once per corpus; with a mapping the file's pages would stay in
/// the process's resident set (and its whole size in its address space, which `RLIMIT_AS` counts),
/// while `pread` copies the bytes into a buffer freed after conversion. The pages still pass
/// through the kernel's page cache, which the kernel evicts under pressure.
final class FileReader: @unchecked Sendable {
    let path: String
    let size: Int
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SafeTensorsError.cannotOpen(file: path, reason: FileMapping.errnoText()) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let reason = FileMapping.errnoText()
            close(fd)
            throw SafeTensorsError.cannotOpen(file: path, reason: reason)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw SafeTensorsError.cannotOpen(file: path, reason: "not a regular file")
        }
        descriptor = fd
        size = Int(status.st_size)
    }

    deinit { close(descriptor) }

    /// Reads bytes `offset..<offset + count` into a temporary buffer lent to `body`.
    func withBytes<R>(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        precondition(offset >= 0 && count >= 0 && offset + count <= size, "\(path): read \(offset)+\(count) beyond \(size)")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        defer { buffer.deallocate() }
        var done = 0
        while done < count {
            let n = pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = n == 0 ? "file shrank while reading" : FileMapping.errnoText()
                throw SafeTensorsError.cannotOpen(file: path, reason: "read at byte \(offset + done): \(reason)")
            }
            done += n
        }
        return try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
    }
}
