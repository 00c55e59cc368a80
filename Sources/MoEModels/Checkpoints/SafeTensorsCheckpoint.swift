import Foundation
import TensorCore

/// A checkpoint folder: `model.safetensors.index.json` (weight_map) if present, else all
/// `*.safetensors` files (sorted) but a PEFT adapter and optimizer state; a tensor name appearing in
/// two files is an error.
///
/// With an index, the index is the authority and is checked both ways: every shard it names
/// must exist and hold the tensors it assigns to it, and no shard may hold a tensor the index
/// does not assign to it (a stale index after a partial copy would otherwise load silently).
public final class SafeTensorsCheckpoint: @unchecked Sendable {
    public let directory: URL
    /// The files, in the order they were opened (index shard order, or sorted file names).
    public let files: [SafeTensorsFile]
    /// Sorted tensor names.
    public let tensorNames: [String]
    private let location: [String: Int]

    /// `access`: map the files (default) or read them with `pread` (see `FileAccess`).
    public init(directory: URL, access: FileAccess = .mapped) throws {
        self.directory = directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw SafeTensorsError.directoryNotFound(directory: directory.path)
        }
        let indexURL = directory.appendingPathComponent(SafeTensorsWriter.indexFileName)
        if FileManager.default.fileExists(atPath: indexURL.path) {
            (files, location) = try Self.openIndexed(indexURL: indexURL, directory: directory, access: access)
        } else {
            (files, location) = try Self.openAll(directory: directory, access: access)
        }
        tensorNames = location.keys.sorted()
    }

    public func info(_ name: String) -> TensorInfo? {
        file(containing: name)?.info(name)
    }

    public func file(containing name: String) -> SafeTensorsFile? {
        location[name].map { files[$0] }
    }

    /// The tensor converted to Float32.
    public func tensor(_ name: String) throws -> Tensor {
        guard let file = file(containing: name) else {
            throw SafeTensorsError.tensorNotFound(file: directory.path, tensor: name)
        }
        return try file.tensor(name)
    }

    /// Bytes of tensor data over all files (the index's `total_size`).
    public var totalBytes: Int {
        files.reduce(0) { sum, file in sum + file.tensorInfos.reduce(0) { $0 + $1.byteCount } }
    }

    // MARK: - Picking files

    private static func openIndexed(indexURL: URL, directory: URL, access: FileAccess) throws -> (
        [SafeTensorsFile], [String: Int]
    ) {
        let indexPath = indexURL.path
        let data: Data
        do {
            data = try Data(contentsOf: indexURL)
        } catch {
            throw SafeTensorsError.indexUnreadable(file: indexPath, reason: error.localizedDescription)
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) else {
            throw SafeTensorsError.indexMalformed(file: indexPath, reason: "is not valid JSON")
        }
        guard let object = root as? [String: Any], let rawMap = object["weight_map"] as? [String: Any] else {
            throw SafeTensorsError.indexMalformed(file: indexPath, reason: "has no \"weight_map\" object")
        }
        var weightMap: [String: String] = [:]
        for (tensor, shard) in rawMap {
            guard let shard = shard as? String, !shard.isEmpty, !shard.contains("/") else {
                throw SafeTensorsError.indexMalformed(
                    file: indexPath, reason: "weight_map entry for '\(tensor)' is not a file name in this folder")
            }
            weightMap[tensor] = shard
        }
        var files: [SafeTensorsFile] = []
        var fileIndex: [String: Int] = [:]
        for shard in Set(weightMap.values).sorted() {
            let url = directory.appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw SafeTensorsError.indexMissingShard(file: indexPath, shard: shard)
            }
            fileIndex[shard] = files.count
            files.append(try SafeTensorsFile(url: url, access: access))
        }
        var location: [String: Int] = [:]
        for (tensor, shard) in weightMap {
            guard let i = fileIndex[shard], files[i].info(tensor) != nil else {
                throw SafeTensorsError.indexTensorMissing(file: indexPath, tensor: tensor, shard: shard)
            }
            location[tensor] = i
        }
        for (shard, i) in fileIndex {
            for name in files[i].tensorNames where weightMap[name] != shard {
                throw SafeTensorsError.indexUnlistedTensor(file: indexPath, tensor: name, shard: shard)
            }
        }
        return (files, location)
    }

    private static func openAll(directory: URL, access: FileAccess) throws -> ([SafeTensorsFile], [String: Int]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw SafeTensorsError.directoryNotFound(directory: directory.path)
        }
        // Files beside a model that are not its weights: LoRA adapters (PEFT) and optimizer state.
        let notWeights: Set<String> = ["adapter_model.safetensors", "optimizer.safetensors"]
        let shards = names.filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") && !notWeights.contains($0) }
            .sorted()
        guard !shards.isEmpty else { throw SafeTensorsError.noSafeTensorsFiles(directory: directory.path) }
        var files: [SafeTensorsFile] = []
        var location: [String: Int] = [:]
        for shard in shards {
            let file = try SafeTensorsFile(url: directory.appendingPathComponent(shard), access: access)
            for name in file.tensorNames {
                if let other = location[name] {
                    throw SafeTensorsError.duplicateTensor(
                        tensor: name, firstFile: files[other].url.path, secondFile: file.url.path)
                }
                location[name] = files.count
            }
            files.append(file)
        }
        return (files, location)
    }
}
