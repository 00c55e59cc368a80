/// The arithmetic of matrix products at inference (`--precision`).
///
/// - `f32`: Float32 operands and accumulation; BF16 weights are widened exactly (inside the product,
///   never into a Float32 copy of the matrix). The reference: golden tests compare it with
///   transformers in float32.
/// - `bf16`: both operands of every weight product rounded to bfloat16 (round to nearest even), products and
///   accumulation in Float32, as PyTorch's bfloat16 matmul (oneDNN) and llama.cpp's BF16 path compute.
///   Everything else (norms, softmax, attention scores, the gating sums) stays in Float32, which is
///   more exact than transformers run in bfloat16, where every activation is stored in bfloat16.
public enum Precision: String, Sendable, CaseIterable {
    case f32, bf16
}

/// A bfloat16 matrix [rows, columns], row-major, in memory someone else owns: a region of a mapped
/// checkpoint (then `owner` keeps the mapping alive) or an array of its own.
public struct BF16Matrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let base: UnsafePointer<UInt16>
    /// Keeps the memory behind `base` alive.
    let owner: AnyObject

    /// Elements at `base` that `owner` keeps alive (a mapped file, say); nothing is copied.
    public init(rows: Int, columns: Int, base: UnsafePointer<UInt16>, owner: AnyObject) {
        self.rows = rows
        self.columns = columns
        self.base = base
        self.owner = owner
    }

    /// A matrix holding its own copy of `bits` (bfloat16 bit patterns, row-major).
    public init(rows: Int, columns: Int, bits: [UInt16]) {
        precondition(bits.count == rows * columns, "BF16Matrix: \(bits.count) elements for [\(rows), \(columns)]")
        let storage = BF16Storage(bits)
        self.init(rows: rows, columns: columns, base: UnsafePointer(storage.pointer), owner: storage)
    }

    /// A Float32 tensor [rows, columns] rounded to bfloat16 (round to nearest even).
    public init(rounding tensor: Tensor) {
        precondition(tensor.rank == 2, "BF16Matrix: a matrix is needed, got \(tensor.shape)")
        var bits = [UInt16](repeating: 0, count: tensor.count)
        tensor.withUnsafeBufferPointer { src in
            bits.withUnsafeMutableBufferPointer { dst in
                if let s = src.baseAddress, let d = dst.baseAddress {
                    HalfPrecision.floatToBF16(s, d, count: src.count)
                }
            }
        }
        self.init(rows: tensor.shape[0], columns: tensor.shape[1], bits: bits)
    }

    /// The values widened to Float32 (tests and small matrices).
    public func tensor() -> Tensor {
        Tensor(shape: [rows, columns]) { out in HalfPrecision.bf16ToFloat(base, out.baseAddress!, count: rows * columns)
        }
    }

    /// Rows `ids` widened to Float32: [ids.count, columns] (an embedding lookup).
    public func gatherRows(_ ids: [Int]) -> Tensor {
        let c = columns
        return Tensor(shape: [ids.count, c]) { out in
            let out = UncheckedSendable(out.baseAddress!)
            Parallel.forEach(ids.count, grain: max(1, 65_536 / max(1, c))) { range in
                for i in range {
                    precondition(
                        ids[i] >= 0 && ids[i] < rows, "BF16Matrix.gatherRows: row \(ids[i]) outside 0..<\(rows)")
                    let src = base + ids[i] * c
                    for j in 0..<c { out.value[i * c + j] = Float(bitPattern: UInt32(src[j]) &<< 16) }
                }
            }
        }
    }
}

/// An owned, aligned buffer of bfloat16 bits.
final class BF16Storage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt16>

    init(_ bits: [UInt16]) {
        pointer = .allocate(capacity: max(1, bits.count))
        bits.withUnsafeBufferPointer { if let b = $0.baseAddress { pointer.update(from: b, count: bits.count) } }
    }

    deinit { pointer.deallocate() }
}
