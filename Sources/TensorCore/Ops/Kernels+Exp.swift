// Vectorised exponential for the kernels that spend their time in exp: attention softmax, SwiGLU
// and the other sigmoid-based activations. libm's scalar expf costs about as much as 20
// multiply-adds; profiling config B (`expertlock bench forward`) showed it at 17% of the forward.

extension Kernels {
    /// e^x for eight lanes at once (Cephes `expf`: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial,
    /// then scaled by 2^n through the exponent bits). Maximum relative error about 2 ulp against the
    /// correctly rounded result, as PyTorch's vectorised (Sleef) exp. Overflows to +inf above
    /// 88.72, underflows to 0 below −87.34 (so exp(−inf) = 0); NaN stays NaN.
    /// Nothing here traps: the integer part goes through bit patterns (unsafeBitCast of equal-size vectors), not a
    /// conversion.
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let high = SIMD8<Float>(repeating: 88.722_839)
        let low = SIMD8<Float>(repeating: -87.336_54)
        // Clamp with masks: the stdlib's pointwiseMin/Max are not inlined (a call per vector).
        var clamped = x
        clamped.replace(with: low, where: x .< low)
        clamped.replace(with: high, where: x .> high)
        let (p, shifted) = reduced(clamped)
        // 2^n as 2^h · 2^(n−h) with h = n/2 (both in [−63, 64]), each from exponent bits, so n
        // may span [−126, 128] without overflowing or flushing a normal result to zero.
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let halfPower = integer &>> 1
        let scale1 = unsafeBitCast((halfPower &+ 127) &<< 23, to: SIMD8<Float>.self)
        let scale2 = unsafeBitCast((integer &- halfPower &+ 127) &<< 23, to: SIMD8<Float>.self)
        var result = p * scale1 * scale2
        result.replace(with: SIMD8<Float>(repeating: .infinity), where: x .> high)
        result.replace(with: SIMD8<Float>(), where: x .< low)
        result.replace(with: x, where: x .!= x)  // NaN
        return result
    }

    /// e^x for the shifted arguments of a softmax (x − max ≤ 0): the same polynomial and results as
    /// `exp` without the overflow handling (one power-of-two scale instead of two), a sixth fewer
    /// instructions. Valid up to x = 88.37; larger arguments are a programmer error. Underflow
    /// (x < −87.34, including −inf) gives 0 and NaN gives NaN, as `exp`.
    @inline(__always)
    static func expNonPositive(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let low = SIMD8<Float>(repeating: -87.336_54)
        var clamped = x
        clamped.replace(with: low, where: x .< low)
        let (p, shifted) = reduced(clamped)
        // n ∈ [−126, 127]: 2^n is one normal number.
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        var result = p * unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
        result.replace(with: SIMD8<Float>(), where: x .< low)
        result.replace(with: x, where: x .!= x)  // NaN
        return result
    }

    /// e^x of one value through the vector kernel, so scalar tails round exactly like the lanes.
    @inline(__always)
    static func exp(_ x: Float) -> Float { exp(SIMD8<Float>(repeating: x))[0] }

    /// dst[i] = e^(src[i] − shift) for n elements (src and dst may alias); returns Σ dst[i].
    /// `shift` must be at least every src[i] (the row maximum, or a saved log Σ exp).
    @inline(__always)
    static func expShifted(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, shift: Float
    ) -> Float {
        let s = SIMD8<Float>(repeating: shift)
        let rs = UnsafeRawPointer(src)
        let rd = UnsafeMutableRawPointer(dst)
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            let e = expNonPositive(rs.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - s)
            rd.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
            acc += e
            i += 8
        }
        if i < n {
            var tail = SIMD8<Float>(repeating: -.infinity)
            for j in 0..<(n - i) { tail[j] = src[i + j] }
            let e = expNonPositive(tail - s)  // padding lanes give e^−inf = 0
            for j in 0..<(n - i) { dst[i + j] = e[j] }
            acc += e
        }
        return acc.sum()
    }

    /// Σ e^(src[i] − shift) over n elements; `shift` at least every src[i].
    @inline(__always)
    static func expShiftedSum(_ src: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        let s = SIMD8<Float>(repeating: shift)
        let rs = UnsafeRawPointer(src)
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc += expNonPositive(rs.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - s)
            i += 8
        }
        if i < n {
            var tail = SIMD8<Float>(repeating: -.infinity)
            for j in 0..<(n - i) { tail[j] = src[i + j] }
            acc += expNonPositive(tail - s)  // padding lanes give e^−inf = 0
        }
        return acc.sum()
    }

    /// (Σ e^(src[i] − shift), Σ e^(src[i] − shift)·(src[i] − shift)) over n elements; `shift` at least
    /// every src[i]. The second sum gives a softmax's entropy: H = log S − W / S.
    @inline(__always)
    static func expShiftedMoments(_ src: UnsafePointer<Float>, _ n: Int, shift: Float) -> (sum: Float, weighted: Float)
    {
        let s = SIMD8<Float>(repeating: shift)
        let rs = UnsafeRawPointer(src)
        var acc = SIMD8<Float>()
        var weighted = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            let x = rs.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - s
            let e = expNonPositive(x)
            acc += e
            weighted = weighted.addingProduct(e, x)
            i += 8
        }
        if i < n {
            var tail = SIMD8<Float>(repeating: shift)  // padding lanes: x = 0, e^0 masked below
            for j in 0..<(n - i) { tail[j] = src[i + j] }
            let x = tail - s
            var e = expNonPositive(x)
            for j in (n - i)..<8 { e[j] = 0 }
            acc += e
            weighted = weighted.addingProduct(e, x)
        }
        return (acc.sum(), weighted.sum())
    }

    /// dst[i] = f(a[i]) eight lanes at a time; the tail runs through the same vector code, so
    /// every element rounds alike.
    @inline(__always)
    static func lanes<F: LaneFunction>(
        _ a: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: F
    ) {
        let (ra, rd) = (UnsafeRawPointer(a), UnsafeMutableRawPointer(dst))
        var i = 0
        while i + 8 <= n {
            rd.storeBytes(
                of: f(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)), toByteOffset: i * 4,
                as: SIMD8<Float>.self)
            i += 8
        }
        if i < n {
            var va = SIMD8<Float>()
            for j in 0..<(n - i) { va[j] = a[i + j] }
            let y = f(va)
            for j in 0..<(n - i) { dst[i + j] = y[j] }
        }
    }

    /// dst[i] = f(a[i], b[i]) eight lanes at a time.
    @inline(__always)
    static func lanes<F: LaneFunction2>(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: F
    ) {
        let (ra, rb, rd) = (UnsafeRawPointer(a), UnsafeRawPointer(b), UnsafeMutableRawPointer(dst))
        var i = 0
        while i + 8 <= n {
            let y = f(
                ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            rd.storeBytes(of: y, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        if i < n {
            var (va, vb) = (SIMD8<Float>(), SIMD8<Float>())
            for j in 0..<(n - i) {
                va[j] = a[i + j]
                vb[j] = b[i + j]
            }
            let y = f(va, vb)
            for j in 0..<(n - i) { dst[i + j] = y[j] }
        }
    }

    /// dst[i] = f(a[i], b[i], c[i]) eight lanes at a time.
    @inline(__always)
    static func lanes<F: LaneFunction3>(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: F
    ) {
        let (ra, rb, rc) = (UnsafeRawPointer(a), UnsafeRawPointer(b), UnsafeRawPointer(c))
        let rd = UnsafeMutableRawPointer(dst)
        var i = 0
        while i + 8 <= n {
            let y = f(
                ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                rc.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            rd.storeBytes(of: y, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        if i < n {
            var (va, vb, vc) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
            for j in 0..<(n - i) {
                va[j] = a[i + j]
                vb[j] = b[i + j]
                vc[j] = c[i + j]
            }
            let y = f(va, vb, vc)
            for j in 0..<(n - i) { dst[i + j] = y[j] }
        }
    }

    /// The logistic function 1 / (1 + e^−x), eight lanes.
    @inline(__always)
    static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> { 1 / (1 + exp(-x)) }

    /// The shared core of `exp` and `expNonPositive`: x = n·ln2 + r with n = round(x / ln2) (adding
    /// 1.5·2^23 leaves n in the low mantissa bits of `shifted`), r by the Cody–Waite split
    /// ln2 = 0.693359375 − 2.12194440e−4, and e^r by the degree-6 Cephes polynomial.
    @inline(__always)
    static func reduced(_ clamped: SIMD8<Float>) -> (polynomial: SIMD8<Float>, shifted: SIMD8<Float>) {
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        var r = clamped - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        p = p * (r * r) + r + 1
        return (p, shifted)
    }
}
