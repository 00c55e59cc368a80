import Foundation
import TensorCore

/// One named weight of a model: its Hugging Face tensor name, its shape, and where its values live.
///
/// Weights either live in memory as a Float32 `Variable` (trainable, or small) or stay in the
/// memory-mapped checkpoint in their stored dtype and are converted to Float32 each time a forward
/// pass needs them. The second keeps a BF16 model at about its file size in memory: only the
/// matrices of the layer being computed exist in Float32 at any moment.
public final class Parameter {
    /// The Hugging Face tensor name, e.g. `model.layers.0.mlp.experts.3.up_proj.weight`.
    public let name: String
    public let shape: [Int]
    private var resident: Variable?
    /// The resident values are the source's, unchanged (`makeResident`), so they may be released.
    private var residentIsSourceCopy = false
    private let load: (() throws -> Tensor)?
    /// The weight as stored, when the checkpoint holds it in bfloat16: products read it in place
    /// (`StoredGemm`) instead of converting it to Float32 on every use.
    private let storedBF16: (() throws -> BF16Matrix)?
    /// The bfloat16 matrix of a resident weight: its stored bits, or its Float32 values rounded in `.bf16`
    /// precision; made on first use, dropped with the values.
    private var roundedBF16: BF16Matrix?
    /// The stored bfloat16 matrix of a weight held in memory without its Float32 values (`hold`).
    private var heldBF16: BF16Matrix?
    /// Where the checkpoint keeps the bytes this weight reads (read-ahead stages them; empty: made in memory).
    let sourceExtents: [FileExtent]
    /// The tensors holding this weight as stored, for a weight whose stored form Float32 cannot give back
    /// (an FP8 matrix and its block scales): saving copies them while the values are still the stored ones.
    private let storedTensors: (() throws -> [StoredTensor])?
    /// The dtype the checkpoint stores this weight in (nil: made in memory); `prune` writes it back in it.
    public var sourceDType: DType?
    /// A LoRA update applied on top of this weight wherever it is used as a projection (nil: none).
    public var adapter: LoRAAdapter?
    /// The arithmetic of inference products with this weight (`MoEModel.setPrecision`).
    public var precision: Precision = .f32

    /// A parameter held in memory.
    public init(name: String, value: Tensor, trainable: Bool = false) {
        self.name = name
        self.shape = value.shape
        self.resident = Variable(value, requiresGrad: trainable, name: name)
        self.load = nil
        self.storedBF16 = nil
        self.storedTensors = nil
        self.sourceExtents = []
    }

    /// A parameter read from its source on every use (memory-mapped checkpoint); `bf16` lends the
    /// stored bfloat16 matrix when there is one; `stored` gives the stored tensors saving copies (FP8).
    public init(
        name: String, shape: [Int], load: @escaping () throws -> Tensor, bf16: (() throws -> BF16Matrix)? = nil,
        stored: (() throws -> [StoredTensor])? = nil, extents: [FileExtent] = []
    ) {
        self.name = name
        self.shape = shape
        self.resident = nil
        self.load = load
        self.storedBF16 = shape.count == 2 ? bf16 : nil
        self.storedTensors = stored
        self.sourceExtents = extents
    }

    /// Whether the weight is kept in a stored form Float32 cannot give back (FP8 with block scales).
    public var isStoredQuantized: Bool { storedTensors != nil }

    /// The stored tensors (the FP8 weight under this name, then its `weight_scale_inv`), while the values are
    /// still the stored ones; nil for a weight without such a form or whose values were changed.
    public func unchangedStoredTensors() throws -> [StoredTensor]? {
        guard let storedTensors, resident == nil || residentIsSourceCopy else { return nil }
        let tensors = try storedTensors()
        guard let weight = tensors.first else { return tensors }
        // Renamed experts (pruning) carry the stored bytes under their new name.
        return tensors.map { t in
            t.name == weight.name ? t.renamed(name) : t.renamed(name + t.name.dropFirst(weight.name.count))
        }
    }

    /// Whether the Float32 values are held in memory.
    public var isResident: Bool { resident != nil }

    /// Whether the values are still those of the source the parameter was loaded from (mapped, or made
    /// resident unchanged): a saver may then copy the source's bytes (MXFP4 experts) instead of the values.
    public var holdsSourceValues: Bool { load != nil && (resident == nil || residentIsSourceCopy) }

    /// The value as a graph leaf. For a mapped parameter this converts from the stored dtype now;
    /// the caller drops it after use.
    public func variable() throws -> Variable {
        if let resident { return resident }
        let value = try heldBF16?.tensor() ?? load!()
        precondition(value.shape == shape, "\(name): source produced \(value.shape), expected \(shape)")
        return Variable(value, requiresGrad: false, name: name)
    }

    /// The Float32 values (converting a mapped parameter).
    public func tensor() throws -> Tensor { try variable().value }

    /// Loads the values into memory (for training, or for a model small enough to keep).
    public func makeResident(trainable: Bool = false) throws {
        let value = try tensor()
        resident = Variable(value, requiresGrad: trainable, name: name)
        // A trainable copy may be changed in place by an optimizer: it no longer stands for the source.
        residentIsSourceCopy = load != nil && !trainable
        roundedBF16 = nil
        heldBF16 = nil
    }

    /// Drops the in-memory copy of a frozen parameter whose values are still those of its source
    /// (layer streaming releases a layer's weights this way once every batch went through it).
    /// A parameter without a source, assigned new values, or trainable keeps them.
    public func releaseResident() {
        heldBF16 = nil
        guard residentIsSourceCopy, resident?.recordsGradient != true else { return }
        resident = nil
        residentIsSourceCopy = false
        roundedBF16 = nil
    }

    /// Keeps the weight in memory until `releaseResident` (layer streaming holds one layer at a time): a weight
    /// the checkpoint stores as a bfloat16 matrix keeps its stored bits, which is what the products read (half
    /// the bytes of Float32, no conversion; from a read-ahead's buffer, not even a copy); any other weight its
    /// Float32 values (`makeResident`). A resident weight stays as it is.
    public func hold() throws {
        guard resident == nil else { return }
        if let storedBF16 {
            heldBF16 = try storedBF16()
        } else {
            try makeResident()
        }
    }

    /// Whether `hold` keeps the stored bfloat16 matrix in memory.
    var isHeld: Bool { heldBF16 != nil }

    /// Replaces the values (shape must match). Used by optimizers' callers, pruning and tests.
    public func assign(_ value: Tensor, trainable: Bool? = nil) {
        precondition(value.shape == shape, "\(name): assigning \(value.shape) to \(shape)")
        let recordsGradient = trainable ?? (resident?.recordsGradient ?? false)
        resident = Variable(value, requiresGrad: recordsGradient, name: name)
        residentIsSourceCopy = false
        roundedBF16 = nil
        heldBF16 = nil
    }

    /// Marks a resident parameter trainable or frozen (a frozen one builds no graph).
    public func setTrainable(_ trainable: Bool) throws {
        if resident == nil { try makeResident(trainable: trainable); return }
        if trainable { residentIsSourceCopy = false }
        if resident!.recordsGradient != trainable {
            resident = Variable(resident!.value, requiresGrad: trainable, name: name)
        }
    }

    /// True when the parameter takes part in training (its leaf requires a gradient).
    public var isTrainable: Bool { resident?.recordsGradient ?? false }

    /// The resident leaf, for optimizers (nil when mapped).
    public var residentVariable: Variable? { resident }

    public var elementCount: Int { Tensor.count(of: shape) }

    /// The bfloat16 matrix inference products read, or nil when they use the Float32 values: a weight the
    /// checkpoint stores in bfloat16 whose values are still the stored ones (mapped, or made resident
    /// from the file: layer streaming gets the products of the mapped model, bit for bit), in either
    /// precision (`.f32` widens it inside the product); or in `.bf16` precision any other frozen
    /// resident weight, rounded once and kept.
    public func storedMatrix() throws -> BF16Matrix? {
        guard let resident else { return try heldBF16 ?? storedBF16?() }
        guard !resident.recordsGradient, shape.count == 2 else { return nil }
        if residentIsSourceCopy, let storedBF16 {
            if roundedBF16 == nil { roundedBF16 = try storedBF16() }  // the stored bits: the resident values
            return roundedBF16
        }
        guard precision == .bf16 else { return nil }
        if roundedBF16 == nil { roundedBF16 = BF16Matrix(rounding: resident.value) }
        return roundedBF16
    }

    /// Rows `ids` of a matrix [R, C] in Float32 (an embedding lookup, no graph): from the stored
    /// bfloat16 rows when there are any, without converting the rest of the matrix.
    public func gatherRows(_ ids: [Int]) throws -> Tensor {
        if resident == nil, let stored = try heldBF16 ?? storedBF16?() { return stored.gatherRows(ids) }
        return TensorCore.gatherRows(try variable(), ids).value
    }
}

extension Parameter {
    /// An independent parameter with the same values, trainability, precision and adapter (copied too):
    /// writing either leaves the other as it was (tensors are copy-on-write).
    public func copy() -> Parameter {
        let p: Parameter
        if let load {
            p = Parameter(
                name: name, shape: shape, load: load, bf16: storedBF16, stored: storedTensors, extents: sourceExtents)
            p.heldBF16 = heldBF16
            if let resident {
                p.resident = Variable(resident.value, requiresGrad: resident.recordsGradient, name: name)
                p.residentIsSourceCopy = residentIsSourceCopy
                p.roundedBF16 = roundedBF16
            }
        } else {
            p = Parameter(name: name, value: resident!.value, trainable: resident!.recordsGradient)
            p.roundedBF16 = roundedBF16
        }
        p.precision = precision
        p.sourceDType = sourceDType
        if let adapter {
            p.adapter = LoRAAdapter(
                baseName: adapter.baseName, alpha: adapter.alpha, a: (try? adapter.a.tensor())!,
                b: (try? adapter.b.tensor())!, trainable: adapter.a.isTrainable)
        }
        return p
    }

    /// The same values under another name (sharing the resident leaf or the mapped source).
    public func renamed(_ newName: String) -> Parameter {
        let p: Parameter
        if let resident {
            p = Parameter(
                name: newName, shape: shape, load: { resident.value },
                stored: residentIsSourceCopy ? storedTensors : nil)
            p.resident = resident
            p.residentIsSourceCopy = residentIsSourceCopy
        } else {
            p = Parameter(
                name: newName, shape: shape, load: load!, bf16: storedBF16, stored: storedTensors,
                extents: sourceExtents)
        }
        p.sourceDType = sourceDType
        return p
    }

    /// Entries `entries` of a vector stored as [E] or [1, E] (a router's selection bias), as a new parameter;
    /// a nil entry takes `fill` (a dead expert slot).
    public func selectingEntries(_ entries: [Int?], fill: Float = 0, name newName: String) throws -> Parameter {
        precondition(shape.last == elementCount, "\(name): selectingEntries needs a vector, shape \(shape)")
        let newShape = shape.dropLast() + [entries.count]
        let select: (Tensor) -> Tensor = { t in
            Tensor(shape: Array(newShape), data: entries.map { $0.map { t.data[$0] } ?? fill })
        }
        let p: Parameter
        if let resident {
            p = Parameter(name: newName, value: select(resident.value), trainable: resident.recordsGradient)
        } else {
            let source = load!
            p = Parameter(name: newName, shape: Array(newShape), load: { select(try source()) })
        }
        p.sourceDType = sourceDType
        return p
    }

    /// Rows `rows` of a 2-D parameter (router rows of kept experts), as a new parameter; a nil row is zeros.
    public func selectingRows(_ rows: [Int?], name newName: String) throws -> Parameter {
        precondition(shape.count == 2, "\(name): selectingRows needs a matrix, shape \(shape)")
        let width = shape[1]
        let newShape = [rows.count, width]
        let select: (Tensor) -> Tensor = { t in
            Tensor(shape: newShape) { out in
                for (i, r) in rows.enumerated() {
                    // A dead slot's row is zeros (the buffer is uninitialized: garbage there gave NaN logits).
                    for j in 0..<width { out[i * width + j] = r.map { t.data[$0 * width + j] } ?? 0 }
                }
            }
        }
        let p: Parameter
        if let resident {
            p = Parameter(name: newName, value: select(resident.value), trainable: resident.recordsGradient)
        } else {
            let source = load!
            p = Parameter(name: newName, shape: newShape, load: { select(try source()) })
        }
        p.sourceDType = sourceDType
        return p
    }
}

extension Parameter {
    /// A dead expert slot shaped as this expert weight: zeros, in the same stored dtype; for an FP8 weight
    /// zero bytes with unit scales (what transformers' quantizer makes of zeros).
    func deadSlot(named newName: String, fp8: FP8Quantization?) -> Parameter {
        let zeros = Tensor(shape: shape)
        let p: Parameter
        if isStoredQuantized, let fp8, shape.count == 2 {
            let (bytes, scales) = fp8.quantize(zeros)
            p = Parameter(
                name: newName, shape: shape, load: { zeros },
                stored: {
                    [
                        StoredTensor(name: newName, dtype: .f8e4m3, shape: zeros.shape, bytes: Data(bytes)),
                        try StoredTensor(name: FP8Quantization.scaleName(of: newName), tensor: scales, dtype: .f32),
                    ]
                })
        } else {
            p = Parameter(name: newName, shape: shape, load: { zeros })
        }
        p.sourceDType = sourceDType
        return p
    }
}
