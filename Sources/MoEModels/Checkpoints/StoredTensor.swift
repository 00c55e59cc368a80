import Foundation
import TensorCore

/// A tensor as bytes already in its on-disk dtype, ready for `SafeTensorsWriter`.
///
/// Pruning copies bf16 experts from one checkpoint to another this way: `SafeTensorsFile`
/// hands out `StoredTensor`s that point into its mapping, so nothing is converted or copied
/// until the bytes are written. The writer checks that `bytes.count` matches dtype and shape.
public struct StoredTensor: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Little-endian element bytes, row-major.
    public let bytes: Data

    public init(name: String, dtype: DType, shape: [Int], bytes: Data) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Converts a Float32 tensor to `dtype` (F32, F16 or BF16).
    public init(name: String, tensor: Tensor, dtype: DType) throws {
        guard dtype.isConvertibleToFloat else {
            throw SafeTensorsError.invalidTensor(
                file: "<memory>", tensor: name, reason: "cannot convert Float32 to \(dtype.rawValue)")
        }
        var data = Data(count: tensor.count * dtype.byteSize)
        data.withUnsafeMutableBytes { raw in
            tensor.withUnsafeBufferPointer { src in
                TensorEncoding.encode(src, as: dtype, into: raw)
            }
        }
        self.init(name: name, dtype: dtype, shape: tensor.shape, bytes: data)
    }

    /// The same bytes under another checkpoint key (experts renumbered after pruning).
    public func renamed(_ newName: String) -> StoredTensor {
        StoredTensor(name: newName, dtype: dtype, shape: shape, bytes: bytes)
    }
}

/// Float32 → on-disk encodings, shared by `StoredTensor` and the writer's streaming path.
enum TensorEncoding {
    /// Writes `src.count` elements of `dtype` (F32, F16 or BF16) into `dst`.
    static func encode(_ src: UnsafeBufferPointer<Float>, as dtype: DType, into dst: UnsafeMutableRawBufferPointer) {
        let count = src.count
        guard count > 0, let from = src.baseAddress, let to = dst.baseAddress else { return }
        precondition(dst.count >= count * dtype.byteSize, "encode: destination too small")
        switch dtype {
        case .f32:
            to.copyMemory(from: from, byteCount: count * 4)
        case .bf16:
            HalfPrecision.floatToBF16(from, to.bindMemory(to: UInt16.self, capacity: count), count: count)
        case .f16:
            HalfPrecision.floatToF16(from, to.bindMemory(to: UInt16.self, capacity: count), count: count)
        default:
            preconditionFailure("encode called with \(dtype.rawValue); callers check isConvertibleToFloat")
        }
    }
}
