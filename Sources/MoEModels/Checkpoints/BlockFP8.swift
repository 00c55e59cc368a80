import Foundation
import TensorCore

/// `quantization_config` with `quant_method: fp8`, as DeepSeek-V3/R1, Kimi-K2 and MiniMax-M2 publish it:
/// each quantized weight [R, C] is stored as `float8_e4m3fn` with a `<name>_scale_inv` [⌈R/bR⌉, ⌈C/bC⌉]
/// (Float32 in the releases) holding one multiplier per `weight_block_size` block [bR, bC].
///
/// ExpertLock computes what transformers computes from such a folder without an FP8 GPU (FineGrainedFP8 then
/// loads with `dequantize=True`): each weight is `fp8 value × its block's scale` in Float32, and activations
/// are not quantized. Unlike transformers, which converts the whole checkpoint when loading, the weights stay
/// in the mapped file and one matrix (one expert's projection) is dequantized when a product needs it.
public struct FP8Quantization: Sendable, Equatable {
    /// Rows and columns of a block (`weight_block_size`; transformers' default 128 × 128).
    public var blockSize: [Int] = [128, 128]

    public init(blockSize: [Int] = [128, 128]) { self.blockSize = blockSize }

    /// The name of the scale tensor stored beside an FP8 weight (`…weight` → `…weight_scale_inv`).
    public static func scaleName(of weight: String) -> String { weight + "_scale_inv" }

    /// The scale grid a weight of `shape` [R, C] needs: ⌈R/bR⌉ × ⌈C/bC⌉ (DeepSeek's `weight_dequant`
    /// kernel; transformers 5.25 needs the block to divide the shape, where both agree).
    public func scaleShape(of shape: [Int]) -> [Int] {
        [(shape[0] + blockSize[0] - 1) / blockSize[0], (shape[1] + blockSize[1] - 1) / blockSize[1]]
    }

    /// Float32 values of rows `rows` of an FP8 matrix with `columns` columns: `fp8 × scale` of each element's
    /// block. `bytes` holds those rows only; `scales` is the whole grid (row-major).
    public func dequantize(_ bytes: UnsafeRawBufferPointer, rows: Range<Int>, columns: Int, scales: Tensor) -> Tensor {
        let (blockRows, blockColumns) = (blockSize[0], blockSize[1])
        let gridColumns = scales.shape[1]
        let table = FP8E4M3.values
        return Tensor(shape: [rows.count, columns]) { out in
            scales.withUnsafeBufferPointer { s in
                for (i, r) in rows.enumerated() {
                    let scaleRow = (r / blockRows) * gridColumns
                    for j in 0..<columns {
                        out[i * columns + j] = table[Int(bytes[i * columns + j])] * s[scaleRow + j / blockColumns]
                    }
                }
            }
        }
    }

    /// transformers' `Fp8Quantize` (what `save_pretrained` of an FP8 model writes): per block, scale =
    /// 448 / max|w| (1 for an all-zero block), fp8 = round(clamp(w × scale, ±448)), stored `scale_inv` = 1 / scale.
    /// Used only for weights whose values changed (training, a merged LoRA); unchanged ones keep their bytes.
    public func quantize(_ weight: Tensor) -> (fp8: [UInt8], scaleInverse: Tensor) {
        let (rows, columns) = (weight.shape[0], weight.shape[1])
        let grid = scaleShape(of: weight.shape)
        var maxAbs = [Float](repeating: 0, count: grid[0] * grid[1])
        weight.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                for c in 0..<columns {
                    let g = (r / blockSize[0]) * grid[1] + c / blockSize[1]
                    maxAbs[g] = max(maxAbs[g], abs(w[r * columns + c]))
                }
            }
        }
        // torch evaluates `448 / t` as `t.reciprocal() * 448`: the same rounding, to the bit.
        let scales = maxAbs.map { $0 > 0 ? (1 / $0) * FP8E4M3.max : 1 }
        var fp8 = [UInt8](repeating: 0, count: rows * columns)
        weight.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                for c in 0..<columns {
                    let scale = scales[(r / blockSize[0]) * grid[1] + c / blockSize[1]]
                    let scaled = min(max(w[r * columns + c] * scale, -FP8E4M3.max), FP8E4M3.max)
                    fp8[r * columns + c] = FP8E4M3.encode(scaled)
                }
            }
        }
        return (fp8, Tensor(shape: grid, data: scales.map { 1 / $0 }))
    }
}

/// `float8_e4m3fn`: 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, S.1111.111 is NaN,
/// largest finite 448, subnormals down to 2^-9.
public enum FP8E4M3 {
    public static let max: Float = 448

    /// The value of every byte.
    public static let values: [Float] = (0..<256).map { decode(UInt8($0)) }

    public static func decode(_ byte: UInt8) -> Float {
        let sign: Float = byte & 0x80 != 0 ? -1 : 1
        let exponent = Int(byte >> 3) & 0xF
        let mantissa = Float(byte & 0x7)
        if exponent == 0xF && byte & 0x7 == 0x7 { return .nan }
        if exponent == 0 { return sign * mantissa / 8 * Float(sign: .plus, exponent: -6, significand: 1) }
        return sign * (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }

    /// The nearest value (ties to even, as torch's conversion); callers clamp to ±448 first.
    public static func encode(_ x: Float) -> UInt8 {
        if x.isNaN { return 0x7F }
        let sign: UInt8 = x.sign == .minus ? 0x80 : 0
        let a = Swift.min(abs(x), max)
        if a < Float(sign: .plus, exponent: -6, significand: 1) {
            // Subnormal: units of 2^-9; 8 units is the smallest normal (exponent field 1, mantissa 0).
            let units = (a * Float(sign: .plus, exponent: 9, significand: 1)).rounded(.toNearestOrEven)
            return sign | UInt8(units)
        }
        var exponent = Int(a.exponent)
        var q = (a * Float(sign: .plus, exponent: 3 - exponent, significand: 1)).rounded(.toNearestOrEven)  // [8, 16]
        if q == 16 {
            exponent += 1
            q = 8
        }
        return sign | UInt8(exponent + 7) << 3 | UInt8(q - 8)
    }
}
