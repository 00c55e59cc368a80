import Foundation
import TensorCore

/// Writes safetensors files and Hugging Face checkpoint folders that the Python `safetensors`
/// library and `transformers.from_pretrained` read back.
///
/// Layout written, as the Rust writer does it: tensors sorted by name with contiguous data
/// offsets in that order, compact header JSON padded with spaces to a multiple of 8 bytes (so
/// the data section is 8-byte aligned). Every file is written atomically (`AtomicFile`).
public enum SafeTensorsWriter {
    public static let singleFileName = "model.safetensors"
    public static let indexFileName = "model.safetensors.index.json"

    /// Atomic: writes `<url>.tmp-<random>` in the same folder, fsyncs, renames. Tensors are
    /// converted from Float32 to `dtype` (F32, F16 or BF16) chunk by chunk while writing.
    public static func write(
        _ tensors: [(name: String, tensor: Tensor)], dtype: DType, metadata: [String: String] = [:], to url: URL
    ) throws {
        try writeFile(tensors.map { .float($0.name, $0.tensor, dtype) }, metadata: metadata, to: url)
    }

    /// Writes tensors whose bytes are already encoded (copied from another checkpoint).
    public static func write(_ tensors: [StoredTensor], metadata: [String: String] = [:], to url: URL) throws {
        try writeFile(tensors.map { .stored($0) }, metadata: metadata, to: url)
    }

    /// Splits into shards of at most `maxShardBytes` (of tensor data) named
    /// `model-00001-of-0000N.safetensors` plus `model.safetensors.index.json` in the Hugging Face
    /// layout (`{"metadata": {"total_size": n}, "weight_map": {...}}`); a single shard is written
    /// as `model.safetensors` without an index. Shards are filled in the given tensor order (as
    /// `huggingface_hub.split_torch_state_dict_into_shards` does); a tensor bigger than the limit
    /// gets a shard of its own. Files of an earlier checkpoint in the same folder that follow these
    /// names and are not part of the new one are removed afterwards, so the folder never mixes two.
    public static func writeCheckpoint(
        _ tensors: [(name: String, tensor: Tensor)], dtype: DType, to directory: URL,
        maxShardBytes: Int = 2_000_000_000
    ) throws {
        try writeCheckpoint(
            pending: tensors.map { .float($0.name, $0.tensor, dtype) }, to: directory,
            maxShardBytes: maxShardBytes)
    }

    /// The same for tensors already encoded, so pruning copies bf16 experts without a round trip.
    public static func writeCheckpoint(_ tensors: [StoredTensor], to directory: URL, maxShardBytes: Int = 2_000_000_000)
        throws
    {
        try writeCheckpoint(pending: tensors.map { .stored($0) }, to: directory, maxShardBytes: maxShardBytes)
    }

    // MARK: - Implementation

    /// Tensors converted from Float32 next to tensors already encoded (an FP8 model's weights), in the given order.
    static func writeCheckpoint(pending: [PendingTensor], to directory: URL, maxShardBytes: Int) throws {
        try validate(pending, file: directory.path)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw SafeTensorsError.writeFailed(
                file: directory.path, reason: "cannot create directory: \(error.localizedDescription)")
        }
        // Greedy split in the given order.
        var shards: [[PendingTensor]] = []
        var current: [PendingTensor] = []
        var currentBytes = 0
        for tensor in pending {
            if !current.isEmpty && currentBytes + tensor.byteCount > max(1, maxShardBytes) {
                shards.append(current)
                current = []
                currentBytes = 0
            }
            current.append(tensor)
            currentBytes += tensor.byteCount
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }

        let metadata = ["format": "pt"]  // what transformers writes; some loaders check it
        var written: Set<String> = []
        if shards.count == 1 {
            try writeFile(
                shards[0], metadata: metadata, to: directory.appendingPathComponent(singleFileName), validated: true)
            written.insert(singleFileName)
        } else {
            var weightMap: [String: Any] = [:]
            for (i, shard) in shards.enumerated() {
                let name = String(format: "model-%05d-of-%05d.safetensors", i + 1, shards.count)
                try writeFile(shard, metadata: metadata, to: directory.appendingPathComponent(name), validated: true)
                written.insert(name)
                for tensor in shard { weightMap[tensor.name] = name }
            }
            let total = pending.reduce(0) { $0 + $1.byteCount }
            let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
            let indexURL = directory.appendingPathComponent(indexFileName)
            try AtomicFile.write(
                to: indexURL, failure: { SafeTensorsError.writeFailed(file: indexURL.path, reason: $0) }
            ) {
                try $0.write(JSONText.pretty(index) + "\n")
            }
            written.insert(indexFileName)
        }
        removeStaleFiles(in: directory, keeping: written)
    }

    /// Removes `model.safetensors`, `model-NNNNN-of-NNNNN.safetensors` and the index left by an
    /// earlier write, so a reader never sees two checkpoints in one folder.
    private static func removeStaleFiles(in directory: URL, keeping written: Set<String>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names where !written.contains(name) && isCheckpointFileName(name) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    static func isCheckpointFileName(_ name: String) -> Bool {
        if name == singleFileName || name == indexFileName { return true }
        // model-00001-of-00003.safetensors
        let parts = name.split(separator: "-")
        guard parts.count == 4, parts[0] == "model", parts[2] == "of", parts[3].hasSuffix(".safetensors") else {
            return false
        }
        let last = parts[3].dropLast(".safetensors".count)
        return [parts[1], last].allSatisfy { $0.count == 5 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }

    private static func writeFile(
        _ tensors: [PendingTensor], metadata: [String: String], to url: URL, validated: Bool = false
    ) throws {
        if !validated { try validate(tensors, file: url.path) }
        let sorted = tensors.sorted { $0.name < $1.name }
        let header = headerText(sorted, metadata: metadata)
        try AtomicFile.write(to: url, failure: { SafeTensorsError.writeFailed(file: url.path, reason: $0) }) { file in
            var length = UInt64(header.utf8.count).littleEndian
            try withUnsafeBytes(of: &length) { try file.write($0) }
            try file.write(header)
            for tensor in sorted { try tensor.write(to: file) }
        }
    }

    /// Compact header JSON (`__metadata__` first when present), padded with spaces to 8 bytes.
    static func headerText(_ sorted: [PendingTensor], metadata: [String: String]) -> String {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map {
                JSONText.quoted($0, asciiOnly: false) + ":" + JSONText.quoted(metadata[$0] ?? "", asciiOnly: false)
            }
            entries.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for tensor in sorted {
            let end = offset + tensor.byteCount
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append(
                JSONText.quoted(tensor.name, asciiOnly: false)
                    + ":{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(offset),\(end)]}"
            )
            offset = end
        }
        var text = "{" + entries.joined(separator: ",") + "}"
        let padding = (8 - text.utf8.count % 8) % 8
        text += String(repeating: " ", count: padding)
        return text
    }

    /// Checks names and byte counts before anything is written.
    private static func validate(_ tensors: [PendingTensor], file: String) throws {
        var seen: Set<String> = []
        for tensor in tensors {
            let name = tensor.name
            func refuse(_ reason: String) -> SafeTensorsError {
                .invalidTensor(file: file, tensor: name, reason: reason)
            }
            guard !name.isEmpty, name != "__metadata__" else { throw refuse("reserved or empty name") }
            guard seen.insert(name).inserted else { throw refuse("name given twice") }
            guard tensor.shape.allSatisfy({ $0 >= 0 }) else { throw refuse("negative dimension in \(tensor.shape)") }
            switch tensor {
            case let .float(_, _, dtype):
                guard dtype.isConvertibleToFloat else { throw refuse("cannot convert Float32 to \(dtype.rawValue)") }
            case let .stored(stored):
                var elements = 1
                for dim in stored.shape {
                    let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                    guard !overflow else { throw refuse("shape \(stored.shape) overflows") }
                    elements = product
                }
                let (expected, overflow) = elements.multipliedReportingOverflow(by: stored.dtype.byteSize)
                guard !overflow, expected == stored.bytes.count else {
                    throw refuse("\(stored.bytes.count) bytes for \(stored.dtype.rawValue) \(stored.shape)")
                }
            }
        }
    }
}

/// A tensor waiting to be written: Float32 converted while writing, or bytes copied as they are.
enum PendingTensor {
    case float(String, Tensor, DType)
    case stored(StoredTensor)

    var name: String {
        switch self {
        case let .float(name, _, _): name
        case let .stored(stored): stored.name
        }
    }
    /// The same tensor under another name (a wrapped language model's prefix).
    func renamed(_ newName: String) -> PendingTensor {
        switch self {
        case let .float(_, tensor, dtype): .float(newName, tensor, dtype)
        case let .stored(stored): .stored(stored.renamed(newName))
        }
    }
    var dtype: DType {
        switch self {
        case let .float(_, _, dtype): dtype
        case let .stored(stored): stored.dtype
        }
    }
    var shape: [Int] {
        switch self {
        case let .float(_, tensor, _): tensor.shape
        case let .stored(stored): stored.shape
        }
    }
    var byteCount: Int {
        switch self {
        case let .float(_, tensor, dtype): tensor.count * dtype.byteSize
        case let .stored(stored): stored.bytes.count
        }
    }

    /// Elements converted per write: bounds the extra memory to a few MB per tensor.
    static let chunk = 1 << 20

    func write(to file: AtomicFile) throws {
        switch self {
        case let .stored(stored):
            try file.write(stored.bytes)
        case let .float(_, tensor, dtype):
            try tensor.withUnsafeBufferPointer { src in
                if dtype == .f32 {
                    try file.write(UnsafeRawBufferPointer(src))
                    return
                }
                var buffer = [UInt8](repeating: 0, count: min(src.count, Self.chunk) * dtype.byteSize)
                try buffer.withUnsafeMutableBytes { raw in
                    var start = 0
                    while start < src.count {
                        let end = min(src.count, start + Self.chunk)
                        TensorEncoding.encode(UnsafeBufferPointer(rebasing: src[start..<end]), as: dtype, into: raw)
                        try file.write(UnsafeRawBufferPointer(rebasing: raw[0..<((end - start) * dtype.byteSize)]))
                        start = end
                    }
                }
            }
        }
    }
}
