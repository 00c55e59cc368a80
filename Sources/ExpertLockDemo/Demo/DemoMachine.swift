import ExpertLock
import Foundation
import TensorCore

/// The machine a demo ran on, as its excerpt labels it: the thread count (results repeat bit for
/// bit on the same count only) and the processor.
public struct DemoMachine: Sendable, Codable, Equatable {
    public var threads: Int
    public var cores: Int
    public var architecture: String

    public var description: String { "\(architecture), \(cores) core\(cores == 1 ? "" : "s")" }

    public static var current: DemoMachine {
        var name = utsname()
        uname(&name)
        var field = name.machine
        let machine = withUnsafeBytes(of: &field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return DemoMachine(
            threads: Parallel.threads, cores: ProcessInfo.processInfo.activeProcessorCount, architecture: machine)
    }
}
