import Foundation

/// True when some input of an op needs a gradient: only then does the op keep (or compute) what
/// its backward rule needs. Inference with frozen parameters therefore caches nothing.
func anyRequiresGrad(_ inputs: Variable?...) -> Bool {
    inputs.contains { $0?.requiresGrad ?? false }
}

/// Small vector loops shared by the kernels. Reductions keep eight independent Float partial sums
/// (one SIMD register) so the compiler vectorises them and rounding stays close to PyTorch's
/// vectorised CPU reductions; nothing here allocates.
enum Kernels {
    /// Σ p[i] over `n` elements.
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < n {
            s += p[i]
            i += 1
        }
        return s
    }

    /// Σ a[i] * b[i] over `n` elements.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a)
        let rb = UnsafeRawPointer(b)
        while i + 8 <= n {
            acc +=
                ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < n {
            s += a[i] * b[i]
            i += 1
        }
        return s
    }

    /// Largest element of a non-empty vector (NaNs are skipped; −inf when every element is NaN),
    /// eight lanes at a time: the maximum is exact, so the result equals the scalar loop's.
    @inline(__always)
    static func max(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var m = -Float.infinity
        if n >= 8 {
            let raw = UnsafeRawPointer(p)
            var lanes = SIMD8<Float>(repeating: -.infinity)
            while i + 8 <= n {
                let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                lanes.replace(with: v, where: v .> lanes)
                i += 8
            }
            for l in 0..<8 where lanes[l] > m { m = lanes[l] }
        }
        while i < n {
            if p[i] > m { m = p[i] }
            i += 1
        }
        return m
    }

    /// dst[i] += src[i].
    @inline(__always)
    static func add(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { dst[i] += src[i] }
    }

    /// Rows of an elementwise kernel worth one thread: about 16K elements per chunk.
    @inline(__always)
    static func grain(rowWidth: Int) -> Int { Swift.max(1, 16_384 / Swift.max(1, rowWidth)) }

    /// Sums `count` elements split into fixed blocks (so the result does not depend on the thread
    /// count), blocks in parallel.
    static func blockedSum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        let block = 1 << 16
        let blocks = (count + block - 1) / block
        if blocks <= 1 { return sum(p, count) }
        var partials = [Float](repeating: 0, count: blocks)
        partials.withUnsafeMutableBufferPointer { part in
            let part = part.baseAddress!
            Parallel.forEach(blocks) { range in
                for b in range {
                    let lo = b * block
                    part[b] = sum(p + lo, Swift.min(block, count - lo))
                }
            }
        }
        var s: Float = 0
        for v in partials { s += v }
        return s
    }

    /// out[c] = Σ_r value(r, c) over `rows` rows, for a [rows, width] layout; parallel over column
    /// chunks so each column is summed in row order by one thread (deterministic, no races).
    /// `body(r, columns, out)` adds row r's contribution to out[columns].
    static func columnReduce(
        rows: Int, width: Int, into out: UnsafeMutablePointer<Float>,
        _ body: (Int, Range<Int>, UnsafeMutablePointer<Float>) -> Void
    ) {
        for c in 0..<width { out[c] = 0 }
        let grainColumns = Swift.max(16, 65_536 / Swift.max(1, rows))
        Parallel.forEach(width, grain: grainColumns) { columns in
            for r in 0..<rows { body(r, columns, out) }
        }
    }
}
