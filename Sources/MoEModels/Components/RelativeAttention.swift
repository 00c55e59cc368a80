import TensorCore

/// T5 multi-head attention (transformers' `T5Attention` / `SwitchTransformersAttention`): q, k, v, o without
/// bias, scores *not* scaled by 1/√d (T5 folds that into its initialisation), plus a position bias (relative
/// buckets for self-attention, none for cross-attention). One sequence per call: x [T, C] -> [T, C].
/// Shapes: H heads of D = d_kv, inner width H·D.
public final class RelativeAttention {
    public let q: Parameter
    public let k: Parameter
    public let v: Parameter
    public let o: Parameter
    public let heads: Int
    public let headDim: Int

    init(prefix: String, dModel: Int, heads: Int, headDim: Int, parameters p: ParameterFactory) throws {
        let inner = heads * headDim
        q = try p("\(prefix).q.weight", [inner, dModel])
        k = try p("\(prefix).k.weight", [inner, dModel])
        v = try p("\(prefix).v.weight", [inner, dModel])
        o = try p("\(prefix).o.weight", [dModel, inner])
        self.heads = heads
        self.headDim = headDim
    }

    var parameters: [Parameter] { [q, k, v, o] }

    /// Keys and values [S, H·D] of a source (the encoder output for cross-attention).
    func keysAndValues(_ source: Variable) throws -> (keys: Variable, values: Variable) {
        (try k.project(source), try v.project(source))
    }

    /// Attends queries from `x` [T, C] over `keys`/`values` [S, H·D]. `bias[h]` [T, S] is added to head h's
    /// scores (nil: none); `causalOffset` masks key j for query t when j > t + offset (nil: no mask).
    func attend(_ x: Variable, keys: Variable, values: Variable, bias: [Variable]?, causalOffset: Int?) throws
        -> Variable
    {
        let queries = try q.project(x)  // [T, C] -> [T, H·D]
        let t = queries.value.rows
        let s = keys.value.rows
        var mask: Variable?
        if let offset = causalOffset, offset + 1 < s {
            var m = [Float](repeating: 0, count: t * s)
            for i in 0..<t where i + offset + 1 < s {
                for j in (i + offset + 1)..<s { m[i * s + j] = -Float.greatestFiniteMagnitude }
            }
            mask = Variable(Tensor(shape: [t, s], data: m))
        }
        var outputs: [Variable] = []
        outputs.reserveCapacity(heads)
        for h in 0..<heads {
            let columns = (h * headDim)..<((h + 1) * headDim)
            // [T, D] x [S, D]ᵀ -> [T, S], not scaled by 1/√D
            var scores = matmul(sliceColumns(queries, columns), sliceColumns(keys, columns), transposeB: true)
            if let bias { scores = add(scores, bias[h]) }
            if let mask { scores = add(scores, mask) }
            outputs.append(matmul(softmax(scores), sliceColumns(values, columns)))  // [T, S] -> [T, D]
        }
        return try o.project(concatColumns(outputs))  // [T, H·D] -> [T, C]
    }
}

/// Keys and values of one decoder sequence kept across decoding steps: the self-attention's grow by one row a
/// step, the cross-attention's are computed once from the encoder output (transformers' `EncoderDecoderCache`).
public final class Seq2SeqCache {
    var selfKeys: [Tensor?]
    var selfValues: [Tensor?]
    var crossKeys: [Variable?]
    var crossValues: [Variable?]
    /// Decoder positions already cached.
    public private(set) var length = 0

    public init(layers: Int) {
        selfKeys = Array(repeating: nil, count: layers)
        selfValues = Array(repeating: nil, count: layers)
        crossKeys = Array(repeating: nil, count: layers)
        crossValues = Array(repeating: nil, count: layers)
    }

    /// Appends rows to layer `l`'s self-attention keys/values and returns the whole [S, H·D] of each.
    func appendSelf(layer l: Int, keys: Tensor, values: Tensor) -> (Variable, Variable) {
        func joined(_ old: Tensor?, _ new: Tensor) -> Tensor {
            guard let old else { return new }
            return Tensor(shape: [old.rows + new.rows, new.lastDim], data: old.data + new.data)
        }
        selfKeys[l] = joined(selfKeys[l], keys)
        selfValues[l] = joined(selfValues[l], values)
        return (Variable(selfKeys[l]!), Variable(selfValues[l]!))
    }

    func advance(by n: Int) { length += n }
}
