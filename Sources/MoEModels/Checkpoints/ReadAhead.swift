import Foundation

/// Bytes `range` of one checkpoint file (offsets from the file's start) that a parameter reads.
public struct FileExtent: @unchecked Sendable {
    public let file: SafeTensorsFile
    public let range: Range<Int>

    public init(file: SafeTensorsFile, range: Range<Int>) {
        self.file = file
        self.range = range
    }
}

/// Reads the stages of a pass into memory on a background thread while the caller computes with the stages
/// before them, so the disk stays busy while the CPU works (layer streaming: the embeddings, each layer,
/// the output head; see `LayerStreaming`).
///
/// Why a reader thread with owned buffers rather than `posix_fadvise(WILLNEED)` or a mapping: the bytes a
/// stage needs are known in full before it starts, the buffers bound the memory exactly (at most `depth`
/// stages beyond the one in use, so `depth + 1` stages' bytes), and the products read the buffers in place
/// (`SafeTensorsFile.bf16Matrix` lends them) instead of a second copy. Each stage's extents are merged into
/// regions (nearby byte runs of a file), read in chunks with `pread`, and a region is served to the file's
/// reads (`FileReader.stage`) once wholly read. Pages read are dropped from the page cache as they are
/// copied: every byte is read once per pass, and a checkpoint larger than memory would otherwise evict
/// everything else.
///
/// Only files opened with `.read` access are staged; extents of mapped files are left to the mapping.
final class ReadAhead: @unchecked Sendable {
    /// One run of bytes to read: `range` of `reader`'s file.
    private struct Region {
        let reader: FileReader
        let range: Range<Int>
    }

    private let plan: [[Region]]
    private let depth: Int
    private let chunkBytes: Int
    private let condition = NSCondition()
    /// Stages wholly read and staged (0..<read).
    private var read = 0
    /// Stages the caller is done with (0..<released).
    private var released = 0
    private var failure: Error?
    private var cancelled = false
    private var running = false
    private var staged: [[(FileReader, StagedRegion)]]

    /// `stages`: the extents each stage reads, in the order the caller uses them; `depth` ≥ 1 stages are read
    /// ahead of the one in use; extents closer than `gapBytes` are read as one region (the gap read too).
    init(stages: [[FileExtent]], depth: Int, chunkBytes: Int = 16 << 20, gapBytes: Int = 1 << 20) {
        precondition(depth >= 1 && chunkBytes > 0, "ReadAhead: depth \(depth), chunk \(chunkBytes)")
        self.depth = depth
        self.chunkBytes = chunkBytes
        plan = stages.map { Self.regions($0, gapBytes: gapBytes) }
        staged = Array(repeating: [], count: stages.count)
    }

    /// Stages read so far (tests check the bound).
    var stagesRead: Int {
        condition.lock()
        defer { condition.unlock() }
        return read
    }

    /// Bytes of the largest stage (what one stage holds in memory).
    var largestStageBytes: Int { plan.map { $0.reduce(0) { $0 + $1.range.count } }.max() ?? 0 }

    /// Merges extents per file: sorted, overlapping or nearby ones joined, widened to whole 4 KiB pages
    /// (a staged buffer then has the alignment a mapping gives every tensor).
    private static func regions(_ extents: [FileExtent], gapBytes: Int) -> [Region] {
        var byFile: [ObjectIdentifier: (FileReader, [Range<Int>])] = [:]
        var order: [ObjectIdentifier] = []
        for e in extents where !e.range.isEmpty {
            guard let reader = e.file.positionedReader else { continue }
            let key = ObjectIdentifier(reader)
            if byFile[key] == nil { order.append(key) }
            byFile[key, default: (reader, [])].1.append(e.range)
        }
        let page = 4096
        var regions: [Region] = []
        for key in order {
            let (reader, ranges) = byFile[key]!
            var merged: [Range<Int>] = []
            for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                let lower = r.lowerBound / page * page
                let upper = min(reader.size, (r.upperBound + page - 1) / page * page)
                if let last = merged.last, lower <= last.upperBound + gapBytes {
                    merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, upper)
                } else {
                    merged.append(lower..<upper)
                }
            }
            regions += merged.map { Region(reader: reader, range: $0) }
        }
        return regions
    }

    /// Starts the reader thread (once).
    func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !running, !cancelled else { return }
        running = true
        let thread = Thread { [self] in run() }
        thread.name = "expertlock.read-ahead"
        thread.start()
    }

    /// Blocks until stage `stage` is in memory; rethrows the read's error if it failed.
    func waitUntilRead(_ stage: Int) throws {
        condition.lock()
        defer { condition.unlock() }
        while read <= stage && failure == nil && running { condition.wait() }
        if read > stage { return }
        if let failure { throw failure }
    }

    /// The caller is done with `stage` (and every one before): its bytes are freed once nothing lends them
    /// any more (a `BF16Matrix` keeps its region alive), and the reader may go on.
    func release(_ stage: Int) {
        condition.lock()
        defer { condition.unlock() }
        guard stage >= released, released < staged.count else { return }
        for s in released..<min(stage + 1, staged.count) {
            for (reader, region) in staged[s] { reader.unstage(region) }
            staged[s] = []
        }
        released = stage + 1
        condition.broadcast()
    }

    /// Stops reading (waiting for the thread to leave its current chunk) and frees every staged stage.
    func stop() {
        condition.lock()
        defer { condition.unlock() }
        cancelled = true
        condition.broadcast()
        while running { condition.wait() }
        for s in staged.indices {
            for (reader, region) in staged[s] { reader.unstage(region) }
            staged[s] = []
        }
    }

    private func run() {
        defer {
            condition.lock()
            running = false
            condition.broadcast()
            condition.unlock()
        }
        for stage in plan.indices {
            condition.lock()
            while !cancelled && stage > released + depth { condition.wait() }
            let stop = cancelled
            condition.unlock()
            if stop { return }
            do {
                guard let regions = try readStage(stage) else { return }
                condition.lock()
                for (reader, region) in regions { reader.stage(region) }
                staged[stage] = regions
                read = stage + 1
                condition.broadcast()
                condition.unlock()
            } catch {
                condition.lock()
                failure = error
                condition.broadcast()
                condition.unlock()
                return
            }
        }
    }

    /// Reads the regions of `stage` into new buffers; nil when stopped part way.
    private func readStage(_ stage: Int) throws -> [(FileReader, StagedRegion)]? {
        var out: [(FileReader, StagedRegion)] = []
        for region in plan[stage] {
            let bytes = StagedRegion(range: region.range)
            var offset = region.range.lowerBound
            while offset < region.range.upperBound {
                if isCancelled { return nil }
                let count = min(chunkBytes, region.range.upperBound - offset)
                try region.reader.read(
                    into: bytes.buffer.baseAddress! + (offset - region.range.lowerBound), offset: offset, count: count)
                region.reader.dropCachedPages(offset..<(offset + count))
                offset += count
            }
            out.append((region.reader, bytes))
        }
        return out
    }

    private var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }
}
