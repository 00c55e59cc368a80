import Foundation
import MoEModels
import TensorCore

/// What merging and inner pruning learn about each expert from a calibration corpus: every sparse
/// block's inputs and routing are recorded (up to `maxTokens` real tokens per layer), then each
/// expert is run on them. Shapes: X [n, C] per layer; an expert's channel activations
/// h = silu(X·W_gᵀ) ⊙ (X·W_uᵀ) [n, I] and outputs y = h·W_dᵀ [n, C].
public struct MergeCalibration: Sendable {
    /// Per sparse layer (in layer order), per expert.
    public struct Layer: Sendable, Equatable {
        /// Routing slots (token × top-k choice) that picked the expert.
        public var frequency: [Double]
        /// REAP: mean over the tokens routed to the expert of gate weight × ‖output‖₂ (0 when never routed).
        public var reap: [Double]
        /// The expert's output averaged over every calibration token, routed or not (HC-SMoE's feature) [C].
        public var meanOutput: [[Float]]
        /// Channel attribution: Σ over the tokens routed to the expert of gate weight × |h_j| × ‖W_d[:, j]‖₂,
        /// the share of the block output channel j carries (per channel of each expert).
        public var channelScores: [[Double]]
    }

    public var layers: [Layer]
    /// Real tokens seen per layer.
    public var tokens: Int

    /// Runs the model over `batches` (no graph) and computes the statistics.
    public static func run(model: MoEModel, batches: [TokenBatch], maxTokens: Int = 4096) throws -> MergeCalibration {
        if !model.expertsCanBeRebuilt {
            throw ModelError.unsupported(
                file: "merge calibration",
                feature: "merging or inner-pruning \(model.family.rawValue) experts (FP8, "
                    + "fused tensors, biases or a clamped activation)")
        }
        let recorder = BlockInputRecorder(layers: model.moeBlocks.map(\.layer), maxTokens: maxTokens)
        for batch in batches where !recorder.isFull {
            _ = try model.finalHiddenStates(batch, observer: recorder)
        }
        let layers = try model.moeBlocks.enumerated().map { l, block in
            try statistics(block: block, record: recorder.records[l])
        }
        return MergeCalibration(layers: layers, tokens: recorder.records.first?.rows ?? 0)
    }

    static func statistics(block: SparseMoEBlock, record: BlockInputRecorder.Record) throws -> Layer {
        let e = block.expertCount
        let c = record.width
        let n = record.rows
        var layer = Layer(
            frequency: [Double](repeating: 0, count: e), reap: [Double](repeating: 0, count: e),
            meanOutput: [[Float]](repeating: [Float](repeating: 0, count: c), count: e), channelScores: [])
        guard n > 0 else {
            layer.channelScores = block.experts.map { [Double](repeating: 0, count: $0.intermediateSize) }
            return layer
        }
        let x = Tensor(shape: [n, c], data: record.inputs)
        // Gate weight of each (token, expert) pair the router chose.
        var routed = [[(row: Int, weight: Float)]](repeating: [], count: e)
        let k = record.experts.count / n
        for (slot, expert) in record.experts.enumerated() where expert < e {
            routed[expert].append((slot / k, record.weights[slot]))
        }
        for (i, expert) in block.experts.enumerated() {
            let down = try expert.down.tensor()  // [C, I]
            let hidden = channelActivations(
                x, expert: expert, gate: try expert.gate.tensor(), up: try expert.up.tensor())
            let output = Gemm.matmul(hidden, down, transposeB: true)  // [n, I] x [C, I]ᵀ -> [n, C]
            let width = hidden.lastDim
            var columnNorms = [Double](repeating: 0, count: width)
            down.withUnsafeBufferPointer { d in
                for r in 0..<c { for j in 0..<width { columnNorms[j] += Double(d[r * width + j] * d[r * width + j]) } }
            }
            columnNorms = columnNorms.map { $0.squareRoot() }
            var scores = [Double](repeating: 0, count: width)
            var reap = 0.0
            hidden.withUnsafeBufferPointer { h in
                output.withUnsafeBufferPointer { y in
                    for (row, weight) in routed[i] {
                        var norm: Float = 0
                        for j in 0..<c { norm += y[row * c + j] * y[row * c + j] }
                        reap += Double(weight * norm.squareRoot())
                        for j in 0..<width { scores[j] += Double(weight * abs(h[row * width + j])) * columnNorms[j] }
                    }
                    var mean = [Float](repeating: 0, count: c)
                    for row in 0..<n { for j in 0..<c { mean[j] += y[row * c + j] } }
                    layer.meanOutput[i] = mean.map { $0 / Float(n) }
                }
            }
            layer.frequency[i] = Double(routed[i].count)
            layer.reap[i] = routed[i].isEmpty ? 0 : reap / Double(routed[i].count)
            layer.channelScores.append(scores)
        }
        return layer
    }

    /// h = silu(x·W_gᵀ) ⊙ (x·W_uᵀ): x [n, C], W_g and W_u [I, C] -> [n, I].
    static func channelActivations(_ x: Tensor, expert: Expert, gate: Tensor, up: Tensor) -> Tensor {
        let g = Gemm.matmul(x, gate, transposeB: true)  // [n, C] -> [n, I]
        let u = Gemm.matmul(x, up, transposeB: true)  // [n, C] -> [n, I]
        return Tensor(shape: g.shape) { out in
            g.withUnsafeBufferPointer { gp in
                u.withUnsafeBufferPointer { up in
                    for i in 0..<gp.count { out[i] = gp[i] / (1 + Foundation.exp(-gp[i])) * up[i] }
                }
            }
        }
    }
}

/// Records each sparse block's input rows and routing (real tokens only, up to a budget).
final class BlockInputRecorder: RoutingObserver {
    struct Record {
        var width = 0
        var rows = 0
        var inputs: [Float] = []
        /// Chosen experts, K per recorded row, and their gate weights.
        var experts: [Int] = []
        var weights: [Float] = []
        /// Batch rows taken by the last `observeBlockInput` (their routing follows).
        var pending: [Int] = []
    }

    let position: [Int: Int]
    let maxTokens: Int
    var records: [Record]

    init(layers: [Int], maxTokens: Int) {
        position = Dictionary(uniqueKeysWithValues: layers.enumerated().map { ($1, $0) })
        self.maxTokens = maxTokens
        records = Array(repeating: Record(), count: layers.count)
    }

    var isFull: Bool { records.allSatisfy { $0.rows >= maxTokens } }

    func observeBlockInput(layer: Int, input: Tensor, batch: TokenBatch) {
        guard let l = position[layer] else { return }
        let c = input.lastDim
        records[l].width = c
        let room = max(0, maxTokens - records[l].rows)
        let rows = Array((0..<input.rows).filter { batch.isValid(row: $0) }.prefix(room))
        records[l].pending = rows
        input.withUnsafeBufferPointer { p in
            for r in rows { records[l].inputs.append(contentsOf: p[(r * c)..<((r + 1) * c)]) }
        }
        records[l].rows += rows.count
    }

    func observeRouting(layer: Int, probabilities: Tensor, experts: [Int], weights: Tensor, batch: TokenBatch) {
        guard let l = position[layer] else { return }
        let k = weights.lastDim
        for r in records[l].pending {
            records[l].experts.append(contentsOf: experts[(r * k)..<((r + 1) * k)])
            records[l].weights.append(contentsOf: weights.data[(r * k)..<((r + 1) * k)])
        }
        records[l].pending = []
    }

    func observeExpertOutput(
        layer: Int, expert: Int, rows: [Int], slots: [Int], outputNorms: [Float], batch: TokenBatch
    ) {}
}
