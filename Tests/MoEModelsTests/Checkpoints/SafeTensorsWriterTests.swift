import Foundation
import Testing
import TensorCore
@testable import MoEModels

@Suite struct SafeTensorsWriterTests {
    static let values: [Float] = [0, -0.0, 1, -2.5, 3.14159, 1e-3, 65504, 1e-7, 7e5, -1.0009765625, 0.1, 300.5]

    static func sample() -> [(name: String, tensor: Tensor)] {
        [
            (name: "z.last", tensor: Tensor(shape: [3, 4], data: values)),
            (name: "a.first", tensor: Tensor(shape: [2, 3], data: Array(values.prefix(6)))),
            (name: "m.scalar", tensor: Tensor(scalar: -7.75)),
            (name: "e.empty", tensor: Tensor(shape: [0, 4], data: [])),
        ]
    }

    /// What `dtype` makes of `x` (the reader widens exactly, so this is what must come back).
    static func rounded(_ x: Float, _ dtype: DType) -> Float {
        switch dtype {
        case .bf16: Float(bitPattern: UInt32(HalfPrecision.bf16Bits(x.bitPattern)) << 16)
        case .f16: HalfPrecision.floatFromF16Bits(HalfPrecision.f16Bits(x))
        default: x
        }
    }

    @Test(arguments: [DType.f32, .bf16, .f16])
    func roundTripsThroughTheReader(dtype: DType) throws {
        try TestSupport.withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("out.safetensors")
            try SafeTensorsWriter.write(
                Self.sample(), dtype: dtype, metadata: ["format": "pt", "by": "expertlock"], to: url)
            let file = try SafeTensorsFile(url: url)
            #expect(file.metadata == ["format": "pt", "by": "expertlock"])
            #expect(file.tensorNames == ["a.first", "e.empty", "m.scalar", "z.last"])  // sorted, offsets in that order
            for (name, tensor) in Self.sample() {
                let back = try file.tensor(name)
                #expect(back.shape == tensor.shape)
                #expect(
                    back.data.map(\.bitPattern) == tensor.data.map { Self.rounded($0, dtype).bitPattern }, "\(name)")
                #expect(file.info(name)?.dtype == dtype)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.safetensors"])
        }
    }

    @Test func headerIsPaddedSortedAndContiguous() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("out.safetensors")
            try SafeTensorsWriter.write(Self.sample(), dtype: .bf16, to: url)
            let bytes = try Data(contentsOf: url)
            let length = bytes.prefix(8).withUnsafeBytes {
                Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)))
            }
            #expect(length % 8 == 0)
            let header = try #require(String(data: bytes.subdata(in: 8..<(8 + length)), encoding: .utf8))
            #expect(header.hasPrefix(#"{"a.first":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},"#))
            #expect(!header.contains("__metadata__"))
            let trimmed = header.trimmingCharacters(in: .whitespaces)
            #expect(trimmed.hasSuffix("}") && header.count - trimmed.count < 8)
            #expect(bytes.count == 8 + length + (6 + 0 + 1 + 12) * 2)
            let file = try SafeTensorsFile(url: url)
            var next = 0
            for info in file.tensorInfos {
                #expect(info.byteRange.lowerBound == next)
                next = info.byteRange.upperBound
            }
            #expect(next == file.dataSize)
        }
    }

    @Test func overwritesAtomicallyAndKeepsTheOldFileOnError() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("model.safetensors")
            try SafeTensorsWriter.write([(name: "x", tensor: Tensor(shape: [2], data: [1, 2]))], dtype: .f32, to: url)
            try SafeTensorsWriter.write([(name: "y", tensor: Tensor(shape: [1], data: [5]))], dtype: .f32, to: url)
            #expect(try SafeTensorsFile(url: url).tensorNames == ["y"])
            let duplicate = [(name: "k", tensor: Tensor(scalar: 1)), (name: "k", tensor: Tensor(scalar: 2))]
            #expect(throws: SafeTensorsError.invalidTensor(file: url.path, tensor: "k", reason: "name given twice")) {
                try SafeTensorsWriter.write(duplicate, dtype: .f32, to: url)
            }
            #expect(try SafeTensorsFile(url: url).tensor("y").data == [5])
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.safetensors"])
        }
    }

    @Test func refusesWhatCannotBeWritten() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("bad.safetensors")
            #expect(throws: SafeTensorsError.self) {
                try SafeTensorsWriter.write([(name: "x", tensor: Tensor(scalar: 1))], dtype: .i64, to: url)
            }
            #expect(throws: SafeTensorsError.self) {
                try SafeTensorsWriter.write([(name: "__metadata__", tensor: Tensor(scalar: 1))], dtype: .f32, to: url)
            }
            let short = StoredTensor(name: "s", dtype: .bf16, shape: [4], bytes: Data(count: 6))
            #expect(throws: SafeTensorsError.invalidTensor(file: url.path, tensor: "s", reason: "6 bytes for BF16 [4]"))
            {
                try SafeTensorsWriter.write([short], to: url)
            }
            #expect(!FileManager.default.fileExists(atPath: url.path))
            let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            #expect(left.isEmpty)
        }
    }

    /// Pruning's path: bytes copied from a Python-written file come back identical, any dtype.
    @Test func storedTensorsCopyBytesExactly() throws {
        let source = try SafeTensorsFile(
            url: TestSupport.fixtures.appendingPathComponent("checkpoints/tiny.safetensors"))
        let stored = try source.tensorNames.map { try source.storedTensor($0) }
        try TestSupport.withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("copy.safetensors")
            try SafeTensorsWriter.write(
                stored.map { $0.renamed("copy." + $0.name) }, metadata: source.metadata, to: url)
            let copy = try SafeTensorsFile(url: url)
            #expect(copy.metadata == source.metadata)
            for name in source.tensorNames {
                let original = try source.withRawBytes(name) { bytes, info in (Array(bytes), info) }
                let copied = try copy.withRawBytes("copy." + name) { bytes, info in (Array(bytes), info) }
                #expect(copied.0 == original.0)
                #expect(copied.1.dtype == original.1.dtype && copied.1.shape == original.1.shape)
            }
        }
    }

    @Test func storedTensorFromFloatEncodes() throws {
        let stored = try StoredTensor(name: "w", tensor: Tensor(shape: [2], data: [1, -2]), dtype: .bf16)
        #expect(stored.bytes == Data([0x80, 0x3F, 0x00, 0xC0]))
        #expect(throws: SafeTensorsError.self) { try StoredTensor(name: "w", tensor: Tensor(scalar: 1), dtype: .u8) }
    }
}
