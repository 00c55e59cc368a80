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

    /// Reads bytes `offset..<offset + count` into a temporary buffer lent to `body`; bytes already staged in
    /// memory (`stage`, layer streaming's read-ahead) are lent from there without a read or a copy.
    func withBytes<R>(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        precondition(
            offset >= 0 && count >= 0 && offset + count <= size, "\(path): read \(offset)+\(count) beyond \(size)")
        if let region = stagedRegion(covering: offset..<(offset + count)) {
            return try withExtendedLifetime(region) { try body(region.bytes(offset..<(offset + count))) }
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        defer { buffer.deallocate() }
        try read(into: buffer.baseAddress!, offset: offset, count: count)
        return try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
    }

    /// Reads bytes `offset..<offset + count` into `destination` (looping over short reads).
    func read(into destination: UnsafeMutableRawPointer, offset: Int, count: Int) throws {
        var done = 0
        while done < count {
            let n = pread(descriptor, destination + done, count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = n == 0 ? "file shrank while reading" : FileMapping.errnoText()
                throw SafeTensorsError.cannotOpen(file: path, reason: "read at byte \(offset + done): \(reason)")
            }
            done += n
        }
    }

    /// Tells the kernel the pages of `range` will not be read again (they leave the page cache): a streamed
    /// checkpoint larger than memory would otherwise push every other file out of it. No-op off Linux.
    func dropCachedPages(_ range: Range<Int>) {
        #if os(Linux)
            _ = posix_fadvise(descriptor, off_t(range.lowerBound), off_t(range.count), POSIX_FADV_DONTNEED)
        #endif
    }

    // MARK: - Staged bytes

    private let lock = NSLock()
    private var staged: [StagedRegion] = []

    /// Serves reads inside `region` from its bytes until `unstage`.
    func stage(_ region: StagedRegion) {
        lock.withLock { staged.append(region) }
    }

    func unstage(_ region: StagedRegion) {
        lock.withLock { staged.removeAll { $0 === region } }
    }

    /// The staged region holding all of `range`, if any.
    func stagedRegion(covering range: Range<Int>) -> StagedRegion? {
        lock.withLock { staged.first { range.clamped(to: $0.range) == range } }
    }
}

/// Bytes `range` of a file held in memory the process owns (read ahead of their use); freed with the last
/// reference (a `BF16Matrix` lent from it keeps it alive).
final class StagedRegion: @unchecked Sendable {
    let range: Range<Int>
    let buffer: UnsafeMutableRawBufferPointer

    init(range: Range<Int>) {
        self.range = range
        // Page-aligned, like a mapping: a tensor's address has the alignment its file offset has. A large region
        // is aligned to 2 MiB and asks for huge pages: a layer of a real model is ~1 GB, which would otherwise
        // take a quarter of a million page faults to fill (and as many TLB entries to read).
        let huge = 2 << 20
        let count = max(range.count, 1)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: count >= 2 * huge ? huge : 4096)
        #if os(Linux)
            if count >= 2 * huge { _ = madvise(buffer.baseAddress, count, MADV_HUGEPAGE) }
        #endif
    }

    deinit { buffer.deallocate() }

    /// The bytes of file range `part` (inside `range`).
    func bytes(_ part: Range<Int>) -> UnsafeRawBufferPointer {
        let start = part.lowerBound - range.lowerBound
        return UnsafeRawBufferPointer(rebasing: buffer[start..<(start + part.count)])
    }
}
