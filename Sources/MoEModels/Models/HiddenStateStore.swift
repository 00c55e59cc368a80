import Foundation
import TensorCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The residual stream of every batch of a corpus between two layers of `LayerStreaming`:
/// batch i's hidden states [N_i, C], in memory or, for a corpus too large, in a temporary file.
///
/// Batch i always occupies the same bytes of the file (its row count is fixed), and a layer reads
/// batch i before it writes batch i's output, so one file serves every layer in place. The file is
/// unlinked as soon as it is created: it disappears with the process, even on a crash.
final class HiddenStateStore {
    let width: Int
    private let rowCounts: [Int]
    private var memory: [Tensor?]
    private let descriptor: Int32?
    private let offsets: [Int]

    /// `spillDirectory`: where the temporary file goes (nil: keep everything in memory).
    init(rowCounts: [Int], width: Int, spillDirectory: URL?) throws {
        self.width = width
        self.rowCounts = rowCounts
        var offsets: [Int] = []
        var total = 0
        for rows in rowCounts {
            offsets.append(total)
            total += rows * width * MemoryLayout<Float>.size
        }
        self.offsets = offsets
        memory = [Tensor?](repeating: nil, count: rowCounts.count)
        guard let spillDirectory else {
            descriptor = nil
            return
        }
        let path = spillDirectory.appendingPathComponent("expertlock-hidden-\(UUID().uuidString).f32").path
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LayerStreamingError.spillFailed(file: path, reason: FileMapping.errnoText()) }
        unlink(path)
        descriptor = fd
    }

    deinit { if let descriptor { close(descriptor) } }

    var spills: Bool { descriptor != nil }

    /// Total bytes of hidden states for `rowCounts` batches of `width` floats per row.
    static func byteCount(rowCounts: [Int], width: Int) -> Int {
        rowCounts.reduce(0, +) * width * MemoryLayout<Float>.size
    }

    func write(_ i: Int, _ h: Tensor) throws {
        precondition(h.shape == [rowCounts[i], width], "HiddenStateStore: batch \(i) is \(h.shape)")
        guard let descriptor else {
            memory[i] = h
            return
        }
        try h.withUnsafeBufferPointer { buffer in
            let raw = UnsafeRawBufferPointer(buffer)
            var done = 0
            while done < raw.count {
                let n = pwrite(descriptor, raw.baseAddress! + done, raw.count - done, off_t(offsets[i] + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw LayerStreamingError.spillFailed(file: "<hidden states>", reason: FileMapping.errnoText())
                }
                done += n
            }
        }
    }

    /// Batch i's hidden states; in memory they are handed over and forgotten (the caller writes the
    /// next layer's states back), so only one copy of each batch exists.
    func read(_ i: Int) throws -> Tensor {
        guard let descriptor else {
            guard let h = memory[i] else { preconditionFailure("HiddenStateStore: batch \(i) read before written") }
            memory[i] = nil
            return h
        }
        let count = rowCounts[i] * width
        var failure: Error?
        let h = Tensor(shape: [rowCounts[i], width]) { out in
            let raw = UnsafeMutableRawBufferPointer(out)
            var done = 0
            while done < raw.count {
                let n = pread(descriptor, raw.baseAddress! + done, raw.count - done, off_t(offsets[i] + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failure = LayerStreamingError.spillFailed(
                        file: "<hidden states>", reason: n == 0 ? "short read" : FileMapping.errnoText())
                    return
                }
                done += n
            }
        }
        if let failure { throw failure }
        precondition(h.count == count)
        return h
    }
}
