// Prototype, not part of the package: a 6×16 AVX2 micro-kernel in Swift on expert weights packed
// once ([N/16][K][16]), against OpenBLAS's sgemm (which repacks the weight on every call), on 32
// different weights per timing so that they come from memory as in a forward pass.
//
//   swiftc -Ounchecked -target-cpu native scripts/bench/prototypes/packed_gemm.swift -o /tmp/packed_gemm \
//       -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas && /tmp/packed_gemm
//
// Measured (session 4, one thread, AMD EPYC Zen 3, busy host), GFLOP/s Swift vs OpenBLAS:
//   M=96 (tokens per expert) N=1024 K=512: 71.6 vs 66.5;  M=192 N=1024 K=512: 72.3 vs 72.0;
//   M=192 N=512 K=1024: 71.8 vs 71.3;  M=510 N=1024 K=512: 62.6 vs 73.4;  M=1020 N=512 K=512: 62.9 vs 75.9.
// So packing the weights once pays only for small expert batches, and this kernel loses at large M
// (its loop order re-reads the A block from L2 for every 16-column strip). Not worth wiring into
// the model until it beats OpenBLAS across M.
import Foundation
@_silgen_name("cblas_sgemm")
func cblas_sgemm(_ order: Int32, _ ta: Int32, _ tb: Int32, _ m: Int32, _ n: Int32, _ k: Int32, _ alpha: Float,
  _ a: UnsafePointer<Float>, _ lda: Int32, _ b: UnsafePointer<Float>, _ ldb: Int32, _ beta: Float,
  _ c: UnsafeMutablePointer<Float>, _ ldc: Int32)
@_silgen_name("openblas_set_num_threads") func openblas_set_num_threads(_ n: Int32)
typealias V = SIMD8<Float>
@inline(__always) func ld(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
func now() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }

// W [N, K] row-major -> packed [N/16][K][16]
func packW(_ w: UnsafePointer<Float>, n: Int, k: Int) -> UnsafeMutablePointer<Float> {
  let p = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
  for s in 0..<(n/16) { for kk in 0..<k { for l in 0..<16 { p[(s*k + kk)*16 + l] = w[(s*16+l)*k + kk] } } }
  return p
}
// micro-kernel: C[6 x 16] = A6 (packed [k][6]) * Bp strip ([k][16])
@inline(__always) func micro(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ k: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
  var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
  var pa = a, pb = b
  for _ in 0..<k {
    let b0 = ld(pb), b1 = ld(pb + 8)
    var x = V(repeating: pa[0]); c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
    x = V(repeating: pa[1]); c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
    x = V(repeating: pa[2]); c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
    x = V(repeating: pa[3]); c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
    x = V(repeating: pa[4]); c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
    x = V(repeating: pa[5]); c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
    pa += 6; pb += 16
  }
  let rows = [(c00, c01), (c10, c11), (c20, c21), (c30, c31), (c40, c41), (c50, c51)]
  for r in 0..<6 {
    let p = UnsafeMutableRawPointer(c + r * ldc)
    var (lo, hi) = rows[r]
    if accumulate { lo += p.loadUnaligned(as: V.self); hi += p.loadUnaligned(fromByteOffset: 32, as: V.self) }
    p.storeBytes(of: lo, as: V.self); p.storeBytes(of: hi, toByteOffset: 32, as: V.self)
  }
}
// C[M, N] = X[M, K] . W^T with W prepacked; KC blocking 256, M tiles of 6 (M multiple of 6 here)
func gemmPacked(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, wp: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, apack: UnsafeMutablePointer<Float>) {
  let kc = 256, mc = 96
  var k0 = 0
  while k0 < k {
    let kb = min(kc, k - k0)
    var i0 = 0
    while i0 < m {
      let mb = min(mc, m - i0)
      // pack A block [mb rows][kb] into [tile][kb][6]
      for t in 0..<(mb / 6) { for kk in 0..<kb { for r in 0..<6 { apack[(t * kb + kk) * 6 + r] = x[(i0 + t*6 + r) * k + k0 + kk] } } }
      for s in 0..<(n / 16) {
        let bstrip = wp + (s * k + k0) * 16
        for t in 0..<(mb / 6) {
          micro(apack + t * kb * 6, bstrip, kb, c + (i0 + t * 6) * n + s * 16, n, k0 > 0)
        }
      }
      i0 += mb
    }
    k0 += kb
  }
}
openblas_set_num_threads(1)
for (m, n, k) in [(192, 1024, 512), (192, 512, 1024), (510, 1024, 512), (96, 1024, 512), (1020, 512, 512)] {
  let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k); for i in 0..<m*k { a[i] = Float.random(in: -1...1) }
  // many weights to make them cold: 48 copies of W (like 8 experts x 3 x 2 layers)
  let copies = 32
  let ws = (0..<copies).map { _ -> UnsafeMutablePointer<Float> in let w = UnsafeMutablePointer<Float>.allocate(capacity: n * k); for i in 0..<n*k { w[i] = Float.random(in: -1...1) }; return w }
  let wps = ws.map { packW($0, n: n, k: k) }
  let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n), c2 = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
  let apack = UnsafeMutablePointer<Float>.allocate(capacity: 96 * 256)
  let flops = 2.0 * Double(m * n * k) * Double(copies)
  var bestP = 1e9, bestB = 1e9
  for _ in 0..<4 {
    var t = now(); for w in wps { gemmPacked(m: m, n: n, k: k, x: a, wp: w, c: c, apack: apack) }; bestP = min(bestP, now() - t)
    t = now(); for w in ws { cblas_sgemm(101, 111, 112, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), w, Int32(k), 0, c2, Int32(n)) }; bestB = min(bestB, now() - t)
  }
  var err: Float = 0; for i in 0..<m*n { err = max(err, abs(c[i] - c2[i])) }
  print("m\(m) n\(n) k\(k): packed-swift \(String(format: "%.1f", flops/bestP/1e9))  openblas \(String(format: "%.1f", flops/bestB/1e9)) GF/s (cold weights) err \(err)")
}
