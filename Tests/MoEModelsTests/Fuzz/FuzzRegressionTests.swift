import Foundation
import Testing
import MoEModels

/// Inputs `expertlock-fuzz` (fuzz/README.md) found crashing, hanging or breaking an invariant of
/// a MoEModels parser, kept verbatim under Fixtures/fuzz/<target>/. Each must now be refused with
/// the parser's own error (or, for the last, behave as documented).
struct FuzzRegressionTests {
    static func input(_ target: String, _ name: String) throws -> Data {
        try Data(contentsOf: TestSupport.fixtures.appendingPathComponent("fuzz/\(target)/\(name)"))
    }

    /// Hang, then out of memory: `validate()` enumerated all 4·10^12 layers to find the sparse ones.
    @Test func configClaimingTrillionsOfLayersIsRefusedUpFront() throws {
        let data = try Self.input("config", "trillion-layers.json")
        #expect(
            throws: ConfigError.invalid(
                file: "config.json",
                reason: "num_hidden_layers 4000000000000 is more than the 100000 layers any model has")
        ) { try ModelConfig.decode(data) }
    }

    /// Trap: OLMoE's `head_dim × num_attention_heads = hidden_size` check overflowed Int.
    @Test func olmoeHeadDimTimesHeadsOverflowIsRefused() throws {
        let data = try Self.input("config", "olmoe-head-dim-overflow.json")
        #expect(throws: ConfigError.self) { try ModelConfig.decode(data) }
    }

    /// Not found by the fuzzer but next to the layer fix: `mlp_only_layers` as long as the model is
    /// deep made `sparseLayers` quadratic (10^5 × 5·10^4 lookups).
    @Test func longMlpOnlyLayersListValidatesInLinearTime() throws {
        let layers = ModelConfig.maxLayers
        let dense = (0..<layers / 2).map { $0 * 2 }
        let json = """
            {"model_type": "qwen2_moe", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 8,
             "num_hidden_layers": \(layers), "num_attention_heads": 2, "num_key_value_heads": 2, "num_experts": 4,
             "mlp_only_layers": \(dense)}
            """
        let start = Date()
        let config = try ModelConfig.decode(Data(json.utf8))
        #expect(config.sparseLayers.count == layers / 2)
        #expect(Date().timeIntervalSince(start) < 10)
    }

    /// The issue's example, through the whole open path: a header claiming 10^12 elements (with
    /// offsets that agree) is refused by arithmetic on the header, before anything is allocated
    /// for the tensor; nothing is converted, so the process survives and memory stays flat.
    @Test(arguments: [
        "[1000000,1000000]", "[4611686018427387904]", "[3037000500,3037000500]", "[2147483648,2147483648]",
    ])
    func headerClaimingHugeElementCountsIsRefusedBeforeAllocating(_ shape: String) throws {
        try TestSupport.withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("huge.safetensors")
            let header = #"{"x":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4000000000000]}}"#
            try TestSupport.safetensorsBytes(header: header, data: Array(repeating: 0, count: 16)).write(to: url)
            let before = Self.peakResidentMB()
            #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(url: url) }
            #expect(Self.peakResidentMB() - before < 512)
        }
    }

    /// Invariant break (not a crash): the reference library reads and writes a tensor named "".
    /// The reader accepts it like the reference; the writer refuses it on purpose, so copying
    /// such a tensor (pruning) fails with a message instead of writing an odd file.
    @Test func emptyTensorNameIsReadButNotWritten() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("in.safetensors")
            try Self.input("safetensors", "empty-tensor-name.safetensors").write(to: url)
            let file = try SafeTensorsFile(url: url)
            #expect(file.tensorNames.contains(""))
            let stored = try file.tensorNames.map { try file.storedTensor($0) }
            #expect(throws: SafeTensorsError.self) {
                try SafeTensorsWriter.write(stored, to: dir.appendingPathComponent("out.safetensors"))
            }
        }
    }

    static func peakResidentMB() -> Int {
        var usage = rusage()
        #if os(macOS)
            getrusage(RUSAGE_SELF, &usage)
            return Int(usage.ru_maxrss) >> 20
        #else
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Int(usage.ru_maxrss) >> 10
        #endif
    }
}
