import Foundation
import TensorCore
import Testing

@testable import MoEModels

/// The read-ahead of layer streaming: staged bytes are the file's bytes and products read them in place,
/// at most `depth` stages are held beyond the one in use, a failed read reaches the caller, and stopping
/// frees everything.
struct ReadAheadTests {
    /// A random 4-layer model written as BF16 in `dir`, loaded with `pread` access and mapped.
    static func bf16Model(in dir: URL) throws -> (read: MoEModel, mapped: MoEModel) {
        let config = try #require(ModelConfig.preset("small", vocabSize: 97))
        let model = try MoEModel.randomlyInitialized(config: config, seed: 7, initializerRange: 0.2)
        try model.save(to: dir, dtype: .bf16)
        let read = try ModelLoader.load(directory: dir, residency: .read)
        return (read, try ModelLoader.load(directory: dir, residency: .mapped))
    }

    /// The embeddings, then one stage per layer.
    static func stages(_ model: MoEModel) -> [[FileExtent]] {
        [model.embedTokens.sourceExtents] + model.layers.map { $0.parameters.flatMap(\.sourceExtents) }
    }

    static func isStaged(_ extent: FileExtent) -> Bool {
        extent.file.positionedReader?.stagedRegion(covering: extent.range) != nil
    }

    @Test func heldWeightsPointIntoTheStagedBytesAndEqualTheFile() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (read, mapped) = try Self.bf16Model(in: dir)
            let readAhead = ReadAhead(stages: Self.stages(read), depth: 1, chunkBytes: 4096 + 3)
            readAhead.start()
            defer { readAhead.stop() }
            for (l, layer) in read.layers.enumerated() {
                try readAhead.waitUntilRead(1 + l)
                #expect(layer.parameters.allSatisfy { $0.sourceExtents.allSatisfy(Self.isStaged) })
                for (p, q) in zip(layer.parameters, mapped.layers[l].parameters) {
                    try p.hold()
                    if let matrix = try p.storedMatrix() {
                        #expect(p.isHeld && !p.isResident)
                        let extent = try #require(p.sourceExtents.first)
                        let region = try #require(extent.file.positionedReader?.stagedRegion(covering: extent.range))
                        let start = UnsafeRawPointer(region.buffer.baseAddress!)
                        let base = UnsafeRawPointer(matrix.base)
                        #expect(base >= start && base < start + region.buffer.count)
                    }
                    #expect(try p.tensor() == q.tensor(), "\(p.name)")
                    p.releaseResident()
                    #expect(!p.isHeld && !p.isResident)
                }
                readAhead.release(1 + l)
                #expect(!layer.parameters.contains { $0.sourceExtents.contains(where: Self.isStaged) })
            }
        }
    }

    @Test func atMostDepthStagesAreReadAhead() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (read, _) = try Self.bf16Model(in: dir)
            let stages = Self.stages(read)
            #expect(stages.count == 5)
            let readAhead = ReadAhead(stages: stages, depth: 1)
            readAhead.start()
            defer { readAhead.stop() }
            try readAhead.waitUntilRead(1)
            Thread.sleep(forTimeInterval: 0.3)  // ample for a few hundred kB; the bound must hold it back
            #expect(readAhead.stagesRead == 2)
            readAhead.release(0)
            try readAhead.waitUntilRead(2)
            Thread.sleep(forTimeInterval: 0.3)
            #expect(readAhead.stagesRead == 3)
            #expect(!stages[0].contains(where: Self.isStaged))
            #expect(stages[1].allSatisfy(Self.isStaged) && stages[2].allSatisfy(Self.isStaged))
        }
    }

    @Test func aFailedReadReachesTheStageThatNeedsIt() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (read, _) = try Self.bf16Model(in: dir)
            let stages = Self.stages(read)
            // The file shrinks after it was opened: the last layer's bytes are gone.
            let file = try #require(stages.last?.first?.file)
            // Cut at a page boundary: regions are whole pages, so the stages before keep all of theirs.
            let first = try #require(stages.last?.map(\.range.lowerBound).min())
            let cut = (first + 4095) / 4096 * 4096
            let handle = try FileHandle(forWritingTo: file.url)
            try handle.truncate(atOffset: UInt64(cut))
            try handle.close()
            let readAhead = ReadAhead(stages: stages, depth: 2)
            readAhead.start()
            defer { readAhead.stop() }
            for s in 0..<(stages.count - 1) {
                try readAhead.waitUntilRead(s)
                readAhead.release(s)
            }
            let error = try #require(throws: SafeTensorsError.self) { try readAhead.waitUntilRead(stages.count - 1) }
            #expect(error.description.contains(file.url.path))
        }
    }

    @Test func stoppingFreesEveryStage() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (read, _) = try Self.bf16Model(in: dir)
            let stages = Self.stages(read)
            let readAhead = ReadAhead(stages: stages, depth: 3)
            readAhead.start()
            try readAhead.waitUntilRead(2)
            readAhead.stop()
            #expect(!stages.joined().contains(where: Self.isStaged))
            // Reads after stopping go to the file again.
            #expect(try read.layers[0].parameters[0].tensor().count > 0)
        }
    }

    /// Extents of mapped files are left to the mapping: nothing to read.
    @Test func mappedFilesAreNotStaged() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (_, mapped) = try Self.bf16Model(in: dir)
            let readAhead = ReadAhead(stages: Self.stages(mapped), depth: 1)
            #expect(readAhead.largestStageBytes == 0)
        }
    }
}
