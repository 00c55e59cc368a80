import Foundation
import MoEModels
import Testing

@testable import ExpertLock

/// The trace forms of scripts/fixtures/make_trace_fixtures.py read to the same expert ids, and the
/// engines' record layouts (gateway wrapper, OpenAI choices, JSON arrays) are recognised.
struct RoutingTraceReaderTests {
    static let name = "mixtral_f32_gqa2"
    static let folder = Fixtures.packageRoot.appendingPathComponent("Tests/ExpertLockTests/Fixtures/traces/\(name)")
    static func shape() throws -> RoutingShape {
        RoutingShape(config: try ModelConfig.load(from: Fixtures.model(name)))
    }

    @Test func everyEncodingGivesTheSameExperts() throws {
        let shape = try Self.shape()
        let forms = try ["vllm.jsonl", "vllm-npy.json", "sglang.jsonl", "dump.safetensors"].map {
            try RoutingTraceReader.read(Self.folder.appendingPathComponent($0), shape: shape)
        }
        for traces in forms {
            #expect(traces.count == 3)
            #expect(traces.map(\.tokens) == [24, 24, 24])
            #expect(traces.map(\.experts) == forms[3].map(\.experts))
        }
        #expect(forms.map { $0[0].format } == [.vllm, .vllm, .sglang, .routerLogits])
        #expect(forms[0][1].request == "cmpl-1 (line 2)")
        #expect(forms[3].allSatisfy { $0.logits?.count == 2 })
    }

    @Test func signatureFromTheConfigEqualsTheLoadedModels() throws {
        for name in Fixtures.modelCases {
            let model = try ModelLoader.load(directory: Fixtures.model(name))
            #expect(ModelSignature(config: model.config) == ModelSignature(model: model), "\(name)")
        }
    }

    @Test func recordLayoutsAndClients() throws {
        let shape = try Self.shape()
        let lines = try String(contentsOf: Self.folder.appendingPathComponent("sglang.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any] ?? [:]
        let encoded = (first["meta_info"] as? [String: Any])?["routed_experts"] as? String ?? ""
        let gateway = "{\"client\": \"team-a\", \"response\": \(lines[0])}"
        let openAI = #"[{"id": "chat-1", "user": "u7", "choices": [{"sgl_ext": {"routed_experts": "\#(encoded)"}}]}]"#
        let fromGateway = try RoutingTraceReader.decode(Data(gateway.utf8), file: "g.jsonl", shape: shape)
        let fromOpenAI = try RoutingTraceReader.decode(Data(openAI.utf8), file: "o.json", shape: shape)
        #expect(fromGateway.map(\.client) == ["team-a"])
        #expect(fromOpenAI.map(\.client) == ["u7"])
        #expect(fromGateway[0].experts == fromOpenAI[0].experts)
        #expect(fromOpenAI[0].request == "chat-1 (record 1)")
    }

    @Test func nullRoutingSaysHowToTurnItOn() throws {
        let text = #"{"id": "c1", "prompt_routed_experts": null, "choices": [{"routed_experts": null}]}"#
        #expect {
            try RoutingTraceReader.decode(Data(text.utf8), file: "t.json", shape: try Self.shape())
        } throws: { error in
            "\(error)".contains("--enable-return-routed-experts") && "\(error)".contains("t.json")
                && "\(error)".contains("c1")
        }
    }

    @Test func idsOnlyTracesSupportFrequencyAndLogitsSoftMass() throws {
        let shape = try Self.shape()
        let ids = try RoutingTraceReader.read(Self.folder.appendingPathComponent("vllm.jsonl"), shape: shape)
        let logits = try RoutingTraceReader.read(Self.folder.appendingPathComponent("dump.safetensors"), shape: shape)
        let a = try TraceAttribution.attribute(traces: ids, shape: shape, modelPath: "m")
        let b = try TraceAttribution.attribute(traces: logits, shape: shape, modelPath: "m")
        #expect(a.source?.criteria == [.frequency] && a.criterion == .frequency)
        #expect(b.source?.criteria == [.soft, .frequency] && b.criterion == .soft)
        #expect(a.statistics.map { $0.map(\.frequency) } == b.statistics.map { $0.map(\.frequency) })
        // Soft mass: one probability per token and layer; gate mass: renormalised top-k (Mixtral).
        for row in b.statistics {
            #expect(abs(row.map(\.softMass).reduce(0, +) - Double(b.tokens)) < 1e-6)
            #expect(abs(row.map(\.gateMass).reduce(0, +) - Double(b.tokens)) < 1e-6)
        }
        // Mixing ids-only and logit traces keeps frequency only.
        let mixed = try TraceAttribution.attribute(traces: ids + logits, shape: shape, modelPath: "m")
        #expect(mixed.source?.criteria == [.frequency])
        #expect(mixed.statistics.allSatisfy { $0.allSatisfy { $0.softMassFixed == 0 } })
        #expect(throws: RoutingTraceError.self) {
            try TraceAttribution.attribute(traces: ids, shape: shape, modelPath: "m", criterion: .reap)
        }
    }

    @Test(arguments: [
        (#"{"prompt_routed_experts": [[[0, 1]]]}"#, "1 layers where the model has 2"),
        (#"{"prompt_routed_experts": [[[0, 1, 2], [0, 1, 2]]]}"#, "top-k"),
        (#"{"prompt_routed_experts": [[[0, 1], [0, -1]]]}"#, "out of range"),
        (#"{"prompt_routed_experts": [[[0, 1.5], [0, 1]]]}"#, "not an integer"),
        (#"{"meta_info": {"routed_experts": "AAAA"}}"#, "not a whole number of tokens"),
        (#"{"meta_info": {"routed_experts": "AAA"}}"#, "base64"),
        (#"{"prompt_routed_experts": {"data": "AAAAAAAAAAAAAAAA", "dtype": "int16", "shape": [2, 2, 3]}}"#, "top-3"),
        (#"{"prompt_routed_experts": {"data": "AAAAAAAAAAAAAAAA", "dtype": "float32", "shape": [1, 2, 2]}}"#, "dtype"),
        (#"{"text": "hello"}"#, "no routed experts"),
    ])
    func malformedRecordsAreRefusedWithAReason(_ text: String, _ reason: String) throws {
        let shape = try Self.shape()
        do {
            _ = try RoutingTraceReader.decode(Data(text.utf8), file: "bad.json", shape: shape)
            Issue.record("accepted \(text)")
        } catch let error as RoutingTraceError {
            #expect(error.description.contains(reason) && error.description.contains("bad.json"), "\(error)")
            #expect(error.description.contains("record 1"))
        }
    }

    @Test func npyHeaderIsParsed() throws {
        // np.save of np.array([[[1, 2], [3, 0]]], dtype='<i2'): version 1.0, 128-byte header block.
        var header = "{'descr': '<i2', 'fortran_order': False, 'shape': (1, 2, 2), }"
        header += String(repeating: " ", count: 128 - 10 - header.count - 1) + "\n"
        var bytes = NumpyArray.magic + Data([1, 0, UInt8(header.count), 0]) + Data(header.utf8)
        for v: Int16 in [1, 2, 3, 0] { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        let decoded = try NumpyArray.decode(bytes)
        #expect(decoded.shape == [1, 2, 2] && decoded.values == [1, 2, 3, 0])
        #expect(throws: RoutedExpertsArray.Failure.self) { try NumpyArray.decode(bytes.dropLast(2)) }
    }
}
