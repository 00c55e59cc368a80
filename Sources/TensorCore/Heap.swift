#if canImport(Glibc)
    import Glibc
#endif

/// How the C heap treats the tensors a forward pass allocates and frees.
///
/// Every layer allocates and frees tensors of megabytes (an expert's [n_e, I] activations, the
/// [N, V] logits). glibc's defaults serve blocks above a moving threshold with mmap and give freed
/// memory back to the kernel, so the next layer page-faults the same megabytes in again, zeroed by
/// the kernel first: 40,000 faults and about 7% of the CPU time of a forward pass of config A
/// (`expertlock bench forward`). `keepFreedMemory()` keeps freed blocks in the process instead:
/// one arena, no mmap for blocks, no trimming. Peak RSS is unchanged (the memory was needed at the
/// peak anyway); the process simply does not shrink after it. No effect outside glibc.
public enum Heap {
    /// Configures glibc's malloc for tensor workloads. Call it first thing in `main`, before any
    /// other thread exists: a thread is bound to its malloc arena at its first allocation, so
    /// threads started earlier keep their own arenas. Later calls do nothing.
    public static func keepFreedMemory() {
        _ = configured
    }

    private static let configured: Bool = {
        #if canImport(Glibc)
            // mallopt is declared in malloc.h, which the Glibc module does not export: look it up.
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "mallopt") else { return false }
            let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
            // M_ARENA_MAX = -8, M_MMAP_MAX = -4, M_TRIM_THRESHOLD = -1 (malloc.h).
            _ = mallopt(-8, 1)  // one arena: threads reuse each other's freed blocks
            _ = mallopt(-4, 0)  // never mmap a block; the heap grows instead
            _ = mallopt(-1, Int32.max)  // never trim the top of the heap
            return true
        #else
            return false
        #endif
    }()
}
