/// Σ of all elements: [..] -> scalar []. Backward broadcasts the scalar gradient.
public func sum(_ x: Variable) -> Variable {
    let xv = x.value
    let total = xv.withUnsafeBufferPointer { Kernels.blockedSum($0.baseAddress!, $0.count) }
    return Variable(Tensor(scalar: total), parents: [x]) { g in [Tensor(shape: xv.shape, repeating: g.scalar)] }
}

/// Mean of all elements: [..] -> scalar []. Backward broadcasts g / count.
public func mean(_ x: Variable) -> Variable {
    let xv = x.value
    let n = Float(max(1, xv.count))
    let total = xv.withUnsafeBufferPointer { Kernels.blockedSum($0.baseAddress!, $0.count) }
    return Variable(Tensor(scalar: total / n), parents: [x]) { g in [Tensor(shape: xv.shape, repeating: g.scalar / n)] }
}

/// a / b for two scalars: [], [] -> []. Backward: g / b and −g · a / b².
public func divide(_ a: Variable, _ b: Variable) -> Variable {
    precondition(a.value.count == 1 && b.value.count == 1, "divide takes two scalars")
    let av = a.value.scalar, bv = b.value.scalar
    return Variable(Tensor(scalar: av / bv), parents: [a, b]) { g in
        [Tensor(scalar: g.scalar / bv), Tensor(scalar: -g.scalar * av / (bv * bv))]
    }
}
