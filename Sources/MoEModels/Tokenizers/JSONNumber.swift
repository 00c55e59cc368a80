/// JSON numbers read the way serde_json reads them with its default features, which is how the
/// `tokenizers` library is built.
///
/// serde_json does not always give the nearest double: the decimal significand (at most 19-20
/// digits kept in a `UInt64`) is converted to a double and then multiplied or divided by a power of
/// ten, two roundings instead of one. T5's Unigram scores are 17-digit decimals, and a quarter of
/// them come out one ulp away from the nearest double. Viterbi ties between segmentations are
/// decided by those last bits ("----------" in T5), so the scores must be read exactly as the
/// library reads them to give its ids.
enum JSONNumber {
    enum Failure: Error {
        case invalid
        /// The library refuses a number whose value is infinite (`NumberOutOfRange`).
        case outOfRange
    }

    /// serde_json's `POW10`: 1e0 ... 1e308, each the nearest double.
    private static let powersOfTen: [Double] = (0...308).map { Double("1e\($0)")! }

    /// Reads the number starting at `position` (a '-' or a digit) and moves past it.
    static func read(_ bytes: [UInt8], _ position: inout Int) throws(Failure) -> Double {
        func digit(_ p: Int) -> UInt64? {
            guard p < bytes.count, bytes[p] >= UInt8(ascii: "0"), bytes[p] <= UInt8(ascii: "9") else { return nil }
            return UInt64(bytes[p] - UInt8(ascii: "0"))
        }
        // `overflow!(a * 10 + b, max)`.
        func overflows(_ a: UInt64, _ b: UInt64) -> Bool { a >= .max / 10 && (a > .max / 10 || b > .max % 10) }

        let positive = bytes[position] != UInt8(ascii: "-")
        if !positive { position += 1 }
        guard let first = digit(position) else { throw .invalid }
        position += 1
        var significand = first
        var exponent: Int32 = 0
        var isFloat = false
        if first == 0 {
            if digit(position) != nil { throw .invalid }  // one leading zero only
        } else {
            // Integer digits past what a UInt64 holds are dropped, each raising the exponent.
            while let d = digit(position) {
                if isFloat || overflows(significand, d) {
                    isFloat = true
                    exponent &+= 1
                } else {
                    significand = significand * 10 + d
                }
                position += 1
            }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isFloat = true
            position += 1
            guard digit(position) != nil else { throw .invalid }
            // Fraction digits accumulate until one would overflow; it and all after it are ignored.
            var dropping = false
            while let d = digit(position) {
                if dropping || overflows(significand, d) {
                    dropping = true
                } else {
                    significand = significand * 10 + d
                    exponent &-= 1
                }
                position += 1
            }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            isFloat = true
            position += 1
            var positiveExponent = true
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                positiveExponent = bytes[position] == UInt8(ascii: "+")
                position += 1
            }
            guard let e0 = digit(position) else { throw .invalid }
            position += 1
            var e = Int32(e0)
            while let d = digit(position) {
                position += 1
                if e >= Int32.max / 10 && (e > Int32.max / 10 || Int32(d) > Int32.max % 10) {
                    // An exponent past Int32: out of range, or zero when it is negative or the significand is.
                    if significand != 0 && positiveExponent { throw .outOfRange }
                    while digit(position) != nil { position += 1 }
                    return positive ? 0.0 : -0.0
                }
                e = e * 10 + Int32(d)
            }
            let (sum, overflow) =
                positiveExponent ? exponent.addingReportingOverflow(e) : exponent.subtractingReportingOverflow(e)
            exponent = overflow ? (positiveExponent ? .max : .min) : sum  // saturating, as serde_json
        }
        if !isFloat {
            // A u64, or an i64 (a double below Int64.min, and -0.0 for "-0").
            return positive ? Double(significand) : -Double(significand)
        }
        return try fromParts(positive, significand, exponent)
    }

    /// serde_json's `f64_from_parts` without `float_roundtrip`.
    private static func fromParts(
        _ positive: Bool, _ significand: UInt64, _ exponent: Int32
    ) throws(Failure) -> Double {
        var f = Double(significand)  // round to nearest, ties to even, as Rust's `as`
        var exponent = exponent
        while true {
            let magnitude = exponent == .min ? Int(Int32.max) + 1 : Int(abs(exponent))
            if magnitude < powersOfTen.count {
                if exponent >= 0 {
                    f *= powersOfTen[magnitude]
                    if f.isInfinite { throw .outOfRange }
                } else {
                    f /= powersOfTen[magnitude]
                }
                break
            }
            if f == 0 { break }
            if exponent >= 0 { throw .outOfRange }
            f /= 1e308
            exponent += 308
        }
        return positive ? f : -f
    }
}
