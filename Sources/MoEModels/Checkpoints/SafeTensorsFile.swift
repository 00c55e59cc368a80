import Foundation
import TensorCore

/// One `.safetensors` file, memory-mapped (or read with `pread`, see `FileAccess`), its header
/// validated on open.
///
/// Tensors are read lazily: `tensor(_:)` converts one to Float32, `withRawBytes` lends the bytes
/// as they are on disk (zero copy), `storedTensor` hands them to `SafeTensorsWriter` without a
/// round trip through Float32 (pruning copies bf16 experts this way).
public final class SafeTensorsFile: @unchecked Sendable {
    public let url: URL
    /// The header's `__metadata__` (e.g. `["format": "pt"]`), empty when absent.
    public let metadata: [String: String]
    /// The file mapped (`FileAccess.mapped`), or nil when it is read with `pread` (`.read`).
    private let mapping: FileMapping?
    private let reader: FileReader?
    private let header: SafeTensorsHeader

    public init(url: URL, access: FileAccess = .mapped) throws {
        self.url = url
        switch access {
        case .mapped:
            let mapping = try FileMapping(path: url.path)
            self.mapping = mapping
            reader = nil
            header = try SafeTensorsHeader(bytes: mapping.bytes, file: url.path)
        case .read:
            let reader = try FileReader(path: url.path)
            self.reader = reader
            mapping = nil
            header = try Self.readHeader(reader, file: url.path)
        }
        metadata = header.metadata
    }

    /// Reads the 8-byte length, then the JSON it announces (a bad length is refused before reading on).
    private static func readHeader(_ reader: FileReader, file: String) throws -> SafeTensorsHeader {
        guard reader.size >= 8 else {
            return try SafeTensorsHeader(
                prefix: UnsafeRawBufferPointer(start: nil, count: 0), fileSize: reader.size, file: file)
        }
        let length = try reader.withBytes(offset: 0, count: 8) {
            UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))
        }
        let prefix = length <= SafeTensorsHeader.maxHeaderLength && Int(length) <= reader.size - 8 ? 8 + Int(length) : 8
        return try reader.withBytes(offset: 0, count: prefix) {
            try SafeTensorsHeader(prefix: $0, fileSize: reader.size, file: file)
        }
    }

    /// Tensor names in the order their bytes appear in the file.
    public var tensorNames: [String] { header.tensors.map(\.name) }
    /// All tensors in file order.
    public var tensorInfos: [TensorInfo] { header.tensors }
    /// Size of the data section in bytes.
    public var dataSize: Int { header.dataSize }

    public func info(_ name: String) -> TensorInfo? {
        header.index[name].map { header.tensors[$0] }
    }

    /// The tensor converted to Float32 (F32, F16 and BF16 only).
    public func tensor(_ name: String) throws -> Tensor {
        try withRawBytes(name) { bytes, info in
            guard info.dtype.isConvertibleToFloat else {
                throw SafeTensorsError.notConvertible(file: url.path, tensor: name, dtype: info.dtype)
            }
            return Tensor(shape: info.shape) { out in
                Self.convert(bytes, dtype: info.dtype, into: out)
            }
        }
    }

    /// Lends the tensor's bytes inside the mapping; the pointer is valid only inside `body`.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer, TensorInfo) throws -> R) throws -> R {
        try withLentBytes(name) { bytes, info, _ in try body(bytes, info) }
    }

    /// Byte range `name` occupies in the file (header included in the offsets), nil for an unknown name.
    func extent(of name: String) -> Range<Int>? {
        info(name).map { (header.dataStart + $0.byteRange.lowerBound)..<(header.dataStart + $0.byteRange.upperBound) }
    }

    /// The reader of a file opened with `.read` access (nil when mapped): read-ahead stages bytes in it.
    var positionedReader: FileReader? { reader }

    /// `withRawBytes`, plus the object that keeps the bytes alive beyond `body` when there is one (the file for
    /// a mapping, the staged region for bytes a read-ahead holds; nil for a temporary read buffer).
    private func withLentBytes<R>(
        _ name: String, _ body: (UnsafeRawBufferPointer, TensorInfo, AnyObject?) throws -> R
    ) throws -> R {
        guard let info = info(name), let range = extent(of: name) else {
            throw SafeTensorsError.tensorNotFound(file: url.path, tensor: name)
        }
        if let reader {
            if let region = reader.stagedRegion(covering: range) {
                return try withExtendedLifetime(region) { try body(region.bytes(range), info, region) }
            }
            return try reader.withBytes(offset: range.lowerBound, count: range.count) { try body($0, info, nil) }
        }
        guard let mapping else { preconditionFailure("SafeTensorsFile has neither a mapping nor a reader") }
        let bytes = UnsafeRawBufferPointer(rebasing: mapping.bytes[range])
        return try withExtendedLifetime(mapping) { try body(bytes, info, self) }
    }

    /// Rows `firstRow..<firstRow + rows` of a bfloat16 tensor viewed as [*, columns], as a `BF16Matrix`
    /// that points into the mapping (it keeps this file open) or into bytes a read-ahead staged (it keeps
    /// them alive): no copy. Read access without staged bytes, or a data section misaligned for 16-bit
    /// loads, gets a copy of those rows' bytes instead.
    public func bf16Matrix(_ name: String, firstRow: Int, rows: Int, columns: Int) throws -> BF16Matrix {
        try withLentBytes(name) { bytes, info, owner in
            guard info.dtype == .bf16 else {
                throw SafeTensorsError.invalidTensor(
                    file: url.path, tensor: name, reason: "\(info.dtype.rawValue), not BF16")
            }
            let (start, count) = (firstRow * columns * 2, rows * columns)
            guard firstRow >= 0, start + count * 2 <= bytes.count, let base = bytes.baseAddress else {
                throw SafeTensorsError.invalidTensor(
                    file: url.path, tensor: name, reason: "rows \(firstRow)..<\(firstRow + rows) of width \(columns)")
            }
            let first = base + start
            if let owner, Int(bitPattern: first) % MemoryLayout<UInt16>.alignment == 0 {
                return BF16Matrix(
                    rows: rows, columns: columns, base: first.assumingMemoryBound(to: UInt16.self), owner: owner)
            }
            var bits = [UInt16](repeating: 0, count: count)
            bits.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: first, count: count * 2)) }
            return BF16Matrix(rows: rows, columns: columns, bits: bits)
        }
    }

    /// The tensor's bytes as a `StoredTensor` that points into the mapping (no copy); with `rows`,
    /// only those indices of the first dimension (a router's rows, a fused expert tensor's experts).
    /// The `Data` keeps the mapping alive and must not be mutated in place.
    public func storedTensor(_ name: String, rows: Range<Int>? = nil) throws -> StoredTensor {
        guard let info = info(name) else { throw SafeTensorsError.tensorNotFound(file: url.path, tensor: name) }
        var shape = info.shape
        var range = info.byteRange
        if let rows {
            guard let first = shape.first, rows.lowerBound >= 0, rows.upperBound <= first else {
                throw SafeTensorsError.rowsOutOfRange(file: url.path, tensor: name, rows: rows, shape: shape)
            }
            let rowBytes = first == 0 ? 0 : info.byteCount / first
            range = (range.lowerBound + rows.lowerBound * rowBytes)..<(range.lowerBound + rows.upperBound * rowBytes)
            shape[0] = rows.count
        }
        let data: Data
        if range.isEmpty {
            data = Data()
        } else if let reader {
            data = try reader.withBytes(offset: header.dataStart + range.lowerBound, count: range.count) { Data($0) }
        } else if let mapping, let base = mapping.base {
            let pointer = UnsafeMutableRawPointer(mutating: base + header.dataStart + range.lowerBound)
            data = Data(
                bytesNoCopy: pointer, count: range.count,
                deallocator: .custom { _, _ in
                    withExtendedLifetime(mapping) {}
                })
        } else {
            data = Data()
        }
        return StoredTensor(name: name, dtype: info.dtype, shape: shape, bytes: data)
    }

    /// Converts raw little-endian F32/F16/BF16 bytes to Float32. The data section need not be
    /// aligned (headers are padded to 8 bytes by the Python writer, but not by every writer),
    /// so misaligned 16-bit input is first copied to an aligned buffer.
    static func convert(_ bytes: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>) {
        let count = out.count
        guard count > 0, let src = bytes.baseAddress, let dst = out.baseAddress else { return }
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case .bf16, .f16:
            let run = { (halves: UnsafePointer<UInt16>) in
                if dtype == .bf16 {
                    HalfPrecision.bf16ToFloat(halves, dst, count: count)
                } else {
                    HalfPrecision.f16ToFloat(halves, dst, count: count)
                }
            }
            if Int(bitPattern: src) % MemoryLayout<UInt16>.alignment == 0 {
                run(src.assumingMemoryBound(to: UInt16.self))
            } else {
                let aligned = [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(start: src, count: count * 2))
                    initialized = count
                }
                aligned.withUnsafeBufferPointer { if let p = $0.baseAddress { run(p) } }
            }
        default:
            preconditionFailure("convert called with \(dtype.rawValue); callers check isConvertibleToFloat")
        }
    }
}

/// How a checkpoint file's bytes are reached.
public enum FileAccess: String, Sendable, CaseIterable {
    /// Mapped into memory: zero-copy reads, pages shared with the page cache (the default).
    case mapped
    /// Read with `pread` into a buffer per tensor: nothing is mapped, so neither the address space
    /// nor the resident set grows with the file (layer streaming under a memory limit).
    case read
}
