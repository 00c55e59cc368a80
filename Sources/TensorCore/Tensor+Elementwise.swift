// Plain-tensor arithmetic for code outside the autodiff graph (attribution statistics, optimizers,
// evaluation). Operands must have equal element counts; results take the left operand's shape.

extension Tensor {
    /// self + other.
    public func adding(_ other: Tensor) -> Tensor { zipLanes(other, SumLanes()) }

    /// self − other.
    public func subtracting(_ other: Tensor) -> Tensor { zipLanes(other, DifferenceLanes()) }

    /// self ⊙ other (elementwise).
    public func multiplied(by other: Tensor) -> Tensor { zipLanes(other, ProductLanes()) }

    /// self · s.
    public func scaled(by s: Float) -> Tensor { mapLanes(ScaledLanes(s)) }

    /// f applied to every element.
    public func map(_ f: (Float) -> Float) -> Tensor { mapElements(f) }

    /// self += alpha · other, in place (axpy; accumulating statistics across batches).
    public mutating func add(_ other: Tensor, scaledBy alpha: Float = 1) {
        precondition(count == other.count, "add: \(shape) and \(other.shape) differ in size")
        let n = count
        withUnsafeMutableBufferPointer { pd in
            other.withUnsafeBufferPointer { ps in
                let pd = pd.baseAddress!
                let ps = ps.baseAddress!
                Parallel.forEach(n, grain: 16_384) { range in
                    if alpha == 1 {
                        for i in range { pd[i] += ps[i] }
                    } else {
                        for i in range { pd[i] += alpha * ps[i] }
                    }
                }
            }
        }
    }

    /// self ·= s, in place.
    public mutating func scale(by s: Float) {
        let n = count
        withUnsafeMutableBufferPointer { pd in
            let pd = pd.baseAddress!
            Parallel.forEach(n, grain: 16_384) { range in
                for i in range { pd[i] *= s }
            }
        }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.adding(b) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.subtracting(b) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.multiplied(by: b) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.scaled(by: s) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.scaled(by: s) }
}

// Kernels shared with the elementwise ops.
extension Tensor {
    /// out[i] = f(self[i]), parallel over chunks of the flat buffer.
    @inline(__always)
    func mapElements(_ f: (Float) -> Float) -> Tensor {
        let n = count
        return Tensor(
            shape: shape,
            uninitialized: { po in
                let po = po.baseAddress!
                withUnsafeBufferPointer { px in
                    let px = px.baseAddress!
                    Parallel.forEach(n, grain: 16_384) { range in
                        for i in range { po[i] = f(px[i]) }
                    }
                }
            })
    }

    /// out[i] = f(self[i], other[i]) with the shape of `self`; element counts must match.
    @inline(__always)
    func zipElements(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(count == other.count, "elementwise: \(shape) and \(other.shape) differ in size")
        let n = count
        return Tensor(
            shape: shape,
            uninitialized: { po in
                let po = po.baseAddress!
                withUnsafeBufferPointer { pa in
                    other.withUnsafeBufferPointer { pb in
                        let pa = pa.baseAddress!
                        let pb = pb.baseAddress!
                        Parallel.forEach(n, grain: 16_384) { range in
                            for i in range { po[i] = f(pa[i], pb[i]) }
                        }
                    }
                }
            })
    }
}

// Vector (eight-lane) versions for kernels that are worth it: transcendental activations.
// The lane functions are values of small structs, not closures: a generic function is specialised
// for the struct and its body inlined into the parallel loop, while a closure captured by the
// loop's body stays an indirect call per vector (measured: 10× slower SwiGLU).

/// f(x) on eight lanes.
protocol LaneFunction { func callAsFunction(_ x: SIMD8<Float>) -> SIMD8<Float> }
/// f(a, b) on eight lanes.
protocol LaneFunction2 { func callAsFunction(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> }
/// f(a, b, c) on eight lanes.
protocol LaneFunction3 {
    func callAsFunction(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float>
}

extension Tensor {
    /// Runs `body(lo, hi)` over chunks of a flat buffer of `n` elements, bounds multiples of 8.
    @inline(__always)
    static func forEachLaneChunk(_ n: Int, _ body: (Int, Int) -> Void) {
        Parallel.forEach((n + 7) / 8, grain: 2048) { range in
            let lo = range.lowerBound * 8
            let hi = Swift.min(n, range.upperBound * 8)
            if lo < hi { body(lo, hi) }
        }
    }

    /// out = f(self) eight lanes at a time, parallel over chunks of the flat buffer.
    @inline(__always)
    func mapLanes<F: LaneFunction>(_ f: F) -> Tensor {
        let n = count
        return Tensor(
            shape: shape,
            uninitialized: { po in
                guard n > 0 else { return }
                let po = po.baseAddress!
                withUnsafeBufferPointer { px in
                    let px = px.baseAddress!
                    Tensor.forEachLaneChunk(n) { lo, hi in Kernels.lanes(px + lo, po + lo, hi - lo, f) }
                }
            })
    }

    /// out = f(self, other) eight lanes at a time, with the shape of `self`; counts must match.
    @inline(__always)
    func zipLanes<F: LaneFunction2>(_ other: Tensor, _ f: F) -> Tensor {
        precondition(count == other.count, "elementwise: \(shape) and \(other.shape) differ in size")
        let n = count
        return Tensor(
            shape: shape,
            uninitialized: { po in
                guard n > 0 else { return }
                let po = po.baseAddress!
                withUnsafeBufferPointer { pa in
                    other.withUnsafeBufferPointer { pb in
                        let pa = pa.baseAddress!
                        let pb = pb.baseAddress!
                        Tensor.forEachLaneChunk(n) { lo, hi in Kernels.lanes(pa + lo, pb + lo, po + lo, hi - lo, f) }
                    }
                }
            })
    }

    /// self = f(self, other) in place, eight lanes at a time: `zipLanes` without a second buffer.
    @inline(__always)
    mutating func formZipLanes<F: LaneFunction2>(_ other: Tensor, _ f: F) {
        precondition(count == other.count, "elementwise: \(shape) and \(other.shape) differ in size")
        let n = count
        guard n > 0 else { return }
        withUnsafeMutableBufferPointer { pa in
            other.withUnsafeBufferPointer { pb in
                let (pa, pb) = (pa.baseAddress!, pb.baseAddress!)
                Tensor.forEachLaneChunk(n) { lo, hi in Kernels.lanes(pa + lo, pb + lo, pa + lo, hi - lo, f) }
            }
        }
    }

    /// out = f(self, a, b) eight lanes at a time, with the shape of `self`.
    @inline(__always)
    func zipLanes<F: LaneFunction3>(_ a: Tensor, _ b: Tensor, _ f: F) -> Tensor {
        precondition(count == a.count && count == b.count, "elementwise: \(shape), \(a.shape), \(b.shape) differ")
        let n = count
        return Tensor(
            shape: shape,
            uninitialized: { po in
                guard n > 0 else { return }
                let po = po.baseAddress!
                withUnsafeBufferPointer { p0 in
                    a.withUnsafeBufferPointer { p1 in
                        b.withUnsafeBufferPointer { p2 in
                            let (p0, p1, p2) = (p0.baseAddress!, p1.baseAddress!, p2.baseAddress!)
                            Tensor.forEachLaneChunk(n) { lo, hi in
                                Kernels.lanes(p0 + lo, p1 + lo, p2 + lo, po + lo, hi - lo, f)
                            }
                        }
                    }
                }
            })
    }
}

/// a + b.
struct SumLanes: LaneFunction2 {
    @inline(__always) func callAsFunction(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a + b }
}

/// a − b.
struct DifferenceLanes: LaneFunction2 {
    @inline(__always) func callAsFunction(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a - b }
}

/// a · b.
struct ProductLanes: LaneFunction2 {
    @inline(__always) func callAsFunction(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a * b }
}

/// a · s for a constant s.
struct ScaledLanes: LaneFunction {
    let factor: SIMD8<Float>
    init(_ s: Float) { factor = SIMD8(repeating: s) }
    @inline(__always) func callAsFunction(_ a: SIMD8<Float>) -> SIMD8<Float> { a * factor }
}
