import Foundation
import Testing
import TensorCore
@testable import MoEModels

/// Reading files written by the Python `safetensors` library
/// (scripts/fixtures/make_safetensors_fixtures.py), compared bit for bit with torch's values.
@Suite struct SafeTensorsFileTests {
    let url = TestSupport.fixtures.appendingPathComponent("checkpoints/tiny.safetensors")
    let expected: [String: Any]

    init() throws {
        expected = try TestSupport.readJSON(
            TestSupport.fixtures.appendingPathComponent("checkpoints/tiny.expected.json"))
    }

    private var expectedTensors: [String: [String: Any]] { expected["tensors"] as? [String: [String: Any]] ?? [:] }

    @Test func headerMatchesPython() throws {
        let file = try SafeTensorsFile(url: url)
        #expect(file.metadata == expected["metadata"] as? [String: String])
        #expect(file.tensorNames == expected["offset_order"] as? [String])
        #expect(file.tensorNames.count == 6)
        for (name, entry) in expectedTensors {
            let info = try #require(file.info(name))
            #expect(info.dtype.rawValue == entry["dtype"] as? String)
            #expect(info.shape == TestSupport.ints(entry["shape"]))
            #expect(info.byteCount == info.elementCount * info.dtype.byteSize)
        }
        #expect(file.info("missing") == nil)
    }

    @Test(arguments: ["model.embed.weight", "model.norm.weight", "model.layers.0.mlp.gate.weight", "scale", "empty"])
    func floatTensorsMatchTorchBitForBit(name: String) throws {
        let file = try SafeTensorsFile(url: url)
        let entry = try #require(expectedTensors[name])
        let tensor = try file.tensor(name)
        #expect(tensor.shape == TestSupport.ints(entry["shape"]))
        #expect(tensor.data.map(\.bitPattern) == TestSupport.bits(entry["f32_bits"]))
    }

    @Test func integerTensorIsListedButNotConverted() throws {
        let file = try SafeTensorsFile(url: url)
        let info = try #require(file.info("model.positions"))
        #expect(info.dtype == .i64)
        #expect(throws: SafeTensorsError.notConvertible(file: url.path, tensor: "model.positions", dtype: .i64)) {
            try file.tensor("model.positions")
        }
        let values = try file.withRawBytes("model.positions") { bytes, _ in
            (0..<5).map { Int(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
        }
        #expect(values == TestSupport.ints(expectedTensors["model.positions"]?["values"]))
    }

    @Test func rawBytesAreTheStoredBF16() throws {
        let file = try SafeTensorsFile(url: url)
        let expectedBits = TestSupport.bits(expectedTensors["model.norm.weight"]?["f32_bits"])
        let raw = try file.withRawBytes("model.norm.weight") { bytes, info in
            #expect(info.dtype == .bf16 && bytes.count == 14)
            return (0..<7).map { bytes.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self) }
        }
        #expect(raw.map { UInt32($0) << 16 } == expectedBits)
    }

    @Test func storedTensorSlicesRowsWithoutCopying() throws {
        let file = try SafeTensorsFile(url: url)
        let all = try file.tensor("model.embed.weight")  // [3, 4] F32
        let stored = try file.storedTensor("model.embed.weight", rows: 1..<3)
        #expect(stored.shape == [2, 4] && stored.dtype == .f32 && stored.bytes.count == 32)
        let values = stored.bytes.withUnsafeBytes { raw in
            (0..<8).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
        #expect(values == Array(all.data[4..<12]))
        #expect(throws: SafeTensorsError.self) { try file.storedTensor("model.embed.weight", rows: 2..<4) }
        #expect(throws: SafeTensorsError.self) { try file.storedTensor("scale", rows: 0..<1) }
    }

    @Test func storedTensorOutlivesItsFile() throws {
        var stored: StoredTensor?
        do {
            let file = try SafeTensorsFile(url: url)
            stored = try file.storedTensor("model.layers.0.mlp.gate.weight")
        }
        let bytes = try #require(stored?.bytes)
        #expect(bytes.count == 24)
        // 65504 in f16
        #expect(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self) } == 0x7BFF)
    }

    @Test func missingTensorAndMissingFileAreErrors() throws {
        let file = try SafeTensorsFile(url: url)
        #expect(throws: SafeTensorsError.tensorNotFound(file: url.path, tensor: "nope")) { try file.tensor("nope") }
        let missing = url.deletingLastPathComponent().appendingPathComponent("absent.safetensors")
        let error = try #require(throws: SafeTensorsError.self) { try SafeTensorsFile(url: missing) }
        #expect(error.description.contains("absent.safetensors"))
    }

    @Test func misalignedHalfPrecisionDataIsConverted() throws {
        // A 3-byte header (no padding) puts the data section at offset 11: odd, so the f16 read is misaligned.
        let header = #"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#
        let padded = header + String(repeating: " ", count: (3 - header.utf8.count % 8 + 16) % 8)
        #expect((8 + padded.utf8.count) % 2 == 1)
        try TestSupport.withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("odd.safetensors")
            try TestSupport.safetensorsBytes(header: padded, data: [0x00, 0x3C, 0x00, 0xC0]).write(to: path)  // 1, -2
            #expect(try SafeTensorsFile(url: path).tensor("a").data == [1, -2])
        }
    }
}
