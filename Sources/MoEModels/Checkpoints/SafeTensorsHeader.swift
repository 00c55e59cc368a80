import Foundation

/// The parsed and validated header of a safetensors file.
///
/// Layout: 8 bytes little-endian header length N, N bytes of UTF-8 JSON, then the data section.
/// The JSON maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets
/// relative to the data section) plus an optional `"__metadata__"` map of strings.
///
/// Every check runs on the header alone, before anything is allocated for a tensor, so a header
/// that claims 10^12 elements is refused by arithmetic, not by running out of memory. Gaps
/// between tensors and trailing bytes are tolerated (the Rust library refuses them, but they
/// cannot make a read go wrong); overlaps are refused because they mean a corrupt file.
struct SafeTensorsHeader {
    /// The reference implementation's limit (`MAX_HEADER_SIZE`): anything bigger is not a header.
    static let maxHeaderLength: UInt64 = 100_000_000

    let metadata: [String: String]
    /// Tensors in data-offset order (ties, i.e. empty tensors, by name).
    let tensors: [TensorInfo]
    let index: [String: Int]
    /// Byte offset of the data section from the start of the file (8 + N).
    let dataStart: Int
    let dataSize: Int

    /// Parses the header at the start of `bytes` (the whole file).
    init(bytes: UnsafeRawBufferPointer, file: String) throws {
        try self.init(prefix: bytes, fileSize: bytes.count, file: file)
    }

    /// Parses the header from the first bytes of a file of `fileSize` bytes: `prefix` holds at
    /// least the 8-byte length and the JSON it announces (the file read without mapping it).
    init(prefix bytes: UnsafeRawBufferPointer, fileSize: Int, file: String) throws {
        guard fileSize >= 8, bytes.count >= 8 else { throw SafeTensorsError.fileTooShort(file: file, size: fileSize) }
        let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard length <= Self.maxHeaderLength else {
            throw SafeTensorsError.headerTooLarge(file: file, length: length)
        }
        guard Int(length) <= fileSize - 8 else {
            throw SafeTensorsError.headerBeyondFile(file: file, length: length, fileSize: fileSize)
        }
        dataStart = 8 + Int(length)
        dataSize = fileSize - dataStart
        precondition(
            bytes.count >= dataStart, "SafeTensorsHeader: prefix of \(bytes.count) bytes, header ends at \(dataStart)")
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart])
        // Foundation's check rather than `String(validating:)`, which needs macOS 15.
        guard String(bytes: headerBytes, encoding: .utf8) != nil else {
            throw SafeTensorsError.headerNotUTF8(file: file)
        }
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: Data(headerBytes))
        } catch {
            throw SafeTensorsError.headerNotJSONObject(file: file, reason: "invalid JSON")
        }
        guard let object = root as? [String: Any] else {
            throw SafeTensorsError.headerNotJSONObject(file: file, reason: "top level is not an object")
        }

        var metadata: [String: String] = [:]
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(object.count)
        for (name, value) in object {
            if name == "__metadata__" {
                metadata = try Self.parseMetadata(value, file: file)
            } else {
                tensors.append(try Self.parseEntry(name: name, value: value, file: file, dataSize: dataSize))
            }
        }
        tensors.sort { ($0.byteRange.lowerBound, $0.name) < ($1.byteRange.lowerBound, $1.name) }
        try Self.checkOverlaps(tensors, file: file)
        self.metadata = metadata
        self.tensors = tensors
        self.index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    private static func parseMetadata(_ value: Any, file: String) throws -> [String: String] {
        if value is NSNull { return [:] }
        guard let map = value as? [String: Any] else {
            throw SafeTensorsError.invalidMetadata(file: file, reason: "is not an object")
        }
        var result: [String: String] = [:]
        for (key, entry) in map {
            guard let string = entry as? String else {
                throw SafeTensorsError.invalidMetadata(file: file, reason: "value of '\(key)' is not a string")
            }
            result[key] = string
        }
        return result
    }

    private static func parseEntry(name: String, value: Any, file: String, dataSize: Int) throws -> TensorInfo {
        guard let entry = value as? [String: Any] else {
            throw SafeTensorsError.invalidField(file: file, tensor: name, field: name, reason: "is not an object")
        }
        func field(_ key: String) throws -> Any {
            guard let v = entry[key] else { throw SafeTensorsError.missingField(file: file, tensor: name, field: key) }
            return v
        }
        guard let dtypeName = try field("dtype") as? String else {
            throw SafeTensorsError.invalidField(file: file, tensor: name, field: "dtype", reason: "is not a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafeTensorsError.unsupportedDType(file: file, tensor: name, dtype: dtypeName)
        }
        let dims = try field("shape") as? [Any] ?? [NSNull()]
        let shape = dims.compactMap(jsonInteger)
        guard shape.count == dims.count else {
            throw SafeTensorsError.invalidField(
                file: file, tensor: name, field: "shape", reason: "is not a list of integers")
        }
        guard let offsetValues = try field("data_offsets") as? [Any], offsetValues.count == 2,
            let begin = jsonInteger(offsetValues[0]), let end = jsonInteger(offsetValues[1])
        else {
            throw SafeTensorsError.invalidField(
                file: file, tensor: name, field: "data_offsets", reason: "is not a pair of integers")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw SafeTensorsError.negativeDimension(file: file, tensor: name, shape: shape)
        }
        var elements = 1
        for dim in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw SafeTensorsError.elementCountOverflow(file: file, tensor: name, shape: shape) }
            elements = product
        }
        let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw SafeTensorsError.elementCountOverflow(file: file, tensor: name, shape: shape) }
        guard begin >= 0, end >= begin else {
            throw SafeTensorsError.invalidOffsets(file: file, tensor: name, begin: begin, end: end)
        }
        guard end - begin == byteCount else {
            throw SafeTensorsError.byteCountMismatch(
                file: file, tensor: name, dtype: dtype, shape: shape, expected: byteCount, actual: end - begin)
        }
        guard end <= dataSize else {
            throw SafeTensorsError.rangeOutsideData(file: file, tensor: name, range: begin..<end, dataSize: dataSize)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    /// Tensors are sorted by start offset, so an overlap shows as a range starting before the
    /// furthest end seen so far. Empty ranges occupy no bytes and cannot overlap anything.
    private static func checkOverlaps(_ tensors: [TensorInfo], file: String) throws {
        var furthest: TensorInfo?
        for info in tensors where !info.byteRange.isEmpty {
            if let previous = furthest, info.byteRange.lowerBound < previous.byteRange.upperBound {
                throw SafeTensorsError.overlappingTensors(file: file, first: previous.name, second: info.name)
            }
            if furthest.map({ info.byteRange.upperBound > $0.byteRange.upperBound }) ?? true { furthest = info }
        }
    }
}

/// An integer from a `JSONSerialization` tree: rejects booleans, fractions and exponents (which
/// arrive as doubles) and numbers beyond `Int`.
func jsonInteger(_ value: Any) -> Int? {
    guard let number = value as? NSNumber else { return nil }
    switch String(cString: number.objCType) {
    case "c", "d", "f", "B": return nil  // Bool, Double, Float
    case "Q": return number.uint64Value <= UInt64(Int.max) ? Int(number.uint64Value) : nil
    default: return Int(exactly: number.int64Value)
    }
}
