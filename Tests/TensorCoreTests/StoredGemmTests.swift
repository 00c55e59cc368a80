import Testing

@testable import TensorCore

/// `StoredGemm` (bfloat16 weights as stored) against a Double reference, on every kernel this CPU can
/// run: the AVX512-BF16 and AVX-512 C kernels where present, and always the portable fallback, forced.
@Suite struct StoredGemmTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var m: Int, n: Int, k: Int, beta: Float = 0
        var testDescription: String { "\(m)x\(n)x\(k) β=\(beta)" }
    }

    /// Odd sizes and every tail: M and N around the 4×4 tile of the dot form, M around the packed kernel's
    /// 16-row panels and N around its 12 weight rows (M ≥ 16), K around the 16- and 32-element steps, odd
    /// K (a lone last pair), and rows spanning several of the packed kernel's row blocks (M 70, K 4,097).
    static let cases: [Case] = [
        Case(m: 1, n: 1, k: 1), Case(m: 3, n: 5, k: 7), Case(m: 4, n: 4, k: 32), Case(m: 5, n: 7, k: 33, beta: 1),
        Case(m: 9, n: 13, k: 31), Case(m: 17, n: 33, k: 47, beta: 0.5), Case(m: 2, n: 70, k: 16),
        Case(m: 37, n: 129, k: 300), Case(m: 64, n: 96, k: 2048), Case(m: 6, n: 3, k: 0, beta: 2),
        Case(m: 16, n: 12, k: 1), Case(m: 32, n: 24, k: 2, beta: 1), Case(m: 31, n: 25, k: 65),
        Case(m: 33, n: 11, k: 64), Case(m: 48, n: 1, k: 33), Case(m: 70, n: 13, k: 4_097, beta: 0.5),
        // A of 2²¹ elements or more: f32 packs A (`f32PackedMinimumElements`); K past one block of 256.
        Case(m: 1_025, n: 40, k: 2_047, beta: 0.5),
    ]

    static var kernels: [StoredGemm.Kernel] { StoredGemm.Kernel.allCases.filter { $0 <= StoredGemm.detected } }

    /// Operands with padded leading dimensions: A [M, K+3] Float32, B [N, K+5] bfloat16, C [M, N+2].
    struct Operands {
        let a: [Float], lda: Int, b: [UInt16], ldb: Int, c: [Float], ldc: Int
        init(_ t: Case, seed: UInt64 = 1) {
            lda = t.k + 3
            ldb = t.k + 5
            ldc = t.n + 2
            a = randomTensor([t.m * lda], seed: seed).data
            b = randomTensor([t.n * ldb], seed: seed + 1).data.map { HalfPrecision.bf16Bits($0.bitPattern) }
            c = randomTensor([t.m * ldc], seed: seed + 2).data
        }
    }

    static func widened(_ bits: UInt16) -> Double { Double(Float(bitPattern: UInt32(bits) << 16)) }

    /// beta·C + A·Bᵀ in Double, A rounded to bfloat16 first for `.bf16`; and Σ|a·b| per element, the
    /// scale of its rounding error.
    static func reference(_ t: Case, _ o: Operands, _ precision: Precision) -> (value: [Double], scale: [Double]) {
        var value = o.c.map(Double.init)
        var scale = [Double](repeating: 0, count: value.count)
        for i in 0..<t.m {
            for j in 0..<t.n {
                var (s, magnitude) = (0.0, 0.0)
                for p in 0..<t.k {
                    let x = o.a[i * o.lda + p]
                    let av = precision == .f32 ? Double(x) : widened(HalfPrecision.bf16Bits(x.bitPattern))
                    let product = av * widened(o.b[j * o.ldb + p])
                    s += product
                    magnitude += abs(product)
                }
                value[i * o.ldc + j] = s + Double(t.beta) * value[i * o.ldc + j]
                scale[i * o.ldc + j] = magnitude + abs(Double(t.beta) * Double(o.c[i * o.ldc + j]))
            }
        }
        return (value, scale)
    }

    static func run(_ t: Case, _ o: Operands, _ precision: Precision, _ kernel: StoredGemm.Kernel) -> [Float] {
        var c = o.c
        c.withUnsafeMutableBufferPointer { pc in
            StoredGemm.multiply(
                m: t.m, n: t.n, k: t.k, a: o.a, lda: o.lda, b: o.b, ldb: o.ldb, precision: precision, beta: t.beta,
                c: pc.baseAddress!, ldc: o.ldc, kernel: kernel)
        }
        return c
    }

    @Test(arguments: cases, [Precision.f32, .bf16])
    func matchesReferenceOnEveryKernel(_ t: Case, _ precision: Precision) {
        let o = Operands(t)
        let (expected, scale) = Self.reference(t, o, precision)
        for kernel in Self.kernels {
            let got = Self.run(t, o, precision, kernel)
            for i in 0..<got.count {
                // F32 accumulation of K terms: a few ulps of Σ|a·b| (rows' padding is left as it was).
                let tolerance = 4e-7 * Double(max(t.k, 1)).squareRoot() * max(scale[i], 1e-30) + 1e-30
                #expect(
                    abs(Double(got[i]) - expected[i]) <= tolerance,
                    "\(kernel) \(precision) element \(i): \(got[i]) vs \(expected[i])")
            }
        }
    }

    /// The BF16 path really rounds A: its result differs from f32's by about bf16's resolution (2⁻⁸).
    @Test func bf16RoundsTheActivations() {
        let t = Case(m: 8, n: 8, k: 256)
        let o = Operands(t, seed: 7)
        for kernel in Self.kernels {
            let f32 = Self.run(t, o, .f32, kernel)
            let bf16 = Self.run(t, o, .bf16, kernel)
            let difference = zip(f32, bf16).map { abs($0 - $1) }.max()!
            #expect(difference > 1e-4 && difference < 0.1, "\(kernel): f32 and bf16 differ by \(difference)")
        }
    }

    /// Splitting columns over threads leaves every element's arithmetic as it is: the same bits serial
    /// and parallel.
    @Test func parallelEqualsSerial() {
        // The second case takes the packed f32 path (A of 2²¹ elements or more), its split in 48-row units.
        for t in [Case(m: 40, n: 300, k: 520), Case(m: 1_040, n: 600, k: 2_017)] {
            let o = Operands(t, seed: 11)
            for kernel in Self.kernels {
                for precision in Precision.allCases {
                    let parallel = Self.run(t, o, precision, kernel)
                    let serial = Parallel.withSerial { Self.run(t, o, precision, kernel) }
                    #expect(parallel == serial, "\(t) \(kernel) \(precision)")
                }
            }
        }
    }

    /// f32 products whose A outgrows the caches pack A on the AVX-512 kernels; smaller ones, and every f32
    /// product of the portable kernel, keep A as it is.
    @Test func largeF32ProductsPackA() {
        let a = [Float](repeating: 1, count: 1024 * 2048)
        for kernel in Self.kernels {
            var kinds: [String] = []
            for (m, k) in [(1024, 2048), (1023, 2048), (8, 64)] {
                a.withUnsafeBufferPointer { pa in
                    StoredGemm.withLeftOperand(m: m, k: k, a: pa.baseAddress!, lda: k, precision: .f32, kernel: kernel)
                    {
                        if case .f32Packed = $0 { kinds.append("packed") } else { kinds.append("rows") }
                    }
                }
            }
            #expect(kinds == (kernel >= .avx512 ? ["packed", "rows", "rows"] : ["rows", "rows", "rows"]), "\(kernel)")
        }
    }

    @Test func linearAddsBiasAndKeepsLeadingDimensions() {
        let x = randomTensor([2, 3, 40], seed: 3)
        let w = BF16Matrix(rounding: randomTensor([9, 40], seed: 4))
        let bias = randomTensor([9], seed: 5)
        let y = StoredGemm.linear(x, w, bias: bias, precision: .f32)
        #expect(y.shape == [2, 3, 9])
        let expected = Gemm.matmul(x, w.tensor(), transposeB: true)
        for r in 0..<6 {
            for j in 0..<9 { #expect(abs(y.data[r * 9 + j] - expected.data[r * 9 + j] - bias.data[j]) < 1e-4) }
        }
    }

    @Test func gatherRowsWidensOnlyTheRowsAsked() {
        let table = randomTensor([5, 7], seed: 9)
        let stored = BF16Matrix(rounding: table)
        let rows = stored.gatherRows([4, 0, 4])
        let full = stored.tensor()
        #expect(rows.shape == [3, 7])
        #expect(Array(rows.data[0..<7]) == Array(full.data[28..<35]))
        #expect(Array(rows.data[7..<14]) == Array(full.data[0..<7]))
    }

    @Test func detectionMatchesTheEnvironment() {
        // On the x86-64 CI machine of this project (AMD Zen 5) the BF16 kernel must be found; elsewhere
        // detection may say less, never more than the compiler-reported features allow.
        #if arch(x86_64) && os(Linux)
            if let flags = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
                let has = { (flag: String) in
                    flags.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains { $0 == flag }
                }
                let expected: StoredGemm.Kernel =
                    has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq")
                    ? (has("avx512_bf16") ? .avx512bf16 : .avx512) : .portable
                #expect(StoredGemm.detected == expected)
            }
        #else
            #expect(StoredGemm.detected == .portable)
        #endif
    }
}
