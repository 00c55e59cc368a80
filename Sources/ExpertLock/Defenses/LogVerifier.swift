import Crypto
import Foundation
import MoEModels

/// Checks a locked model against its signed manifest and update log.
///
/// The verifier replays the log: it starts from the manifest's tensor records and applies each
/// entry's new records and removals in order; the checkpoint is valid only when its tensors are
/// exactly that state (same names, shapes and value hashes) and its config hash is the last one
/// logged, and when the manifest and every entry verify under the given public key with an
/// unbroken chain. Entries whose signature fails are not replayed (their claims are not the
/// owner's). Every difference is reported, with the layer and expert of expert tensors and the
/// rows of routers; experts that were removed or moved (pruning renumbers them) are found by
/// matching content hashes within the layer.
///
/// What the chain cannot show by itself: a log cut after its last entry. Such a cut is still
/// caught when the dropped update changed the checkpoint, because the tensors then differ from
/// the replayed state.
public enum LogVerifier {
    public static func verify(
        model directory: URL, manifest: ModelManifest, log: UpdateLog, publicKey: Curve25519.Signing.PublicKey
    ) throws -> LogVerification {
        try verifyReturningState(model: directory, manifest: manifest, log: log, publicKey: publicKey).report
    }

    /// The report and the checkpoint's tensor records (what a valid checkpoint's state is).
    static func verifyReturningState(
        model directory: URL, manifest: ModelManifest, log: UpdateLog, publicKey: Curve25519.Signing.PublicKey
    ) throws -> (report: LogVerification, state: [String: TensorRecord]) {
        var problems: [LogProblem] = []
        let manifestValid = manifest.isSignatureValid(publicKey: publicKey)
        if !manifestValid {
            let other = manifest.publicKey != SigningKey.text(publicKey)
            problems.append(
                LogProblem(
                    kind: .manifestSignature, entry: nil, line: nil,
                    detail: other
                        ? "the manifest was signed by another key (\(manifest.publicKey))"
                        : "the manifest's signature does not verify: it was edited after signing"))
        }
        for bad in log.unreadable {
            problems.append(LogProblem(kind: .unreadableEntry, entry: nil, line: bad.line, detail: bad.reason))
        }

        var expected = manifest.tensorsByName
        var expectedConfig = manifest.configSHA256
        var previous = manifest.digest
        var chainValid = log.unreadable.isEmpty
        for (position, entry) in log.entries.enumerated() {
            if entry.index != position {
                chainValid = false
                problems.append(
                    LogProblem(
                        kind: .entryIndex, entry: position, line: nil,
                        detail:
                            "entry \(position) says it is "
                            + "entry \(entry.index): entries were reordered, inserted or deleted"
                    ))
            }
            if entry.previous != previous {
                chainValid = false
                problems.append(
                    LogProblem(
                        kind: .brokenChain, entry: position, line: nil,
                        detail: "entry \(position) does not link to "
                            + (position == 0 ? "the manifest" : "entry \(position - 1)")))
            }
            previous = entry.digest
            guard entry.isSignatureValid(publicKey: publicKey) else {
                chainValid = false
                problems.append(
                    LogProblem(
                        kind: .entrySignature, entry: position, line: nil,
                        detail: "entry \(position)'s signature does not verify (another key, or edited after signing)"))
                continue
            }
            for name in entry.removed { expected[name] = nil }
            for record in entry.tensors { expected[record.name] = record }
            expectedConfig = entry.configSHA256
        }

        let checkpoint = try CheckpointTensors(directory: directory)
        let actual = try checkpoint.records()
        var differences = compare(expected: expected, actual: actual)
        let actualConfig = try? CheckpointTensors.configSHA256(directory: directory)
        if actualConfig != expectedConfig {
            differences.insert(
                TensorDifference(
                    .configChanged, tensor: "config.json",
                    detail: actualConfig == nil
                        ? "config.json is missing or unreadable"
                        : "config.json describes another model than the manifest and log (experts or sizes changed)"),
                at: 0)
        }
        differences += maskDifferences(directory: directory, expected: manifest.maskSHA256)
        if let locked = manifest.tokenizerSHA256, CheckpointTensors.tokenizerSHA256(directory: directory) != locked {
            differences.append(
                TensorDifference(
                    .tokenizerChanged, tensor: "tokenizer.json",
                    detail: "the tokenizer files are not the locked ones (token ids would mean other text)"))
        }
        let checked = Set(expected.keys).union(actual.keys).count
        let report = LogVerification(
            valid: problems.isEmpty && differences.isEmpty, manifestSignatureValid: manifestValid,
            chainValid: chainValid && manifestValid, entries: log.entries.count, tensorsChecked: checked,
            problems: problems, differences: differences)
        return (report, actual)
    }

    /// Pruning by masking changes no tensor: the mask file must be the one locked (none, usually).
    /// A mask that is not the locked one names each expert it hides, by decoder layer.
    static func maskDifferences(directory: URL, expected: String?) -> [TensorDifference] {
        let actual = CheckpointTensors.maskSHA256(directory: directory)
        guard actual != expected else { return [] }
        let file = ExpertMaskFile.fileName
        guard actual != nil else {
            return [TensorDifference(.maskChanged, tensor: file, detail: "the locked mask file is missing")]
        }
        let url = directory.appendingPathComponent(file)
        guard let data = FileManager.default.contents(atPath: url.path),
            let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let kept = root["kept"] as? [[Int]],
            let layers = CheckpointTensors.sparseLayers(directory: directory), kept.count == layers.count
        else {
            return [TensorDifference(.maskChanged, tensor: file, detail: "a mask file that is not the locked one")]
        }
        var out: [TensorDifference] = []
        for (position, layer) in layers.enumerated() {
            for expert in 0..<layer.experts where !kept[position].contains(expert) {
                out.append(
                    TensorDifference(
                        .expertMasked, tensor: file,
                        role: .expert(layer: layer.label.layer, expert: expert, stack: layer.label.stack),
                        detail: "expert \(expert) of layer \(layer.label) is masked out of routing"))
            }
        }
        if out.isEmpty {
            out.append(
                TensorDifference(.maskChanged, tensor: file, detail: "the mask file differs from the locked one"))
        }
        return out
    }

    /// Every tensor-level difference, then the expert-level reading of them.
    static func compare(expected: [String: TensorRecord], actual: [String: TensorRecord]) -> [TensorDifference] {
        var out: [TensorDifference] = []
        for name in Set(expected.keys).union(actual.keys).sorted() {
            let role = TensorRole(name: name)
            switch (expected[name], actual[name]) {
            case (let e?, nil):
                out.append(
                    TensorDifference(.missing, tensor: name, role: role, expectedShape: e.shape, detail: "missing"))
            case (nil, let a?):
                out.append(
                    TensorDifference(
                        .unexpected, tensor: name, role: role, actualShape: a.shape,
                        detail: "not in the manifest or log"))
            case (let e?, let a?):
                guard e.shape != a.shape || e.sha256 != a.sha256 else { continue }
                var rows: [Int]?
                var detail = e.shape != a.shape ? "shape \(a.shape), expected \(e.shape)" : "values changed"
                if role.hasExpertRows, let expectedRows = e.rowSHA256, let actualRows = a.rowSHA256 {
                    let slots = SlotComparison(expected: expectedRows, actual: actualRows)
                    rows = slots.disturbed
                    let isRouter: Bool
                    if case .router = role { isRouter = true } else { isRouter = false }
                    detail += "; " + slots.description(unit: isRouter ? "row" : "expert")
                }
                out.append(
                    TensorDifference(
                        e.shape != a.shape ? .shapeChanged : .valuesChanged, tensor: name, role: role, rows: rows,
                        expectedShape: e.shape, actualShape: a.shape, detail: detail))
            case (nil, nil):
                continue
            }
        }
        // The expert-level reading first ("expert 3 of layer 0 is gone", "expert 4 is now 3"): it
        // explains the per-tensor differences that follow, which a removal gives by the dozen.
        return expertLevel(expected: expected, actual: actual) + out
    }

    /// Removed and moved experts per layer, from the per-expert tensors (content matched by hash)
    /// and from the rows of fused expert tensors.
    static func expertLevel(expected: [String: TensorRecord], actual: [String: TensorRecord]) -> [TensorDifference] {
        var out: [TensorDifference] = []
        let expectedExperts = ExpertContents(expected)
        let actualExperts = ExpertContents(actual)
        for layer in Set(expectedExperts.layers.keys).union(actualExperts.layers.keys).sorted() {
            let e = expectedExperts.layers[layer] ?? [:]
            let a = actualExperts.layers[layer] ?? [:]
            let count = max((e.keys.max() ?? -1), (a.keys.max() ?? -1)) + 1
            let slots = SlotComparison(
                expected: (0..<count).map { e[$0] }, actual: (0..<count).map { a[$0] })
            out += slots.differences(layer: layer)
        }
        for (name, e) in expected.sorted(by: { $0.key < $1.key }) {
            guard case .fusedExperts(let layer) = e.role, let a = actual[name], let er = e.rowSHA256,
                let ar = a.rowSHA256, er != ar
            else { continue }
            let slots = SlotComparison(expected: er, actual: ar)
            out += slots.differences(layer: LayerLabel(layer: layer), tensor: name)
        }
        return out
    }
}

/// Each layer's experts as content keys (the hashes of their tensors by projection), from the
/// per-expert tensor layout.
struct ExpertContents {
    /// layer -> expert -> content key.
    var layers: [LayerLabel: [Int: String]] = [:]

    init(_ records: [String: TensorRecord]) {
        var parts: [LayerLabel: [Int: [String]]] = [:]
        for (name, record) in records {
            guard case .expert(let layer, let expert, let stack) = record.role else { continue }
            let projection = name.split(separator: ".").dropLast().last.map(String.init) ?? name
            let label = LayerLabel(stack: stack, layer: layer)
            parts[label, default: [:]][expert, default: []].append("\(projection)=\(record.sha256)")
        }
        for (layer, experts) in parts {
            layers[layer] = experts.mapValues { $0.sorted().joined(separator: ",") }
        }
    }
}
