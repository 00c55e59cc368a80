import Foundation
import Testing
@testable import MoEModels

/// A failing-input test for every header check: each bad file is built in a temporary folder
/// and must be refused with its own error, naming the file.
@Suite struct SafeTensorsMalformedTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let label: String
        let bytes: Data
        let expected: @Sendable (String) -> SafeTensorsError
        var testDescription: String { label }

        init(
            _ label: String, header: String, data: [UInt8] = [], length: UInt64? = nil,
            _ expected: @escaping @Sendable (String) -> SafeTensorsError
        ) {
            self.init(label, bytes: TestSupport.safetensorsBytes(header: header, data: data, length: length), expected)
        }

        init(_ label: String, bytes: Data, _ expected: @escaping @Sendable (String) -> SafeTensorsError) {
            self.label = label
            self.bytes = bytes
            self.expected = expected
        }
    }

    static func entry(_ name: String, _ dtype: String = "F32", shape: String = "[4]", offsets: String = "[0,16]")
        -> String
    {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
    }

    static let sixteen = [UInt8](repeating: 0, count: 16)

    static let cases: [Case] = [
        Case("empty file", bytes: Data()) { .fileTooShort(file: $0, size: 0) },
        Case("truncated to 5 bytes", bytes: Data([8, 0, 0, 0, 0])) { .fileTooShort(file: $0, size: 5) },
        Case("header past the end", header: "{}", length: 1000) {
            .headerBeyondFile(file: $0, length: 1000, fileSize: 10)
        },
        Case("absurd header length", header: "{}", length: 200_000_000) {
            .headerTooLarge(file: $0, length: 200_000_000)
        },
        Case("header not UTF-8", bytes: Data([2, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFE])) { .headerNotUTF8(file: $0) },
        Case("header not JSON", header: "{not json}") { .headerNotJSONObject(file: $0, reason: "invalid JSON") },
        Case("header a JSON array", header: "[1, 2]") {
            .headerNotJSONObject(file: $0, reason: "top level is not an object")
        },
        Case("entry not an object", header: #"{"x": 3}"#) {
            .invalidField(file: $0, tensor: "x", field: "x", reason: "is not an object")
        },
        Case("no dtype", header: #"{"x":{"shape":[4],"data_offsets":[0,16]}}"#, data: sixteen) {
            .missingField(file: $0, tensor: "x", field: "dtype")
        },
        Case("no shape", header: #"{"x":{"dtype":"F32","data_offsets":[0,16]}}"#, data: sixteen) {
            .missingField(file: $0, tensor: "x", field: "shape")
        },
        Case("no data_offsets", header: #"{"x":{"dtype":"F32","shape":[4]}}"#, data: sixteen) {
            .missingField(file: $0, tensor: "x", field: "data_offsets")
        },
        Case("unknown dtype", header: "{" + entry("x", "Q4") + "}", data: sixteen) {
            .unsupportedDType(file: $0, tensor: "x", dtype: "Q4")
        },
        Case("F8_E5M2 dtype not supported", header: "{" + entry("x", "F8_E5M2", offsets: "[0,4]") + "}", data: sixteen)
        {
            .unsupportedDType(file: $0, tensor: "x", dtype: "F8_E5M2")
        },
        Case("fractional dimension", header: "{" + entry("x", shape: "[2.5]") + "}", data: sixteen) {
            .invalidField(file: $0, tensor: "x", field: "shape", reason: "is not a list of integers")
        },
        Case("boolean dimension", header: "{" + entry("x", shape: "[true]") + "}", data: sixteen) {
            .invalidField(file: $0, tensor: "x", field: "shape", reason: "is not a list of integers")
        },
        Case("offsets not a pair", header: "{" + entry("x", offsets: "[0]") + "}", data: sixteen) {
            .invalidField(file: $0, tensor: "x", field: "data_offsets", reason: "is not a pair of integers")
        },
        Case("negative dimension", header: "{" + entry("x", shape: "[-4]") + "}", data: sixteen) {
            .negativeDimension(file: $0, tensor: "x", shape: [-4])
        },
        Case(
            "element count overflows", header: "{" + entry("x", shape: "[1099511627776,1099511627776]") + "}",
            data: sixteen
        ) {
            .elementCountOverflow(file: $0, tensor: "x", shape: [1 << 40, 1 << 40])
        },
        Case(
            "byte count overflows", header: "{" + entry("x", "F64", shape: "[4611686018427387904]") + "}", data: sixteen
        ) {
            .elementCountOverflow(file: $0, tensor: "x", shape: [1 << 62])
        },
        Case(
            "10^12 elements claimed in 16 bytes", header: "{" + entry("x", shape: "[1000000,1000000]") + "}",
            data: sixteen
        ) {
            .byteCountMismatch(
                file: $0, tensor: "x", dtype: .f32, shape: [1_000_000, 1_000_000], expected: 4_000_000_000_000,
                actual: 16)
        },
        Case(
            "10^12 elements with matching offsets",
            header: "{" + entry("x", shape: "[1000000,1000000]", offsets: "[0,4000000000000]") + "}", data: sixteen
        ) {
            .rangeOutsideData(file: $0, tensor: "x", range: 0..<4_000_000_000_000, dataSize: 16)
        },
        Case("byte count off by one element", header: "{" + entry("x", shape: "[3]") + "}", data: sixteen) {
            .byteCountMismatch(file: $0, tensor: "x", dtype: .f32, shape: [3], expected: 12, actual: 16)
        },
        Case("offsets reversed", header: "{" + entry("x", shape: "[0]", offsets: "[16,0]") + "}", data: sixteen) {
            .invalidOffsets(file: $0, tensor: "x", begin: 16, end: 0)
        },
        Case(
            "range beyond data section", header: "{" + entry("x", shape: "[16]", offsets: "[0,64]") + "}",
            data: Array(repeating: 0, count: 32)
        ) {
            .rangeOutsideData(file: $0, tensor: "x", range: 0..<64, dataSize: 32)
        },
        Case(
            "overlapping tensors", header: "{" + entry("a") + "," + entry("b", offsets: "[8,24]") + "}",
            data: Array(repeating: 0, count: 24)
        ) {
            .overlappingTensors(file: $0, first: "a", second: "b")
        },
        Case(
            "tensor inside another",
            header: "{" + entry("a", shape: "[8]", offsets: "[0,32]") + ","
                + entry("b", shape: "[2]", offsets: "[8,16]") + "}",
            data: Array(repeating: 0, count: 32)
        ) {
            .overlappingTensors(file: $0, first: "a", second: "b")
        },
        Case("metadata not strings", header: #"{"__metadata__":{"format":1}}"#) {
            .invalidMetadata(file: $0, reason: "value of 'format' is not a string")
        },
    ]

    @Test(arguments: cases)
    func refused(_ testCase: Case) throws {
        try TestSupport.withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("model.safetensors")
            try testCase.bytes.write(to: url)
            let error = try #require(throws: SafeTensorsError.self) { try SafeTensorsFile(url: url) }
            #expect(error == testCase.expected(url.path))
            #expect(error.description.hasPrefix(url.path + ": "))
        }
    }

    @Test func descriptionNamesFileRangeAndSection() {
        let error = SafeTensorsError.rangeOutsideData(
            file: "model.safetensors", tensor: "x", range: 0..<64, dataSize: 32)
        #expect(error.description == "model.safetensors: tensor 'x' byte range 0..<64 exceeds data section of 32 bytes")
    }

    @Test func emptyTensorsGapsAndNullMetadataAreAccepted() throws {
        let header =
            #"{"__metadata__":null,"#
            + Self.entry("a", shape: "[2]", offsets: "[8,16]") + "," + Self.entry("e", shape: "[0,5]", offsets: "[8,8]")
            + "}"
        try TestSupport.withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("gappy.safetensors")
            try TestSupport.safetensorsBytes(header: header, data: Self.sixteen + [1, 2, 3]).write(to: url)
            let file = try SafeTensorsFile(url: url)
            #expect(file.metadata.isEmpty)
            #expect(file.tensorNames == ["a", "e"])
            #expect(try file.tensor("e").shape == [0, 5])
            #expect(try file.tensor("a").data == [0, 0])
        }
    }
}
