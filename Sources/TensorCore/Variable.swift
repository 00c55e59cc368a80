#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#endif

/// A node of the reverse-mode autodiff graph: a tensor value, its gradient, and how to send a
/// gradient back to the nodes it was computed from.
///
/// Design (micrograd / llm.c): a closed set of primitive ops, each written as a forward kernel
/// with its backward rule right beside it. An op records its parents and backward rule only when
/// some input `requiresGrad`; inference with frozen parameters therefore builds no graph and
/// intermediate tensors are freed as soon as they go out of scope.
public final class Variable {
    /// The forward value.
    public var value: Tensor
    /// The accumulated gradient (nil until `backward` reaches this node).
    public var grad: Tensor?
    /// True for trainable parameters and for every node computed from one, outside a
    /// `withoutGradients` scope; inside one, false for every node, so ops take their inference paths.
    public var requiresGrad: Bool { recordsGradient && !Variable.gradientsDisabled }
    /// Whether this node was made to take part in training (a trainable leaf, or a node recorded
    /// from one), whatever the current scope: what a parameter is, as opposed to what a pass records.
    public let recordsGradient: Bool
    /// Optional name (Hugging Face tensor name for parameters), for messages and optimizers.
    public var name: String?

    let parents: [Variable]
    /// Given the gradient of the output, returns the gradient for each parent (nil: no gradient).
    let backwardRule: ((Tensor) -> [Tensor?])?

    /// A leaf: a parameter (`requiresGrad: true`) or a constant input.
    public init(_ value: Tensor, requiresGrad: Bool = false, name: String? = nil) {
        self.value = value
        self.recordsGradient = requiresGrad
        self.name = name
        self.parents = []
        self.backwardRule = nil
    }

    /// An interior node. Ops call this; when no parent requires a gradient the rule is dropped.
    public init(_ value: Tensor, parents: [Variable], backward: @escaping (Tensor) -> [Tensor?]) {
        self.value = value
        let needs = parents.contains { $0.requiresGrad }
        self.recordsGradient = needs
        self.name = nil
        self.parents = needs ? parents : []
        self.backwardRule = needs ? backward : nil
    }

    public var shape: [Int] { value.shape }

    /// Adds `g` into this node's gradient.
    public func accumulate(_ g: Tensor) {
        precondition(
            g.shape == value.shape || g.count == value.count,
            "gradient shape \(g.shape) does not match value \(value.shape) of \(name ?? "node")")
        if grad == nil {
            grad = g.shape == value.shape ? g : g.reshaped(value.shape)
        } else {
            grad!.withUnsafeMutableBufferPointer { dst in
                g.withUnsafeBufferPointer { src in
                    for i in 0..<dst.count { dst[i] += src[i] }
                }
            }
        }
    }

    /// Back-propagates from this node (a scalar loss unless `seed` is given) through the graph,
    /// accumulating into every node's `grad`. Interior gradients are released once used so the
    /// graph's memory falls as the pass goes on; leaves keep theirs.
    public func backward(seed: Tensor? = nil) {
        guard requiresGrad else { return }
        let start = seed ?? Tensor(shape: value.shape, repeating: 1)
        precondition(seed != nil || value.count == 1, "backward() without a seed needs a scalar, got \(value.shape)")
        // Iterative post-order DFS: parents before children in `order`.
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded {
                order.append(node)
                continue
            }
            if !visited.insert(ObjectIdentifier(node)).inserted { continue }
            stack.append((node, true))
            for p in node.parents where p.requiresGrad && !visited.contains(ObjectIdentifier(p)) {
                stack.append((p, false))
            }
        }
        accumulate(start)
        for node in order.reversed() {
            guard let rule = node.backwardRule, let g = node.grad else { continue }
            let parentGrads = rule(g)
            for (p, pg) in zip(node.parents, parentGrads) where p.requiresGrad {
                if let pg { p.accumulate(pg) }
            }
            node.grad = nil  // interior node: no longer needed
        }
    }

    /// Clears the gradient (optimizers call this after a step).
    public func zeroGrad() { grad = nil }
}

// The no-gradient scope: inference between training steps (scoring a pool, evaluating) runs on the
// trainable model itself, records no graph and takes the frozen-weight kernels, instead of a frozen
// copy of the model. Scoped to the calling thread and carried into `Parallel` workers, so a test
// training beside it in the same process keeps its gradients.
extension Variable {
    /// Whether the calling thread is inside `withoutGradients`.
    public static var gradientsDisabled: Bool { pthread_getspecific(noGradientKey) != nil }

    /// Thread-local marker of a `withoutGradients` scope (a pthread key: cheap, works on GCD threads).
    static let noGradientKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `body` with `disabled` as the calling thread's gradient mode, restoring the previous one.
    static func withGradientsDisabled<R>(_ disabled: Bool, _ body: () throws -> R) rethrows -> R {
        let previous = pthread_getspecific(noGradientKey)
        pthread_setspecific(noGradientKey, disabled ? UnsafeRawPointer(bitPattern: 1) : nil)
        defer { pthread_setspecific(noGradientKey, previous) }
        return try body()
    }
}

/// Runs `body` without recording a graph: every node it computes has `requiresGrad == false`, even
/// from trainable parameters, so ops keep nothing for a backward pass and frozen-weight paths apply.
/// Values are those of the same ops on frozen copies of the parameters.
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try Variable.withGradientsDisabled(true, body)
}
