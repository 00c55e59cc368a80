import Foundation
import Testing
import TensorCore
@testable import MoEModels

/// A checkpoint read with `pread` (`FileAccess.read`) is the checkpoint mapped: same header, same
/// values, same raw bytes, and malformed files refused with the same errors.
struct FileReaderTests {
    let url = TestSupport.fixtures.appendingPathComponent("checkpoints/tiny.safetensors")

    @Test func readAccessSeesWhatTheMappingSees() throws {
        let mapped = try SafeTensorsFile(url: url)
        let read = try SafeTensorsFile(url: url, access: .read)
        #expect(read.metadata == mapped.metadata)
        #expect(read.tensorNames == mapped.tensorNames)
        #expect(read.dataSize == mapped.dataSize)
        for info in mapped.tensorInfos {
            #expect(read.info(info.name) == info)
            let a = try mapped.withRawBytes(info.name) { bytes, _ in [UInt8](bytes) }
            let b = try read.withRawBytes(info.name) { bytes, _ in [UInt8](bytes) }
            #expect(a == b, "\(info.name)")
            #expect(try read.storedTensor(info.name).bytes == mapped.storedTensor(info.name).bytes)
            if info.dtype.isConvertibleToFloat {
                #expect(try read.tensor(info.name) == mapped.tensor(info.name))
            }
        }
    }

    @Test func shardedCheckpointReads() throws {
        let dir = TestSupport.fixtures.appendingPathComponent("checkpoints/sharded")
        let mapped = try SafeTensorsCheckpoint(directory: dir)
        let read = try SafeTensorsCheckpoint(directory: dir, access: .read)
        #expect(read.tensorNames == mapped.tensorNames)
        for name in mapped.tensorNames where mapped.info(name)?.dtype.isConvertibleToFloat == true {
            #expect(try read.tensor(name) == mapped.tensor(name))
        }
    }

    @Test(arguments: SafeTensorsMalformedTests.cases)
    func malformedFilesAreRefusedTheSameWay(_ testCase: SafeTensorsMalformedTests.Case) throws {
        try TestSupport.withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("model.safetensors")
            try testCase.bytes.write(to: url)
            let error = try #require(throws: SafeTensorsError.self) { try SafeTensorsFile(url: url, access: .read) }
            #expect(error == testCase.expected(url.path))
        }
    }

    @Test func missingFileIsAnInputError() throws {
        let missing = TestSupport.fixtures.appendingPathComponent("checkpoints/none.safetensors")
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(url: missing, access: .read) }
    }
}
