import ExpertLock
import Foundation
import MoEModels

/// Targets for serving engines' routing traces (`attribute --traces`, `monitor`): vLLM and SGLang
/// responses (JSON and JSON Lines, nested arrays, base64 int32, base64 .npy) and router-logit
/// safetensors dumps. The model is the fixture `mixtral_f32_gqa2` (2 sparse layers of 4 experts,
/// top-2), whose traces `scripts/fixtures/make_trace_fixtures.py` wrote as the seeds.
extension ParserCalls {
    static let traceShape: RoutingShape? = try? RoutingShape(
        config: ModelConfig.load(
            from: packageRoot.appendingPathComponent("Tests/MoEModelsTests/Fixtures/models/mixtral_f32_gqa2")))

    static func shapeForTraces() throws -> RoutingShape {
        guard let traceShape else { throw InvariantViolation("the fixture model mixtral_f32_gqa2 is missing") }
        return traceShape
    }

    /// A vLLM or SGLang response file read as `attribute --traces` and `monitor` read it.
    static func engineTrace(_ data: Data, _ scratch: FuzzScratch) throws {
        let shape = try shapeForTraces()
        try checkTraces(try RoutingTraceReader.decode(data, file: "traces.jsonl", shape: shape), shape: shape)
    }

    /// A router-logit dump read from a file, as `attribute --traces dump.safetensors` does.
    static func routerLogitTrace(_ data: Data, _ scratch: FuzzScratch) throws {
        let shape = try shapeForTraces()
        let url = try scratch.write(data, to: "dump.safetensors")
        try checkTraces(try RouterLogitsDump.read(url, shape: shape), shape: shape)
    }

    /// What must hold for accepted traces: every token counted top-k times per layer, the
    /// attribution written and read back equal, and the monitor scores them.
    static func checkTraces(_ traces: [RoutingTrace], shape: RoutingShape) throws {
        let attribution = try TraceAttribution.attribute(
            traces: traces, shape: shape, modelPath: "m", criterion: .frequency)
        for row in attribution.statistics
        where row.map(\.frequency).reduce(0, +) != attribution.tokens * Int64(shape.topK) {
            throw InvariantViolation("frequencies do not add up to tokens × top-k")
        }
        let text = try JSONSerialization.data(withJSONObject: attribution.jsonObject(), options: [.sortedKeys])
        guard try ExpertAttribution.decode(text, file: "written.json") == attribution else {
            throw InvariantViolation("a trace attribution reads back different after writing")
        }
        var parameters = ProbeMonitor.Parameters()
        parameters.nullSamples = 4
        parameters.online = false
        _ = ProbeMonitor.scores(traces: traces, shape: shape, parameters: parameters)
    }
}
