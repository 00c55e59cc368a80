import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole file mapped read-only into memory; unmapped when the last reference goes away.
///
/// `MAP_PRIVATE` + `PROT_READ`: pages come from the page cache on first touch, so opening a
/// 90 GB checkpoint costs nothing until a tensor is read, and several processes share the pages.
/// Views handed out (`Data` in `StoredTensor`) keep a reference to the mapping, so it outlives
/// the `SafeTensorsFile` that created it. The memory is read-only: writing through a view crashes.
final class FileMapping: @unchecked Sendable {
    let base: UnsafeRawPointer?
    let size: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SafeTensorsError.cannotOpen(file: path, reason: Self.errnoText()) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw SafeTensorsError.cannotOpen(file: path, reason: Self.errnoText()) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw SafeTensorsError.cannotOpen(file: path, reason: "not a regular file")
        }
        size = Int(status.st_size)
        guard size > 0 else {  // mmap refuses a zero length; the header check reports the short file
            base = nil
            return
        }
        let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let pointer, pointer != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw SafeTensorsError.cannotOpen(file: path, reason: "mmap failed: \(Self.errnoText())")
        }
        base = UnsafeRawPointer(pointer)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// The mapped bytes (empty for an empty file).
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: base == nil ? 0 : size) }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
