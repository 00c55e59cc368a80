import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Coverage-guided fuzzing through libFuzzer, for builds made with `-sanitize=fuzzer`
/// (see fuzz/README.md). The same targets, the same seed corpus; libFuzzer brings coverage
/// feedback, its own mutations, `-timeout`, `-rss_limit_mb` and crash artifacts.
///
/// libFuzzer's `main` is not used (SwiftPM points `main` at this module's entry), so the run
/// goes through `LLVMFuzzerRunDriver`, looked up at run time: an ordinary build links without
/// libFuzzer and says so instead of failing to link.
enum LibFuzzerDriver {
    typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    typealias RunDriver =
        @convention(c) (
            UnsafeMutablePointer<Int32>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
            TestOneInput
        ) -> Int32

    /// The target libFuzzer's callback runs; set once before the driver starts.
    nonisolated(unsafe) static var target: FuzzTarget?
    nonisolated(unsafe) static var scratch: FuzzScratch?

    /// Runs libFuzzer with `arguments` (its own flags and corpus folders); nil when this build
    /// has no libFuzzer.
    static func run(_ target: FuzzTarget, arguments: [String]) throws -> Int32? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "LLVMFuzzerRunDriver") else { return nil }
        let driver = unsafeBitCast(symbol, to: RunDriver.self)
        let scratch = try FuzzScratch()
        try target.setUp(scratch)
        Self.target = target
        Self.scratch = scratch
        // libFuzzer ends the process with exit() when it is done, so `defer` would never run.
        atexit { LibFuzzerDriver.scratch?.remove() }
        var argv: [UnsafeMutablePointer<CChar>?] = (["expertlock-fuzz"] + arguments).map { strdup($0) } + [nil]
        var argc = Int32(argv.count - 1)
        return argv.withUnsafeMutableBufferPointer { buffer in
            var pointer = buffer.baseAddress
            return driver(&argc, &pointer, { data, count in LibFuzzerDriver.runOne(data, count) })
        }
    }

    static func runOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
        guard let target, let scratch else { return 0 }
        let input = data.map { Data(bytes: $0, count: count) } ?? Data()
        if case .violation(let message) = FuzzOutcome.of(target, input, scratch) {
            // libFuzzer saves the input of a crash; a violation is made one on purpose.
            FileHandle.standardError.write(Data("invariant violated: \(message)\n".utf8))
            abort()
        }
        return 0
    }
}

/// libFuzzer's archive defines `main`, which needs this symbol whenever it is linked in; it
/// forwards to the driver's callback (unused in an ordinary build).
@_cdecl("LLVMFuzzerTestOneInput")
public func expertLockFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    LibFuzzerDriver.runOne(data, count)
}
