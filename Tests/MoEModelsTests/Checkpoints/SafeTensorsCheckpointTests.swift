import Foundation
import Testing
import TensorCore
@testable import MoEModels

@Suite struct SafeTensorsCheckpointTests {
    /// Two shards and an index written by `huggingface_hub.save_torch_state_dict`.
    @Test func readsThePythonShardedCheckpoint() throws {
        let directory = TestSupport.fixtures.appendingPathComponent("checkpoints/sharded")
        let expected = try TestSupport.readJSON(
            TestSupport.fixtures.appendingPathComponent("checkpoints/sharded.expected.json"))
        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
        #expect(checkpoint.tensorNames == expected.keys.sorted())
        #expect(checkpoint.files.count == 2)
        #expect(checkpoint.totalBytes == 180)  // the index's total_size
        #expect(
            checkpoint.file(containing: "lm_head.weight")?.url.lastPathComponent == "model-00002-of-00002.safetensors")
        for (name, entry) in expected {
            let entry = try #require(entry as? [String: Any])
            let tensor = try checkpoint.tensor(name)
            #expect(tensor.shape == TestSupport.ints(entry["shape"]))
            #expect(tensor.data.map(\.bitPattern) == TestSupport.bits(entry["f32_bits"]))
            #expect(checkpoint.info(name)?.dtype == .bf16)
        }
        #expect(throws: SafeTensorsError.tensorNotFound(file: directory.path, tensor: "nope")) {
            try checkpoint.tensor("nope")
        }
    }

    static func tensors(_ names: [String], size: Int = 10) -> [(name: String, tensor: Tensor)] {
        names.enumerated().map { i, name in
            (name: name, tensor: Tensor(shape: [size], data: (0..<size).map { Float(i * 100 + $0) }))
        }
    }

    @Test func writesShardsAndIndexInTheHuggingFaceLayout() throws {
        try TestSupport.withTemporaryDirectory { dir in
            // 40 bytes per F32 tensor, at most 100 bytes per shard: 2 + 2 + 1 tensors.
            let names = ["l.0.w", "l.1.w", "l.2.w", "l.3.w", "head"]
            try SafeTensorsWriter.writeCheckpoint(Self.tensors(names), dtype: .f32, to: dir, maxShardBytes: 100)
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
            #expect(
                files == [
                    "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                    "model-00003-of-00003.safetensors", "model.safetensors.index.json",
                ])
            let index = try TestSupport.readJSON(dir.appendingPathComponent("model.safetensors.index.json"))
            #expect((index["metadata"] as? [String: Any])?["total_size"] as? Int == 200)
            let weightMap = try #require(index["weight_map"] as? [String: String])
            #expect(weightMap["l.0.w"] == "model-00001-of-00003.safetensors")
            #expect(weightMap["l.2.w"] == "model-00002-of-00003.safetensors")
            #expect(weightMap["head"] == "model-00003-of-00003.safetensors")
            let checkpoint = try SafeTensorsCheckpoint(directory: dir)
            #expect(checkpoint.tensorNames == names.sorted())
            #expect(checkpoint.totalBytes == 200)
            for (name, tensor) in Self.tensors(names) { #expect(try checkpoint.tensor(name) == tensor) }
            #expect(checkpoint.files.allSatisfy { $0.metadata == ["format": "pt"] })
        }
    }

    @Test func oneShardIsModelSafetensorsAndStaleFilesGo() throws {
        try TestSupport.withTemporaryDirectory { dir in
            try SafeTensorsWriter.writeCheckpoint(
                Self.tensors(["a", "b", "c"]), dtype: .bf16, to: dir, maxShardBytes: 20)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).count == 4)
            try "keep".write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
            try SafeTensorsWriter.writeCheckpoint(Self.tensors(["a", "b"]), dtype: .bf16, to: dir)
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [
                    "config.json", "model.safetensors",
                ])
            #expect(try SafeTensorsCheckpoint(directory: dir).tensorNames == ["a", "b"])
        }
    }

    @Test func aTensorLargerThanTheLimitGetsItsOwnShard() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let tensors =
                Self.tensors(["small"], size: 2) + Self.tensors(["big"], size: 50) + Self.tensors(["tail"], size: 2)
            try SafeTensorsWriter.writeCheckpoint(tensors, dtype: .f32, to: dir, maxShardBytes: 16)
            let checkpoint = try SafeTensorsCheckpoint(directory: dir)
            #expect(checkpoint.files.map { $0.tensorNames } == [["small"], ["big"], ["tail"]])
        }
    }

    @Test func storedTensorCheckpointKeepsBytes() throws {
        let source = try SafeTensorsCheckpoint(
            directory: TestSupport.fixtures.appendingPathComponent("checkpoints/sharded"))
        let stored = try source.tensorNames.map { name in try #require(source.file(containing: name)).storedTensor(name)
        }
        try TestSupport.withTemporaryDirectory { dir in
            try SafeTensorsWriter.writeCheckpoint(stored, to: dir, maxShardBytes: 60)
            let copy = try SafeTensorsCheckpoint(directory: dir)
            #expect(copy.tensorNames == source.tensorNames)
            #expect(copy.files.count > 1)
            for name in source.tensorNames { #expect(try copy.tensor(name) == source.tensor(name)) }
        }
    }

    @Test func withoutIndexAllFilesAreReadAndDuplicatesRefused() throws {
        try TestSupport.withTemporaryDirectory { dir in
            try SafeTensorsWriter.write(
                Self.tensors(["a", "b"]), dtype: .f32, to: dir.appendingPathComponent("one.safetensors"))
            try SafeTensorsWriter.write(
                Self.tensors(["c"]), dtype: .f32, to: dir.appendingPathComponent("two.safetensors"))
            #expect(try SafeTensorsCheckpoint(directory: dir).tensorNames == ["a", "b", "c"])
            let three = dir.appendingPathComponent("three.safetensors")
            try SafeTensorsWriter.write(Self.tensors(["b"]), dtype: .f32, to: three)
            let error = try #require(throws: SafeTensorsError.self) { try SafeTensorsCheckpoint(directory: dir) }
            #expect(
                error
                    == .duplicateTensor(
                        tensor: "b", firstFile: dir.appendingPathComponent("one.safetensors").path,
                        secondFile: three.path))
        }
    }

    @Test func missingFolderAndEmptyFolderAreErrors() throws {
        try TestSupport.withTemporaryDirectory { dir in
            #expect(throws: SafeTensorsError.noSafeTensorsFiles(directory: dir.path)) {
                try SafeTensorsCheckpoint(directory: dir)
            }
            let absent = dir.appendingPathComponent("absent")
            #expect(throws: SafeTensorsError.directoryNotFound(directory: absent.path)) {
                try SafeTensorsCheckpoint(directory: absent)
            }
        }
    }

    /// A two-shard checkpoint whose index is then replaced by `index`.
    static func withBrokenIndex(_ index: String, _ check: (URL, URL) throws -> Void) throws {
        try TestSupport.withTemporaryDirectory { dir in
            try SafeTensorsWriter.writeCheckpoint(tensors(["a", "b"]), dtype: .f32, to: dir, maxShardBytes: 40)
            let indexURL = dir.appendingPathComponent("model.safetensors.index.json")
            try index.write(to: indexURL, atomically: true, encoding: .utf8)
            try check(dir, indexURL)
        }
    }

    @Test func indexProblemsNameTheIndex() throws {
        let shard1 = "model-00001-of-00002.safetensors", shard2 = "model-00002-of-00002.safetensors"
        try Self.withBrokenIndex("{ not json") { dir, index in
            #expect(throws: SafeTensorsError.indexMalformed(file: index.path, reason: "is not valid JSON")) {
                try SafeTensorsCheckpoint(directory: dir)
            }
        }
        try Self.withBrokenIndex(#"{"metadata": {}}"#) { dir, index in
            #expect(throws: SafeTensorsError.indexMalformed(file: index.path, reason: #"has no "weight_map" object"#)) {
                try SafeTensorsCheckpoint(directory: dir)
            }
        }
        try Self.withBrokenIndex(#"{"weight_map": {"a": "\#(shard1)", "b": "model-00009-of-00009.safetensors"}}"#) {
            dir, index in
            #expect(
                throws: SafeTensorsError.indexMissingShard(file: index.path, shard: "model-00009-of-00009.safetensors")
            ) {
                try SafeTensorsCheckpoint(directory: dir)
            }
        }
        try Self.withBrokenIndex(#"{"weight_map": {"a": "\#(shard1)", "b": "\#(shard1)"}}"#) { dir, index in
            #expect(throws: SafeTensorsError.indexTensorMissing(file: index.path, tensor: "b", shard: shard1)) {
                try SafeTensorsCheckpoint(directory: dir)
            }
        }
        try Self.withBrokenIndex(#"{"weight_map": {"a": "\#(shard1)"}}"#) { dir, index in
            // shard 2 is not named by the index, so it is not opened: "b" is simply absent.
            let names = try SafeTensorsCheckpoint(directory: dir).tensorNames
            #expect(names == ["a"])
        }
        try Self.withBrokenIndex(#"{"weight_map": {"b": "\#(shard2)", "x": "\#(shard1)"}}"#) { dir, index in
            let error = try #require(throws: SafeTensorsError.self) { try SafeTensorsCheckpoint(directory: dir) }
            #expect(error.description.hasPrefix(index.path))
        }
    }
}
