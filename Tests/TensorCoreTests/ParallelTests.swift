import Testing

@testable import TensorCore

/// Serial and parallel runs of the kernels must agree exactly: every output element is computed by
/// one thread in a fixed order, whatever the chunking. The serial run is forced for this test's task
/// only (`Parallel.withSerial`), so suites running beside it keep their own mode.
@Suite struct ParallelTests {
    static func bothWays<T: Equatable>(_ body: () -> T) -> (serial: T, parallel: T) {
        let serial = Parallel.withSerial { body() }
        #expect(!Parallel.isSerial, "the serial override must end with its scope")
        let parallel = body()
        return (serial, parallel)
    }

    @Test func threadsComeFromTheEnvironmentWhenItNamesAPositiveCount() {
        #expect(Parallel.defaultThreads(environment: ["EXPERTLOCK_THREADS": "1"], processors: 8) == 1)
        #expect(Parallel.defaultThreads(environment: ["EXPERTLOCK_THREADS": " 3 "], processors: 2) == 3)
        #expect(Parallel.defaultThreads(environment: [:], processors: 2) == 2)
        for bad in ["0", "-2", "two", ""] {
            #expect(Parallel.defaultThreads(environment: ["EXPERTLOCK_THREADS": bad], processors: 4) == 4)
        }
        #expect(Parallel.defaultThreads(environment: [:], processors: 0) == 1)
    }

    @Test func forEachCoversEveryIndexOnce() {
        var hits = [Int](repeating: 0, count: 1000)
        hits.withUnsafeMutableBufferPointer { p in
            let p = p.baseAddress!
            Parallel.forEach(1000, grain: 10) { range in
                for i in range { p[i] += 1 }
            }
        }
        #expect(hits.allSatisfy { $0 == 1 })
    }

    @Test func forEachItemRunsEveryItemOnceInsideARegion() {
        var hits = [Int](repeating: 0, count: 9)
        var inside = [Bool](repeating: false, count: 9)
        hits.withUnsafeMutableBufferPointer { p in
            inside.withUnsafeMutableBufferPointer { q in
                let (p, q) = (p.baseAddress!, q.baseAddress!)
                Parallel.forEachItem(in: [8, 3, 0, 1, 2, 7, 6, 5, 4]) { i in
                    p[i] += 1
                    q[i] = Parallel.isInsideRegion || Parallel.threads == 1
                }
            }
        }
        #expect(hits == [Int](repeating: 1, count: 9))
        #expect(inside.allSatisfy { $0 })
        #expect(!Parallel.isInsideRegion)
    }

    @Test func nestedRegionsRunSerially() {
        var inner = [Bool](repeating: false, count: 4)
        inner.withUnsafeMutableBufferPointer { p in
            let p = p.baseAddress!
            Parallel.forEach(4) { outer in
                for i in outer {
                    // Runs on the calling worker: the single chunk covers the whole range.
                    Parallel.forEach(100, grain: 1) { range in p[i] = range == 0..<100 && Parallel.isInsideRegion }
                }
            }
        }
        #expect(inner == [true, true, true, true])
        #expect(!Parallel.isInsideRegion)
    }

    @Test func rowKernelsIdentical() {
        let x = Variable(randomTensor([64, 1024], seed: 131, scale: 3))
        let w = Variable(randomTensor([1024], seed: 132))
        let r = Self.bothWays {
            [
                rmsNorm(x, weight: w, eps: 1e-6).value, layerNorm(x, weight: w, bias: w, eps: 1e-5).value,
                softmax(x).value, logSoftmax(x).value, gelu(x).value, add(x, w).value,
                rope(x, heads: 16, headDim: 64, positions: Array(0..<64), theta: 10_000).value,
                crossEntropy(x, targets: (0..<64).map { $0 * 13 }).value, sum(x).value,
            ]
        }
        #expect(r.serial == r.parallel)
    }

    @Test func gradientsIdentical() {
        let x = parameter([64, 512], seed: 133)
        let w = parameter([512], seed: 134)
        let seed = randomTensor([64, 512], seed: 135)
        let r = Self.bothWays { () -> [Tensor] in
            let y = add(
                rmsNorm(x, weight: w, eps: 1e-6),
                scatterAddRows(gatherRows(x, Array(0..<64).reversed()), Array(0..<64), rowCount: 64))
            y.backward(seed: seed)
            defer {
                x.zeroGrad()
                w.zeroGrad()
            }
            return [x.grad!, w.grad!]
        }
        #expect(r.serial == r.parallel)
    }

    @Test func attentionIdentical() {
        let (B, T, H, Hkv, D) = (2, 40, 4, 2, 16)
        let q = parameter([B * T, H * D], seed: 136)
        let k = parameter([B * T, Hkv * D], seed: 137)
        let v = parameter([B * T, Hkv * D], seed: 138)
        let seed = randomTensor([B * T, H * D], seed: 139)
        let r = Self.bothWays { () -> [Tensor] in
            let o = causalAttention(
                q: q, k: k, v: v, batch: B, seq: T, heads: H, kvHeads: Hkv, headDim: D, validLengths: [40, 31])
            o.backward(seed: seed)
            defer { for p in [q, k, v] { p.zeroGrad() } }
            return [o.value, q.grad!, k.grad!, v.grad!]
        }
        #expect(r.serial == r.parallel)
    }

    @Test func largeProductsAgree() {
        // Parallel products are split into blocks (one BLAS call each): equal up to rounding.
        let a = Variable(randomTensor([300, 200], seed: 140))
        let b = Variable(randomTensor([150, 200], seed: 141))
        let r = Self.bothWays { matmul(a, b, transposeB: true).value }
        #expect(r.serial.maxAbsDifference(r.parallel) <= 1e-4)
    }
}
