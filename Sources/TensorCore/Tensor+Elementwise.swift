// Plain-tensor arithmetic for code outside the autodiff graph (attribution statistics, optimizers,
// evaluation). Operands must have equal element counts; results take the left operand's shape.

extension Tensor {
    /// self + other.
    public func adding(_ other: Tensor) -> Tensor { zipElements(other, +) }

    /// self − other.
    public func subtracting(_ other: Tensor) -> Tensor { zipElements(other, -) }

    /// self ⊙ other (elementwise).
    public func multiplied(by other: Tensor) -> Tensor { zipElements(other, *) }

    /// self · s.
    public func scaled(by s: Float) -> Tensor { mapElements { $0 * s } }

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

    /// out[i] = f(self[i], a[i], b[i]) with the shape of `self`.
    @inline(__always)
    func zipElements(_ a: Tensor, _ b: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
        precondition(count == a.count && count == b.count, "elementwise: \(shape), \(a.shape), \(b.shape) differ")
        let n = count
        return Tensor(
            shape: shape,
            uninitialized: { po in
                let po = po.baseAddress!
                withUnsafeBufferPointer { p0 in
                    a.withUnsafeBufferPointer { p1 in
                        b.withUnsafeBufferPointer { p2 in
                            let p0 = p0.baseAddress!
                            let p1 = p1.baseAddress!
                            let p2 = p2.baseAddress!
                            Parallel.forEach(n, grain: 16_384) { range in
                                for i in range { po[i] = f(p0[i], p1[i], p2[i]) }
                            }
                        }
                    }
                }
            })
    }
}
