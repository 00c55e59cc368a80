import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `fuzz/crashes/<target>-current`: the input being parsed, written before every execution so a
/// trap or a crash, which ends the process, leaves the input that caused it behind. One open
/// descriptor, truncated and rewritten per input (no fsync: the page cache outlives the process).
final class CurrentInputFile {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FuzzError("\(path): cannot create the crash file: \(String(cString: strerror(errno)))")
        }
    }

    func store(_ bytes: [UInt8]) {
        _ = ftruncate(fd, 0)
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var written = 0
            while written < raw.count {
                let n = pwrite(fd, base + written, raw.count - written, off_t(written))
                if n <= 0 { break }
                written += n
            }
        }
    }

    /// The run ended cleanly: nothing crashed, so the file would only mislead.
    func discard() {
        close(fd)
        unlink(path)
    }
}

/// A problem with the fuzzer's own arguments or files (not a finding).
struct FuzzError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
