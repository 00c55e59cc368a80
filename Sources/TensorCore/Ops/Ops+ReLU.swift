// The rectifier, for T5-style feed-forward layers (Switch Transformers' experts: wo(relu(wi x))).

/// max(x, 0) elementwise. Backward: g where x > 0, else 0 (PyTorch's choice at x = 0).
public func relu(_ x: Variable) -> Variable {
    let xv = x.value
    let out = xv.mapElements { $0 > 0 ? $0 : 0 }
    return Variable(out, parents: [x]) { g in [g.zipElements(xv) { g, x in x > 0 ? g : 0 }] }
}
