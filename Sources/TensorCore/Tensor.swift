// Shape legend used across ExpertLock kernels:
//   B batch, T sequence length, C hidden size, V vocabulary, E experts, K experts per token (top-k),
//   H attention heads, Hkv key/value heads, D head dimension, I expert intermediate size, N = B*T tokens.

/// A dense Float32 tensor: row-major, contiguous, with value semantics.
///
/// Storage is a Swift `Array`, so copies are O(1) and copy-on-write: kernels that write
/// first check uniqueness through `withUnsafeMutableBufferPointer`. Shapes are plain `[Int]`
/// because every kernel in ExpertLock works on the flattened buffer and states its shapes.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var data: [Float]

    /// Wraps `data` with the given shape; the element count must match.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(Tensor.count(of: shape) == data.count, "shape \(shape) does not match \(data.count) elements")
        self.shape = shape
        self.data = data
    }

    /// A tensor filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, data: [Float](repeating: value, count: Tensor.count(of: shape)))
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }

    /// A tensor whose elements are written by `initializer` (no zero-fill first: the initializer
    /// must write every element).
    public init(shape: [Int], uninitialized initializer: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let n = Tensor.count(of: shape)
        self.shape = shape
        self.data = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            initializer(buffer)
            initialized = n
        }
    }

    /// A scalar (rank-0) tensor.
    public init(scalar: Float) { self.init(shape: [], data: [scalar]) }

    public static func count(of shape: [Int]) -> Int { shape.reduce(1, *) }

    public var count: Int { data.count }
    public var rank: Int { shape.count }
    /// The size of the last dimension (1 for a scalar): kernels treat a tensor as [rows, lastDim].
    public var lastDim: Int { shape.last ?? 1 }
    /// The number of rows when viewed as [rows, lastDim].
    public var rows: Int { lastDim == 0 ? 0 : count / lastDim }
    /// The single element of a scalar or one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with \(count) elements")
        return data[0]
    }

    /// The same elements with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var copy = self
        copy.reshape(newShape)
        return copy
    }

    public mutating func reshape(_ newShape: [Int]) {
        precondition(Tensor.count(of: newShape) == count, "cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }

    /// Rows `range` of the tensor viewed as [rows, lastDim]: shape [range.count, lastDim].
    public func rows(_ range: Range<Int>) -> Tensor {
        let d = lastDim
        return Tensor(shape: [range.count, d], data: Array(data[(range.lowerBound * d)..<(range.upperBound * d)]))
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try data.withUnsafeMutableBufferPointer(body)
    }

    /// Largest absolute elementwise difference; shapes must match.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shape \(shape) vs \(other.shape)")
        var m: Float = 0
        for i in 0..<count { m = max(m, abs(data[i] - other.data[i])) }
        return m
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = data.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }
}
