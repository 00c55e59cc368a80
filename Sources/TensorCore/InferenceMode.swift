#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#endif

/// Marks a stretch of code on the current thread as pure inference: no graph, no backward, no
/// training step in between. Kernels may then take paths that a training step must not (the small-
/// head attention kernel, whose probabilities a backward could not recompute bit for bit).
/// Thread-local, so a training loop on another thread is unaffected; nests.
public enum InferenceMode {
    /// Runs `body` with inference mode on for the current thread.
    public static func run<R>(_ body: () throws -> R) rethrows -> R {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(key, previous) }
        return try body()
    }

    /// Whether the current thread is inside `run`.
    public static var isActive: Bool { pthread_getspecific(key) != nil }

    static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
}
