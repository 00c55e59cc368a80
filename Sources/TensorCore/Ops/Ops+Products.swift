// Matrix products: every FLOP goes through `Gemm.sgemm`.

/// Matrix product. a [.., K] (leading dimensions flattened to M), b [K, N], or [N, K] with
/// `transposeB` -> [.., N].
///
/// Backward (C = A·op(B)): dA = dC·op(B)ᵀ; dB = Aᵀ·dC, or dCᵀ·A when B is stored transposed.
public func matmul(_ a: Variable, _ b: Variable, transposeB: Bool = false) -> Variable {
    let av = a.value
    let bv = b.value
    let out = Gemm.matmul(av, bv, transposeB: transposeB)  // [M, K] x [K, N] -> [M, N]
    return Variable(out, parents: [a, b]) { g in
        let m = av.rows
        let k = av.lastDim
        let n = g.lastDim
        var da: Tensor?
        var db: Tensor?
        if a.requiresGrad {
            // dA [M, K] = dC [M, N] · op(B)ᵀ
            da = Tensor(
                shape: av.shape,
                uninitialized: { pa in
                    g.withUnsafeBufferPointer { pg in
                        bv.withUnsafeBufferPointer { pb in
                            Gemm.sgemm(
                                transB: !transposeB, m: m, n: k, k: n, a: pg.baseAddress!, lda: n,
                                b: pb.baseAddress!, ldb: bv.lastDim, c: pa.baseAddress!, ldc: k)
                        }
                    }
                })
        }
        if b.requiresGrad {
            db = Tensor(
                shape: bv.shape,
                uninitialized: { pb in
                    g.withUnsafeBufferPointer { pg in
                        av.withUnsafeBufferPointer { pa in
                            if transposeB {
                                // dB [N, K] = dCᵀ [N, M] · A [M, K]
                                Gemm.sgemm(
                                    transA: true, m: n, n: k, k: m, a: pg.baseAddress!, lda: n,
                                    b: pa.baseAddress!, ldb: k, c: pb.baseAddress!, ldc: k)
                            } else {
                                // dB [K, N] = Aᵀ [K, M] · dC [M, N]
                                Gemm.sgemm(
                                    transA: true, m: k, n: n, k: m, a: pa.baseAddress!, lda: k,
                                    b: pg.baseAddress!, ldb: n, c: pb.baseAddress!, ldc: n)
                            }
                        }
                    }
                })
        }
        return [da, db]
    }
}

/// Affine layer in the Hugging Face `nn.Linear` layout: x [.., in], weight [out, in], bias [out]
/// -> [.., out]; y = x·Wᵀ + b.
///
/// The bias is written into the output first and the product accumulated onto it (beta = 1), so
/// the forward is one GEMM. Backward: dx = dy·W, dW = dyᵀ·x, db = Σ_rows dy.
public func linear(_ x: Variable, _ weight: Variable, bias: Variable? = nil) -> Variable {
    let xv = x.value
    let wv = weight.value
    let bv = bias?.value
    precondition(wv.rank == 2, "linear: weight must be [out, in], got \(wv.shape)")
    let m = xv.rows
    let inFeatures = wv.shape[1]
    let outFeatures = wv.shape[0]
    precondition(xv.lastDim == inFeatures, "linear: input \(xv.shape) does not match weight \(wv.shape)")
    if let bv { precondition(bv.count == outFeatures, "linear: bias \(bv.shape) does not match weight \(wv.shape)") }
    var outShape = Array(xv.shape.dropLast())  // [.., in] -> [.., out]
    outShape.append(outFeatures)
    let out = Tensor(
        shape: outShape,
        uninitialized: { po in
            let po = po.baseAddress!
            if let bv {
                bv.withUnsafeBufferPointer { pb in
                    let pb = pb.baseAddress!
                    Parallel.forEach(m, grain: Kernels.grain(rowWidth: outFeatures)) { rows in
                        for r in rows { (po + r * outFeatures).update(from: pb, count: outFeatures) }
                    }
                }
            }
            xv.withUnsafeBufferPointer { px in
                wv.withUnsafeBufferPointer { pw in
                    // [M, in] x [out, in]ᵀ -> [M, out]
                    Gemm.sgemm(
                        transB: true, m: m, n: outFeatures, k: inFeatures, a: px.baseAddress!, lda: inFeatures,
                        b: pw.baseAddress!, ldb: inFeatures, beta: bv == nil ? 0 : 1, c: po, ldc: outFeatures)
                }
            }
        })
    let parents = bias.map { [x, weight, $0] } ?? [x, weight]
    return Variable(out, parents: parents) { g in
        var grads: [Tensor?] = [nil, nil]
        g.withUnsafeBufferPointer { pg in
            let pg = pg.baseAddress!
            if x.requiresGrad {
                // dx [M, in] = dy [M, out] · W [out, in]
                grads[0] = Tensor(
                    shape: xv.shape,
                    uninitialized: { pdx in
                        wv.withUnsafeBufferPointer { pw in
                            Gemm.sgemm(
                                m: m, n: inFeatures, k: outFeatures, a: pg, lda: outFeatures, b: pw.baseAddress!,
                                ldb: inFeatures, c: pdx.baseAddress!, ldc: inFeatures)
                        }
                    })
            }
            if weight.requiresGrad {
                // dW [out, in] = dyᵀ [out, M] · x [M, in]
                grads[1] = Tensor(
                    shape: wv.shape,
                    uninitialized: { pdw in
                        xv.withUnsafeBufferPointer { px in
                            Gemm.sgemm(
                                transA: true, m: outFeatures, n: inFeatures, k: m, a: pg, lda: outFeatures,
                                b: px.baseAddress!, ldb: inFeatures, c: pdw.baseAddress!, ldc: inFeatures)
                        }
                    })
            }
            if let bias, let bv, bias.requiresGrad {
                // db [out] = Σ_rows dy
                grads.append(
                    Tensor(
                        shape: bv.shape,
                        uninitialized: { pdb in
                            Kernels.columnReduce(rows: m, width: outFeatures, into: pdb.baseAddress!) { r, cols, acc in
                                let row = pg + r * outFeatures
                                for c in cols { acc[c] += row[c] }
                            }
                        }))
            } else if bias != nil {
                grads.append(nil)
            }
        }
        return grads
    }
}
