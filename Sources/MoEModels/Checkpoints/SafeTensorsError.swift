import TensorCore

/// Everything that can be wrong with a safetensors file, a checkpoint folder or a write request.
///
/// Each case names the file (full path) and the problem, so the command line can print one line
/// and exit with code 2; the header checks follow the reference Rust implementation
/// (`safetensors::tensor::SafeTensors::read_metadata`) and add the ones it leaves to the reader.
public enum SafeTensorsError: InputError, Equatable {
    case cannotOpen(file: String, reason: String)
    case fileTooShort(file: String, size: Int)
    /// The 8-byte header length is above the 100 MB the reference library accepts.
    case headerTooLarge(file: String, length: UInt64)
    case headerBeyondFile(file: String, length: UInt64, fileSize: Int)
    case headerNotUTF8(file: String)
    case headerNotJSONObject(file: String, reason: String)
    case invalidMetadata(file: String, reason: String)
    case missingField(file: String, tensor: String, field: String)
    case invalidField(file: String, tensor: String, field: String, reason: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case negativeDimension(file: String, tensor: String, shape: [Int])
    case elementCountOverflow(file: String, tensor: String, shape: [Int])
    case byteCountMismatch(file: String, tensor: String, dtype: DType, shape: [Int], expected: Int, actual: Int)
    case invalidOffsets(file: String, tensor: String, begin: Int, end: Int)
    case rangeOutsideData(file: String, tensor: String, range: Range<Int>, dataSize: Int)
    case overlappingTensors(file: String, first: String, second: String)
    case tensorNotFound(file: String, tensor: String)
    case notConvertible(file: String, tensor: String, dtype: DType)
    case rowsOutOfRange(file: String, tensor: String, rows: Range<Int>, shape: [Int])
    case duplicateTensor(tensor: String, firstFile: String, secondFile: String)
    case directoryNotFound(directory: String)
    case noSafeTensorsFiles(directory: String)
    case indexUnreadable(file: String, reason: String)
    case indexMalformed(file: String, reason: String)
    case indexMissingShard(file: String, shard: String)
    case indexTensorMissing(file: String, tensor: String, shard: String)
    case indexUnlistedTensor(file: String, tensor: String, shard: String)
    /// A tensor handed to `SafeTensorsWriter` that cannot be written as asked.
    case invalidTensor(file: String, tensor: String, reason: String)
    case writeFailed(file: String, reason: String)
    /// A quantized tensor that cannot be read as its config says (an FP8 weight without its scale, …).
    case unreadableQuantized(file: String, tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(file, reason):
            "\(file): cannot open: \(reason)"
        case let .fileTooShort(file, size):
            "\(file): \(size) bytes is too short for a safetensors file (needs an 8-byte header length)"
        case let .headerTooLarge(file, length):
            "\(file): header length \(length) bytes exceeds the 100 MB limit (not a safetensors file?)"
        case let .headerBeyondFile(file, length, fileSize):
            "\(file): header length \(length) bytes runs past the end of the \(fileSize)-byte file"
        case let .headerNotUTF8(file):
            "\(file): header is not valid UTF-8"
        case let .headerNotJSONObject(file, reason):
            "\(file): header is not a JSON object: \(reason)"
        case let .invalidMetadata(file, reason):
            "\(file): __metadata__ \(reason)"
        case let .missingField(file, tensor, field):
            "\(file): tensor '\(tensor)' has no '\(field)'"
        case let .invalidField(file, tensor, field, reason):
            "\(file): tensor '\(tensor)' field '\(field)' \(reason)"
        case let .unsupportedDType(file, tensor, dtype):
            "\(file): tensor '\(tensor)' has unsupported dtype '\(dtype)' "
                + "(supported: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .negativeDimension(file, tensor, shape):
            "\(file): tensor '\(tensor)' shape \(shape) has a negative dimension"
        case let .elementCountOverflow(file, tensor, shape):
            "\(file): tensor '\(tensor)' shape \(shape) has more elements than can be addressed"
        case let .byteCountMismatch(file, tensor, dtype, shape, expected, actual):
            "\(file): tensor "
                + "'\(tensor)' \(dtype.rawValue) \(shape) needs \(expected) bytes but its data_offsets span \(actual)"
        case let .invalidOffsets(file, tensor, begin, end):
            "\(file): tensor "
                + "'\(tensor)' data_offsets [\(begin), \(end)] are not an increasing pair of non-negative integers"
        case let .rangeOutsideData(file, tensor, range, dataSize):
            "\(file): tensor "
                + "'\(tensor)' byte "
                + "range \(range.lowerBound)..<\(range.upperBound) exceeds data section of \(dataSize) bytes"
        case let .overlappingTensors(file, first, second):
            "\(file): tensors '\(first)' and '\(second)' have overlapping byte ranges"
        case let .tensorNotFound(file, tensor):
            "\(file): no tensor named '\(tensor)'"
        case let .notConvertible(file, tensor, dtype):
            "\(file): tensor '\(tensor)' is \(dtype.rawValue); only F32, F16 and BF16 convert to Float32"
        case let .rowsOutOfRange(file, tensor, rows, shape):
            "\(file): tensor '\(tensor)' of shape \(shape) has no rows \(rows.lowerBound)..<\(rows.upperBound)"
        case let .duplicateTensor(tensor, firstFile, secondFile):
            "\(secondFile): tensor '\(tensor)' is also in \(firstFile)"
        case let .directoryNotFound(directory):
            "\(directory): no such checkpoint directory"
        case let .noSafeTensorsFiles(directory):
            "\(directory): no model.safetensors.index.json and no *.safetensors files"
        case let .indexUnreadable(file, reason):
            "\(file): cannot read: \(reason)"
        case let .indexMalformed(file, reason):
            "\(file): \(reason)"
        case let .indexMissingShard(file, shard):
            "\(file): weight_map names shard '\(shard)', which does not exist"
        case let .indexTensorMissing(file, tensor, shard):
            "\(file): weight_map puts tensor '\(tensor)' in '\(shard)', which does not contain it"
        case let .indexUnlistedTensor(file, tensor, shard):
            "\(file): shard '\(shard)' holds tensor '\(tensor)', which weight_map does not list there"
        case let .unreadableQuantized(file, tensor, reason):
            "\(file): tensor '\(tensor)' \(reason)"
        case let .invalidTensor(file, tensor, reason):
            "\(file): cannot write tensor '\(tensor)': \(reason)"
        case let .writeFailed(file, reason):
            "\(file): write failed: \(reason)"
        }
    }
}
