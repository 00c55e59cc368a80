/// The element types a safetensors header may name, spelled as the format spells them.
///
/// ExpertLock computes in Float32, so only `f32`, `f16` and `bf16` convert to a `Tensor`. The
/// integer and double types are listed so that checkpoints carrying them (position ids, step
/// counters, quantisation scales) still open and can be copied byte for byte when pruning;
/// reading one as Float32 is refused with `SafeTensorsError.notConvertible`. `F8_E4M3` holds the
/// weights of FP8 checkpoints (`FP8Quantization`): the loader dequantizes them with their block scales.
/// Other safetensors dtypes (U16/U32/U64, F8_E5M2) are refused when the header is read.
public enum DType: String, Sendable, Codable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f64 = "F64"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u8 = "U8"
    case bool = "BOOL"
    /// `float8_e4m3fn`.
    case f8e4m3 = "F8_E4M3"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool, .f8e4m3: 1
        }
    }

    /// True for the types `SafeTensorsFile.tensor(_:)` converts to Float32.
    public var isConvertibleToFloat: Bool {
        switch self {
        case .f32, .f16, .bf16: true
        default: false
        }
    }
}

/// One tensor as a safetensors header describes it.
public struct TensorInfo: Sendable, Equatable {
    /// The checkpoint key, e.g. `model.layers.0.mlp.experts.3.w1.weight`.
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range relative to the start of the data section (the byte after the header).
    public let byteRange: Range<Int>

    public init(name: String, dtype: DType, shape: [Int], byteRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }

    /// Number of elements (the header was checked for overflow when it was read).
    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { byteRange.count }
}
