/// Bulk conversions between Float32 and the two 16-bit float formats checkpoints are stored in.
///
/// Checkpoints of the MoE families we audit ship as bfloat16 (Mixtral, Qwen, OLMoE) or float16;
/// every weight passes through these loops on load and on save, so they are written as plain
/// branch-light integer loops the compiler can vectorise, split across threads for large counts.
///
/// Rounding matches PyTorch bit for bit (checked against fixtures written by torch):
/// - Float32 → bfloat16: round to nearest, ties to even; every NaN becomes 0xFFFF. That is what
///   torch's vectorised tensor conversion (`Tensor.bfloat16()`, the path checkpoints are saved
///   through) writes; its scalar `c10::BFloat16` would write 0x7FC0 instead — both are NaN.
/// - Float32 → float16: IEEE round to nearest even, including subnormals and overflow to ±inf;
///   NaN keeps its sign and the top of its payload, with the quiet bit set (the F16C
///   `vcvtps2ph` result torch gets on x86).
/// - bfloat16/float16 → Float32 is exact; a float16 NaN keeps sign and payload and is made quiet
///   (F16C `vcvtph2ps`, torch's vectorised path; torch's scalar tail loop may differ on NaN bits).
public enum HalfPrecision {
    /// Elements per parallel chunk: below this a conversion is faster on one thread.
    static let grain = 1 << 16

    /// bfloat16 is the top half of a Float32, so widening is a shift.
    public static func bf16ToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEach(count, grain: grain) { range in
            for i in range { dst[i] = Float(bitPattern: UInt32(src[i]) &<< 16) }
        }
    }

    /// Round to nearest even by adding 0x7FFF plus the lowest kept bit, then truncating.
    public static func floatToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        Parallel.forEach(count, grain: grain) { range in
            for i in range { dst[i] = bf16Bits(src[i].bitPattern) }
        }
    }

    /// IEEE half → Float32, including subnormals, infinities and NaN payloads.
    public static func f16ToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEach(count, grain: grain) { range in
            for i in range { dst[i] = floatFromF16Bits(src[i]) }
        }
    }

    /// Float32 → IEEE half, round to nearest even, overflow to ±inf, gradual underflow.
    public static func floatToF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        Parallel.forEach(count, grain: grain) { range in
            for i in range { dst[i] = f16Bits(src[i]) }
        }
    }

    // MARK: - Scalar kernels

    /// One Float32 bit pattern → bfloat16 bits (torch's `round_to_nearest_even`).
    @inlinable @inline(__always)
    public static func bf16Bits(_ u: UInt32) -> UInt16 {
        // NaN: exponent all ones and a non-zero mantissa. Rounding could carry it into ±inf.
        if u & 0x7FFF_FFFF > 0x7F80_0000 { return 0xFFFF }
        let roundingBias: UInt32 = ((u &>> 16) & 1) &+ 0x7FFF
        return UInt16(truncatingIfNeeded: (u &+ roundingBias) &>> 16)
    }

    /// One float16 bit pattern → Float32 (Fabian Giesen's `half_to_float`: shift the exponent and
    /// mantissa into place, fix the exponent bias, renormalise subnormals with one float subtract).
    @inlinable @inline(__always)
    public static func floatFromF16Bits(_ h: UInt16) -> Float {
        let shiftedExponent: UInt32 = 0x7C00 &<< 13
        var o = (UInt32(h) & 0x7FFF) &<< 13  // exponent and mantissa bits
        let exponent = o & shiftedExponent
        o &+= (127 - 15) &<< 23  // rebias the exponent
        if exponent == shiftedExponent {
            o &+= (128 - 16) &<< 23  // inf/NaN: exponent all ones
            if o & 0x007F_FFFF != 0 { o |= 0x0040_0000 }  // NaN: set the quiet bit, as F16C does
        } else if exponent == 0 {
            // zero or subnormal: treat as normal with exponent 1, subtract the implicit one
            o &+= 1 &<< 23
            o = (Float(bitPattern: o) - Float(bitPattern: 113 &<< 23)).bitPattern
        }
        return Float(bitPattern: o | ((UInt32(h) & 0x8000) &<< 16))
    }

    /// One Float32 → float16 bits (Giesen's `float_to_half_fast3_rtne`): subnormal results come
    /// from one float add of a magic value, which rounds to nearest even in hardware.
    @inlinable @inline(__always)
    public static func f16Bits(_ value: Float) -> UInt16 {
        var u = value.bitPattern
        let sign = u & 0x8000_0000
        u ^= sign
        let f16Max: UInt32 = (127 + 16) &<< 23  // 65536.0: everything from here up is inf or NaN
        let denormMagic: UInt32 = ((127 - 15) + (23 - 10) + 1) &<< 23
        var o: UInt32
        if u >= f16Max {
            // NaN -> quiet NaN keeping the payload's top bits; inf or too large -> inf
            o = u > 0x7F80_0000 ? 0x7E00 | ((u &>> 13) & 0x3FF) : 0x7C00
        } else if u < (113 &<< 23) {
            // The half result is subnormal or zero: align the 10 mantissa bits at the bottom.
            let f = Float(bitPattern: u) + Float(bitPattern: denormMagic)
            o = f.bitPattern &- denormMagic
        } else {
            let mantissaOdd = (u &>> 13) & 1
            u &+= (UInt32(bitPattern: Int32(15 - 127)) &<< 23) &+ 0xFFF  // rebias, rounding part 1
            u &+= mantissaOdd  // rounding part 2: ties go to even
            o = u &>> 13
        }
        return UInt16(truncatingIfNeeded: o | (sign &>> 16))
    }
}
