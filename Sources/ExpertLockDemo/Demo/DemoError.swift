/// Why the demo could not finish a stage (not an input problem: the demo makes all its inputs).
public enum DemoError: Error, CustomStringConvertible, Equatable {
    case stage(String)

    public var description: String {
        switch self {
        case .stage(let reason): "DemoPipeline: \(reason)"
        }
    }
}
