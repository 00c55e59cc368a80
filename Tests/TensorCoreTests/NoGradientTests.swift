import Foundation
import Testing
@testable import TensorCore

/// `withoutGradients`: the scope records no graph (so inference on a trainable model keeps no
/// activations), gives the values of the same ops on frozen inputs, reaches the `Parallel` workers,
/// and stays on its thread (a test training beside it keeps its gradients).
struct NoGradientTests {
    static func inputs() -> (Variable, Variable) {
        var rng = SplitMix64(seed: 5)
        let a = Tensor(shape: [64, 48]) { p in for i in 0..<p.count { p[i] = rng.nextFloat() - 0.5 } }
        let b = Tensor(shape: [32, 48]) { p in for i in 0..<p.count { p[i] = rng.nextFloat() - 0.5 } }
        return (Variable(a, requiresGrad: true), Variable(b, requiresGrad: true))
    }

    @Test func recordsNoGraphAndGivesTheFrozenValues() {
        let (x, w) = Self.inputs()
        let frozen = rmsNorm(
            linear(Variable(x.value), Variable(w.value)), weight: Variable(Tensor(shape: [32], repeating: 1)), eps: 1e-5
        )
        let scoped = withoutGradients {
            rmsNorm(linear(x, w), weight: Variable(Tensor(shape: [32], repeating: 1), requiresGrad: true), eps: 1e-5)
        }
        #expect(!scoped.requiresGrad && !scoped.recordsGradient)
        #expect(scoped.value.data == frozen.value.data)
        // The leaves are trainable again outside the scope, and inside it they read as frozen.
        #expect(x.requiresGrad)
        #expect(withoutGradients { !x.requiresGrad && x.recordsGradient })
        let recorded = linear(x, w)
        #expect(recorded.requiresGrad)
    }

    /// Nodes made on `Parallel` workers inside the scope record nothing either.
    @Test func reachesParallelWorkers() {
        let (x, w) = Self.inputs()
        var flags = [Bool](repeating: true, count: 8)
        withoutGradients {
            flags.withUnsafeMutableBufferPointer { out in
                let out = UncheckedSendable(out)
                Parallel.forEachItem(in: Array(0..<8)) { i in
                    out.value[i] = linear(gatherRows(x, [i, i + 1]), w).requiresGrad
                }
            }
        }
        #expect(flags.allSatisfy { !$0 })
    }

    /// Another thread outside the scope still records its graph while the scope is open.
    @Test func staysOnItsThread() async {
        let (x, w) = Self.inputs()
        let other = Task.detached { () -> Bool in
            let (a, b) = Self.inputs()
            return linear(a, b).requiresGrad
        }
        let inside = withoutGradients { linear(x, w).requiresGrad }
        #expect(!inside)
        #expect(await other.value)
    }
}
