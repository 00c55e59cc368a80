import Foundation
import Testing
import TensorCore
@testable import MoEModels

/// FP8 checkpoints (block-scaled `float8_e4m3fn`, as DeepSeek-V3, Kimi-K2 and MiniMax-M2 publish them): the
/// codec and transformers' quantizer against torch (golden file from scripts/fixtures/make_fp8_fixtures.py),
/// pruned copies that keep the FP8 bytes and scales, and FP8 input that is refused. The logits of the FP8
/// fixtures against transformers are checked with every family fixture (`FamilyParityTests`).
struct BlockFP8Tests {
    static let cases = FamilyParityTests.cases.filter { $0.contains("_fp8_") }

    struct Golden: Decodable {
        let values: [Double?]
        let inputs: [Float]
        let bytes: [UInt8]
        let matrix: [Float]
        let matrix_shape: [Int]
        let block: [Int]
        let matrix_fp8: [UInt8]
        let matrix_scale_inv: [Float]
    }

    static func golden() throws -> Golden {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(
            "fp8/e4m3.json")
        return try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
    }

    @Test func fixturesCoverDeepseekAndMinimax() {
        #expect(
            Self.cases.contains { $0.hasPrefix("deepseek_v3_") } && Self.cases.contains { $0.hasPrefix("minimax_m2_") })
    }

    @Test func codecMatchesTorch() throws {
        let golden = try Self.golden()
        for (byte, value) in golden.values.enumerated() {
            let ours = FP8E4M3.decode(UInt8(byte))
            if let value { #expect(Double(ours) == value, "byte \(byte)") } else { #expect(ours.isNaN, "byte \(byte)") }
        }
        for (x, byte) in zip(golden.inputs, golden.bytes) { #expect(FP8E4M3.encode(x) == byte, "input \(x)") }
    }

    /// The re-quantization of changed weights is transformers' `Fp8Quantize`, byte for byte.
    @Test func quantizeMatchesTransformers() throws {
        let golden = try Self.golden()
        let fp8 = FP8Quantization(blockSize: golden.block)
        let (bytes, scales) = fp8.quantize(Tensor(shape: golden.matrix_shape, data: golden.matrix))
        #expect(bytes == golden.matrix_fp8)
        #expect(scales.shape == fp8.scaleShape(of: golden.matrix_shape))
        #expect(scales.data == golden.matrix_scale_inv)
        let back = golden.matrix_fp8.withUnsafeBytes {
            fp8.dequantize($0, rows: 0..<golden.matrix_shape[0], columns: golden.matrix_shape[1], scales: scales)
        }
        let columns = golden.matrix_shape[1]
        for i in stride(from: 0, to: back.count, by: 37) {
            let scale = scales.data[(i / columns / 32) * scales.shape[1] + (i % columns) / 32]
            #expect(back.data[i] == FP8E4M3.decode(golden.matrix_fp8[i]) * scale)
        }
    }

    /// A block grid the block size does not divide (DeepSeek-V3's kv_a_proj_with_mqa: 576 rows in blocks of
    /// 128) takes ⌈R/b⌉ scales: the last block row and column are partial.
    @Test func partialBlocksUseTheCeilingGrid() {
        let fp8 = FP8Quantization(blockSize: [4, 4])
        #expect(fp8.scaleShape(of: [6, 9]) == [2, 3])
        let bytes = [UInt8](repeating: 0x38, count: 54)  // 1.0
        let scales = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let out = bytes.withUnsafeBytes { fp8.dequantize($0, rows: 0..<6, columns: 9, scales: scales) }
        #expect(out.data[0] == 1 && out.data[8] == 3 && out.data[4 * 9] == 4 && out.data[5 * 9 + 8] == 6)
    }

    /// `prune --mode remove` (`keepingExperts` + `save(keepStoredDTypes:)`) writes every kept FP8 weight and
    /// its scales byte for byte under the expert's new number, and keeps `quantization_config`.
    @Test(arguments: cases)
    func prunedCopyKeepsFP8BytesAndScales(_ name: String) throws {
        let source = FamilyParityTests.fixture(name)
        let model = try ModelLoader.load(directory: source)
        let dropped: Set<Int> = [1, model.moeBlocks[0].expertCount - 1]
        let kept = model.moeBlocks.map { block in (0..<block.expertCount).filter { !dropped.contains($0) } }
        try TestSupport.withTemporaryDirectory { dir in
            try model.keepingExperts(kept).save(
                to: dir, dtype: .bf16, configSource: source.appendingPathComponent("config.json"),
                keepStoredDTypes: true)
            let original = try SafeTensorsCheckpoint(directory: source)
            let pruned = try SafeTensorsCheckpoint(directory: dir)
            var fp8Count = 0
            for tensor in pruned.tensorNames {
                var from = tensor
                if case let .expert(layer, _, x, _, _) = TensorName(
                    parsing: tensor.replacingOccurrences(of: "_scale_inv", with: ""))
                {
                    let l = model.moeBlocks.firstIndex { $0.layer == layer }!
                    from = tensor.replacingOccurrences(of: "experts.\(x).", with: "experts.\(kept[l][x]).")
                }
                let a = try #require(original.info(from), "\(tensor) ← \(from)")
                let b = try #require(pruned.info(tensor))
                #expect(a.dtype == b.dtype, "\(tensor)")
                if a.dtype == .f8e4m3 { fp8Count += 1 }
                if a.shape == b.shape {
                    let bytes = try original.file(containing: from)!.storedTensor(from).bytes
                    #expect(try pruned.file(containing: tensor)!.storedTensor(tensor).bytes == bytes, "\(tensor)")
                }
            }
            let fp8Before = original.tensorNames.filter { original.info($0)?.dtype == .f8e4m3 }
            let expertsPerLayer = Double(kept[0].count) / Double(model.moeBlocks[0].expertCount)
            #expect(
                fp8Count > 0 && fp8Count < fp8Before.count
                    && Double(fp8Count) >= expertsPerLayer * Double(fp8Before.count) - 1)
            let config = try TestSupport.readJSON(dir.appendingPathComponent("config.json"))
            let before = try TestSupport.readJSON(source.appendingPathComponent("config.json"))
            #expect(
                NSDictionary(dictionary: config["quantization_config"] as? [String: Any] ?? [:])
                    .isEqual(to: before["quantization_config"] as? [String: Any] ?? ["missing": true]))
            // The copy loads and routes as the masked original.
            let expected = try FamilyParityTests.expected(name)
            let reloaded = try ModelLoader.load(directory: dir)
            model.maskExperts(model.moeBlocks.map { b in (0..<b.expertCount).map { !dropped.contains($0) } })
            let masked = try model.forward(TokenBatch(expected.ids)).logits.value
            #expect(
                ModelParityTests.maxDifference(
                    try reloaded.forward(TokenBatch(expected.ids)).logits.value,
                    masked.data.chunked(masked.lastDim)) <= 1e-5)
        }
    }

    /// A weight changed after loading (training, a merged LoRA) is quantized again as transformers does.
    @Test func changedWeightIsQuantizedAgain() throws {
        let name = try #require(Self.cases.first)
        let model = try ModelLoader.load(directory: FamilyParityTests.fixture(name))
        let p = try #require(model.parameters.first { $0.isStoredQuantized && $0.name.contains("experts.0.") })
        let changed = try p.tensor() * 0.5
        p.assign(changed)
        try TestSupport.withTemporaryDirectory { dir in
            try model.save(to: dir, dtype: .bf16, keepStoredDTypes: true)
            let file = try SafeTensorsCheckpoint(directory: dir)
            #expect(file.info(p.name)?.dtype == .f8e4m3)
            let block = try #require(model.config.fp8)
            let (bytes, scales) = block.quantize(changed)
            #expect(try file.file(containing: p.name)!.storedTensor(p.name).bytes == Data(bytes))
            #expect(try file.tensor(FP8Quantization.scaleName(of: p.name)).data == scales.data)
        }
    }

    /// Bad input: an FP8 weight without its scale, or FP8 weights in a config without `quantization_config`.
    @Test func fp8WithoutScaleOrConfigIsRefused() throws {
        let name = try #require(Self.cases.first)
        let source = FamilyParityTests.fixture(name)
        let original = try SafeTensorsCheckpoint(directory: source)
        let victim = try #require(original.tensorNames.first { $0.hasSuffix("experts.2.up_proj.weight") })
        try TestSupport.withTemporaryDirectory { dir in
            let tensors = try original.tensorNames.filter { $0 != victim + "_scale_inv" }
                .map { try original.file(containing: $0)!.storedTensor($0) }
            try SafeTensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
            try FileManager.default.copyItem(
                at: source.appendingPathComponent("config.json"),
                to: dir.appendingPathComponent("config.json"))
            let error = try #require(throws: SafeTensorsError.self) { try ModelLoader.load(directory: dir) }
            #expect(
                error.description.contains("model.safetensors") && error.description.contains(victim)
                    && error.description.contains("without its scale"), "\(error)")
        }
        try FamilyLoadingTests.withCopy(name, edit: { $0["quantization_config"] = nil }) { dir in
            let error = try #require(throws: SafeTensorsError.self) { try ModelLoader.load(directory: dir) }
            #expect(error.description.contains("no quantization_config"), "\(error)")
        }
    }
}

private extension Array where Element == Float {
    func chunked(_ width: Int) -> [[Double]] {
        stride(from: 0, to: count, by: width).map { self[$0..<($0 + width)].map(Double.init) }
    }
}
