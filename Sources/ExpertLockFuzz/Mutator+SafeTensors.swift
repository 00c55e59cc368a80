/// Mutations that know the safetensors layout: 8-byte little-endian header length N, N bytes of
/// JSON header, data section. Most mutate the header as JSON and then rewrite N to match, so the
/// input gets past the length check and reaches the dtype, shape and offset checks; others aim
/// at those checks directly (the length field, dtype names, offsets, shapes whose element count
/// overflows or dwarfs the file).
extension Mutator {
    /// The parts of a well-framed input, or nil when the length field does not fit.
    static func frame(_ bytes: [UInt8]) -> (header: [UInt8], data: [UInt8])? {
        guard bytes.count >= 8 else { return nil }
        let n = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(bytes.count - 8) else { return nil }
        let end = 8 + Int(n)
        return (Array(bytes[8..<end]), Array(bytes[end...]))
    }

    static func assemble(header: [UInt8], data: [UInt8], length: UInt64? = nil) -> [UInt8] {
        let n = length ?? UInt64(header.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + header + data
    }

    static let dtypeNames = [
        "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "U16", "U32", "U64",
        "F8_E4M3", "F8_E5M2", "f32", "", "F32 ", "BF16\\u0000",
    ]

    static let hostileShapes = [
        "[1000000,1000000]", "[4611686018427387904]", "[9223372036854775807]", "[9223372036854775807,2]",
        "[2147483648,2147483648]", "[4294967296,4294967296]", "[3037000500,3037000500]", "[0,9223372036854775807]",
        "[-1]", "[-1,-1]", "[]", "[0]", "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]",
        "[1.5]", "[true]", "[\"1\"]", "[null]", "[1e3]", "[18446744073709551615]", "[2,-2]",
    ]

    static let hostileOffsets = [
        "[0,4000000000000]", "[4000000000000,4000000000000]", "[0,9223372036854775807]",
        "[9223372036854775807,9223372036854775807]",
        "[-1,0]", "[8,0]", "[0,0]", "[1,1]", "[0,18446744073709551615]", "[18446744073709551615,0]", "[0]", "[0,1,2]",
        "[]", "[0,1.5]", "[\"0\",\"4\"]", "[9223372036854775807,-9223372036854775808]",
    ]

    mutating func mutateSafeTensors(_ bytes: inout [UInt8], partner: [UInt8]) {
        guard var (header, data) = Self.frame(bytes) else {
            // Not framed (an earlier mutation broke it): reframe the whole thing as a header.
            if below(2) == 0 {
                bytes = Self.assemble(header: bytes.count >= 8 ? Array(bytes[8...]) : bytes, data: [])
            } else {
                mutateOnce(&bytes, partner: partner)
            }
            return
        }
        switch below(12) {
        case 0:  // the length field alone
            let total = UInt64(bytes.count)
            let n = UInt64(header.count)
            let lengths: [UInt64] = [
                0, 1, 2, 7, 8, n &- 1, n &+ 1, total &- 8, total &- 7, total, 1 << 31, 1 << 32, 1 << 63,
                UInt64.max, UInt64.max &- 7, 100_000_000, 100_000_001,
            ]
            bytes = Self.assemble(header: header, data: data, length: pick(lengths))
            return
        case 1:
            replaceField(&header, key: "dtype", with: "\"" + pick(Self.dtypeNames) + "\"")
        case 2, 3:
            replaceField(&header, key: "shape", with: pick(Self.hostileShapes))
        case 4, 5:
            replaceField(&header, key: "data_offsets", with: pick(Self.hostileOffsets))
        case 6:  // the data section: cut, grow, drop
            switch below(3) {
            case 0: if !data.isEmpty { data.removeSubrange(below(data.count)...) }
            case 1: data += [UInt8](repeating: UInt8(truncatingIfNeeded: rng.next()), count: smallLength(limit: 256))
            default: data = []
            }
        case 7:  // header padding as the Python writer does it, or not
            header += [UInt8](repeating: below(2) == 0 ? 0x20 : 0x00, count: 1 + below(8))
        case 8:  // another file's header over this file's data (offsets now disagree)
            if let other = Self.frame(partner) { header = other.header }
        default:  // any text mutation, confined to the header
            mutateOnce(&header, partner: Self.frame(partner)?.header ?? partner)
        }
        bytes = Self.assemble(header: header, data: data)
    }

    /// Replaces the value after one occurrence of `"key":` with `value`.
    mutating func replaceField(_ header: inout [UInt8], key: String, with value: String) {
        let pattern = Array("\"\(key)\"".utf8)
        var starts: [Int] = []
        var i = 0
        while i + pattern.count <= header.count {
            if header[i..<(i + pattern.count)].elementsEqual(pattern) { starts.append(i + pattern.count) }
            i += 1
        }
        guard !starts.isEmpty else { return }
        var at = pick(starts)
        while at < header.count, header[at] == 0x20 || header[at] == UInt8(ascii: ":") { at += 1 }
        guard at < header.count else { return }
        let end = Self.valueEnd(header, from: at)
        header.replaceSubrange(at..<end, with: Array(value.utf8))
    }
}
