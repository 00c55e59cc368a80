/// What a training loop needs from an optimizer: step with the parameters' gradients, clear
/// them, change the learning rate on a schedule, and save or restore its state for resumption.
public protocol Optimizer: AnyObject {
    /// The parameters updated by `step()`, in a fixed order.
    var parameters: [Variable] { get }
    /// Learning rate used by the next `step()`.
    var learningRate: Float { get set }
    /// Number of `step()` calls so far (restored by `importState`).
    var stepCount: Int { get }
    /// Updates every parameter whose `grad` is set; parameters without a gradient are skipped.
    func step()
    /// The optimizer state keyed by parameter name (`<name>.<buffer>`), for checkpoints.
    func exportState() -> [String: Tensor]
    /// Restores state written by `exportState()`; a key that names no parameter or a shape that
    /// differs throws.
    func importState(_ state: [String: Tensor]) throws
}

extension Optimizer {
    /// Clears every parameter's gradient.
    public func zeroGrad() {
        for p in parameters { p.zeroGrad() }
    }

    /// The state-dictionary key of parameter `index`: its name, or `#index` when unnamed.
    func stateName(_ index: Int) -> String { parameters[index].name ?? "#\(index)" }
}

/// A problem with optimizer state being restored (a checkpoint that does not fit the model).
public enum OptimizerError: Error, CustomStringConvertible, Equatable {
    case unknownKey(String)
    case missingKey(String)
    case shapeMismatch(key: String, expected: [Int], actual: [Int])
    case duplicateName(String)

    public var description: String {
        switch self {
        case .unknownKey(let key):
            return "optimizer state: key '\(key)' names no parameter of this optimizer"
        case .missingKey(let key):
            return "optimizer state: '\(key)' is missing"
        case .shapeMismatch(let key, let expected, let actual):
            return "optimizer state: '\(key)' has shape \(actual), expected \(expected)"
        case .duplicateName(let name):
            return "optimizer state: two parameters are named '\(name)'"
        }
    }
}

/// The Double a Python float literal would have for a hyperparameter given as Float (0.9 stays
/// 0.9, not 0.899999976…), so scalar arithmetic matches `torch.optim` run with the same numbers.
func pythonDouble(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

/// Splits a state dictionary by parameter: validates every key against `names` and `buffers`
/// and every shape against `shapes`, then returns state[name][buffer].
func partitionState(
    _ state: [String: Tensor], names: [String], shapes: [[Int]], buffers: [String], globals: Set<String>
) throws -> [[String: Tensor]] {
    var index: [String: Int] = [:]
    for (i, name) in names.enumerated() {
        if index[name] != nil { throw OptimizerError.duplicateName(name) }
        index[name] = i
    }
    var result = [[String: Tensor]](repeating: [:], count: names.count)
    for (key, tensor) in state where !globals.contains(key) {
        guard let dot = key.lastIndex(of: "."), let i = index[String(key[..<dot])],
            buffers.contains(String(key[key.index(after: dot)...]))
        else { throw OptimizerError.unknownKey(key) }
        let buffer = String(key[key.index(after: dot)...])
        let expected = buffer == "step" ? [] : shapes[i]
        if tensor.shape != expected {
            throw OptimizerError.shapeMismatch(key: key, expected: expected, actual: tensor.shape)
        }
        result[i][buffer] = tensor
    }
    return result
}
