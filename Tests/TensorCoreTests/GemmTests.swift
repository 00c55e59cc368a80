import Testing

@testable import TensorCore

@Suite struct GemmTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var m: Int, n: Int, k: Int, transA: Bool, transB: Bool
        var alpha: Float = 1, beta: Float = 0
        var testDescription: String { "\(m)x\(n)x\(k) tA=\(transA) tB=\(transB) α=\(alpha) β=\(beta)" }
    }

    static let cases: [Case] = [
        Case(m: 1, n: 1, k: 1, transA: false, transB: false),
        Case(m: 7, n: 5, k: 3, transA: false, transB: false),
        Case(m: 7, n: 5, k: 3, transA: true, transB: false),
        Case(m: 7, n: 5, k: 3, transA: false, transB: true),
        Case(m: 7, n: 5, k: 3, transA: true, transB: true, alpha: 0.5, beta: 2),
        Case(m: 33, n: 65, k: 300, transA: false, transB: true, alpha: -1, beta: 1),
        Case(m: 19, n: 600, k: 17, transA: true, transB: false),
    ]

    /// Operands with padded leading dimensions (lda = width + 2) to exercise strides.
    struct Operands {
        let a: [Float], lda: Int, b: [Float], ldb: Int, c: [Float], ldc: Int
        init(_ t: Case) {
            let (aRows, aCols) = t.transA ? (t.k, t.m) : (t.m, t.k)
            let (bRows, bCols) = t.transB ? (t.n, t.k) : (t.k, t.n)
            lda = aCols + 2
            ldb = bCols + 1
            ldc = t.n + 3
            a = randomTensor([aRows * lda], seed: 1).data
            b = randomTensor([bRows * ldb], seed: 2).data
            c = randomTensor([t.m * ldc], seed: 3).data
        }
    }

    /// C = alpha·op(A)·op(B) + beta·C in Double.
    static func reference(_ t: Case, _ o: Operands) -> [Double] {
        var c = o.c.map(Double.init)
        for i in 0..<t.m {
            for j in 0..<t.n {
                var s: Double = 0
                for p in 0..<t.k {
                    let av = t.transA ? o.a[p * o.lda + i] : o.a[i * o.lda + p]
                    let bv = t.transB ? o.b[j * o.ldb + p] : o.b[p * o.ldb + j]
                    s += Double(av) * Double(bv)
                }
                c[i * o.ldc + j] = Double(t.alpha) * s + Double(t.beta) * c[i * o.ldc + j]
            }
        }
        return c
    }

    typealias Kernel = @Sendable (Case, Operands, inout [Float]) -> Void

    static let swiftKernel: Kernel = { t, o, c in
        c.withUnsafeMutableBufferPointer { pc in
            SwiftGemm.sgemm(
                transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: o.a, lda: o.lda,
                b: o.b, ldb: o.ldb, beta: t.beta, c: pc.baseAddress!, ldc: o.ldc)
        }
    }

    static func run(_ kernel: Kernel, _ t: Case, _ o: Operands) -> [Float] {
        var c = o.c
        kernel(t, o, &c)
        return c
    }

    static func expectClose(_ c: [Float], _ expected: [Double], _ t: Case) {
        var worst: Double = 0
        for i in 0..<c.count { worst = max(worst, abs(Double(c[i]) - expected[i])) }
        #expect(worst <= 1e-4 * Double(max(1, t.k / 16)), "\(t.testDescription): max error \(worst)")
    }

    @Test(arguments: cases)
    func swiftKernelMatchesLoop(t: Case) {
        let o = Operands(t)
        Self.expectClose(Self.run(Self.swiftKernel, t, o), Self.reference(t, o), t)
    }

    @Test(.enabled(if: BLAS.shared != nil, "needs a system BLAS"), arguments: cases)
    func blasAgreesWithSwiftKernel(t: Case) throws {
        let blas = try #require(BLAS.shared)
        let o = Operands(t)
        let viaBLAS = Self.run(
            { t, o, c in
                c.withUnsafeMutableBufferPointer { pc in
                    blas.sgemm(
                        transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: o.a, lda: o.lda,
                        b: o.b, ldb: o.ldb, beta: t.beta, c: pc.baseAddress!, ldc: o.ldc)
                }
            }, t, o)
        let viaSwift = Self.run(Self.swiftKernel, t, o)
        for i in 0..<viaBLAS.count { #expect(abs(viaBLAS[i] - viaSwift[i]) <= 1e-4 * Float(max(1, t.k / 16))) }
    }

    /// Large enough to be split into blocks: by rows (M large) and by columns (M small).
    @Test(
        .enabled(if: BLAS.shared != nil, "needs a system BLAS"),
        arguments: [
            Case(m: 200, n: 70, k: 64, transA: true, transB: false, beta: 1),
            Case(m: 3, n: 2000, k: 128, transA: false, transB: true, alpha: 2),
        ])
    func blockedBLASMatchesLoop(t: Case) throws {
        let blas = try #require(BLAS.shared)
        let o = Operands(t)
        let blocked = Self.run(
            { t, o, c in
                c.withUnsafeMutableBufferPointer { pc in
                    Gemm.blasInBlocks(
                        blas, transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: o.a,
                        lda: o.lda, b: o.b, ldb: o.ldb, beta: t.beta, c: pc.baseAddress!, ldc: o.ldc)
                }
            }, t, o)
        Self.expectClose(blocked, Self.reference(t, o), t)
    }

    @Test func emptyInnerDimensionScalesC() {
        var c: [Float] = [1, 2, 3, 4]
        let dummy: [Float] = [0]
        c.withUnsafeMutableBufferPointer { pc in
            Gemm.sgemm(m: 2, n: 2, k: 0, a: dummy, lda: 1, b: dummy, ldb: 1, beta: 3, c: pc.baseAddress!, ldc: 2)
        }
        #expect(c == [3, 6, 9, 12])
    }

    @Test func matmulOfTensors() {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], data: [1, 0, 0, 1, 1, 1])
        #expect(Gemm.matmul(a, b) == Tensor(shape: [2, 2], data: [4, 5, 10, 11]))
        #expect(Gemm.matmul(a, a, transposeB: true) == Tensor(shape: [2, 2], data: [14, 32, 32, 77]))
    }
}
