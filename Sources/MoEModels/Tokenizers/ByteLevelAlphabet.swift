/// GPT-2's reversible map between bytes and printable scalars: byte-level tokenizers store every
/// byte as one visible scalar (space is `Ġ`, newline `Ċ`), so a vocabulary of strings covers all bytes.
enum ByteLevelAlphabet {
    /// Scalar standing for each byte: printable Latin-1 bytes keep their own code point; the 68
    /// others take 256, 257, ... in byte order.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The inverse map, for decoding.
    static let byteForScalar: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, s) in scalarForByte.enumerated() { map[s.value] = UInt8(b) }
        return map
    }()

    /// The UTF-8 bytes of `text`, each as its alphabet scalar.
    static func encode(_ text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        for s in text {
            if s.value < 0x80 {
                out.append(scalarForByte[Int(s.value)])
            } else {
                for b in s.utf8 { out.append(scalarForByte[Int(b)]) }
            }
        }
        return out
    }
}
