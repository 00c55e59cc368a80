import Foundation

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#endif

/// The system CBLAS, loaded at run time.
///
/// Loading with `dlopen` instead of linking keeps the package building and running on a machine
/// without OpenBLAS: `Gemm` then falls back to its Swift kernel. OpenBLAS is set to one thread
/// per call at load time; parallelism comes from `Gemm` and `Parallel`. Search order:
/// `EXPERTLOCK_BLAS` (a path), then Accelerate on macOS, then `libopenblas.so.0` / `libopenblas.so`
/// / `libblas.so.3` on Linux.
public final class BLAS: @unchecked Sendable {
    // cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
    typealias SgemmFn =
        @convention(c) (
            Int32, Int32, Int32, Int32, Int32, Int32,
            Float, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
            Float, UnsafeMutablePointer<Float>?, Int32
        ) -> Void
    typealias SetThreadsFn = @convention(c) (Int32) -> Void

    static let rowMajor: Int32 = 101
    static let noTrans: Int32 = 111
    static let trans: Int32 = 112

    /// Path of the library that was loaded.
    public let path: String
    let sgemmFn: SgemmFn
    let setThreadsFn: SetThreadsFn?

    private init(path: String, sgemm: SgemmFn, setThreads: SetThreadsFn?) {
        self.path = path
        self.sgemmFn = sgemm
        self.setThreadsFn = setThreads
    }

    /// The loaded library, or nil when none was found (or `EXPERTLOCK_BLAS=none`).
    public static let shared: BLAS? = load()

    static func candidatePaths() -> [String] {
        if let custom = ProcessInfo.processInfo.environment["EXPERTLOCK_BLAS"], !custom.isEmpty {
            return custom == "none" ? [] : [custom]
        }
        #if canImport(Darwin)
            return ["/System/Library/Frameworks/Accelerate.framework/Accelerate"]
        #else
            return [
                "libopenblas.so.0", "libopenblas.so", "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
                "/usr/lib/aarch64-linux-gnu/libopenblas.so.0", "libblas.so.3",
            ]
        #endif
    }

    static func load() -> BLAS? {
        for path in candidatePaths() {
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard let sym = dlsym(handle, "cblas_sgemm") else {
                dlclose(handle)
                continue
            }
            let sgemm = unsafeBitCast(sym, to: SgemmFn.self)
            let threads = dlsym(handle, "openblas_set_num_threads").map { unsafeBitCast($0, to: SetThreadsFn.self) }
            // One thread per call: `Gemm` splits large products over `Parallel` itself, and kernels
            // call sgemm from several threads at once (one attention head each). OpenBLAS's own
            // pool would oversubscribe the cores and its pthreads build serialises concurrent callers
            // (measured: attention 7x slower).
            threads?(1)
            return BLAS(path: path, sgemm: sgemm, setThreads: threads)
        }
        return nil
    }

    /// Sets how many threads matrix products use. OpenBLAS itself stays single-threaded and
    /// `Gemm` splits a large product into `Parallel.threads` blocks, one BLAS call each; so this
    /// sets `Parallel.threads` (the Swift kernels' worker count as well).
    public func setThreads(_ n: Int) { Parallel.threads = max(1, n) }

    /// Row-major C = alpha * op(A) * op(B) + beta * C.
    @inline(__always)
    func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        sgemmFn(
            BLAS.rowMajor, transA ? BLAS.trans : BLAS.noTrans, transB ? BLAS.trans : BLAS.noTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
