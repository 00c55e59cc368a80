/// Compares numbered slots (experts of a layer, rows of a router) by content: which of the
/// expected slots are intact, which content moved to another slot, which disappeared, which
/// slots now hold content that was nowhere before. Pruning by removal keeps experts' weights
/// but renumbers them; this is how the verifier names the experts that were removed.
struct SlotComparison {
    /// Expected slots whose content is somewhere else now: (expected slot, slot it is at).
    var moved: [(from: Int, to: Int)] = []
    /// Expected slots whose content is nowhere, and whose place is gone or holds moved content.
    var removed: [Int] = []
    /// Expected slots whose place holds content that was nowhere in the expected slots.
    var changed: [Int] = []
    /// Slots beyond the expected ones, with new content.
    var added: [Int] = []

    init(expected: [String?], actual: [String?]) {
        var actualSlots: [String: [Int]] = [:]
        for (i, key) in actual.enumerated() { if let key { actualSlots[key, default: []].append(i) } }
        let expectedKeys = Set(expected.compactMap { $0 })
        for (slot, key) in expected.enumerated() {
            guard let key else { continue }
            let here = slot < actual.count ? actual[slot] : nil
            if here == key { continue }
            if let elsewhere = actualSlots[key]?.first {
                moved.append((slot, elsewhere))
            } else if let here, !expectedKeys.contains(here) {
                changed.append(slot)
            } else {
                removed.append(slot)
            }
        }
        for slot in expected.count..<max(expected.count, actual.count) {
            if let key = actual[slot], !expectedKeys.contains(key) { added.append(slot) }
        }
    }

    /// Expected slots that are not intact at their place.
    var disturbed: [Int] { (moved.map(\.from) + removed + changed).sorted() }

    func description(unit: String) -> String {
        var parts: [String] = []
        if !changed.isEmpty { parts.append("\(unit)s \(list(changed)) changed") }
        if !removed.isEmpty { parts.append("\(unit)s \(list(removed)) removed") }
        if !moved.isEmpty { parts.append("moved " + moved.map { "\($0.from)→\($0.to)" }.joined(separator: ", ")) }
        if !added.isEmpty { parts.append("\(unit)s \(list(added)) added") }
        return parts.isEmpty ? "same \(unit)s" : parts.joined(separator: "; ")
    }

    /// Expert-level differences of one layer.
    func differences(layer label: LayerLabel, tensor: String? = nil) -> [TensorDifference] {
        var out: [TensorDifference] = []
        let role = TensorRole.expert(layer: label.layer, expert: 0, stack: label.stack)
        for e in removed {
            out.append(
                TensorDifference(
                    .expertRemoved, tensor: tensor, role: role, expert: e,
                    detail: "expert \(e) of layer \(label) is gone: its weights are nowhere in the layer"))
        }
        for (from, to) in moved {
            out.append(
                TensorDifference(
                    .expertMoved, tensor: tensor, role: role, expert: from, position: to,
                    detail: "expert \(from) of layer \(label) is now expert \(to)"))
        }
        return out
    }

    private func list(_ xs: [Int]) -> String { xs.map(String.init).joined(separator: ", ") }
}
