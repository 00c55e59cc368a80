import Crypto
import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// `log verify` detects one changed weight, a removed expert, reordered and deleted entries, a log
/// signed by another key, and passes the owner's honest LoRA runs.
struct LogVerifierTests {
    @Test func aFreshlyLockedModelIsValid() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let report = try fixture.verify(fixture.locked)
        #expect(report.valid && report.problems.isEmpty && report.differences.isEmpty, "\(report)")
        #expect(report.entries == 0 && report.tensorsChecked > 10)
    }

    @Test func oneChangedWeightIsNamedWithItsLayerAndExpert() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let name = "model.layers.1.block_sparse_moe.experts.2.w3.weight"
        let tampered = try fixture.tamperedCopy(of: fixture.locked, name: "tampered") { model in
            let p = try #require(model.parameters.first { $0.name == name })
            var value = try p.tensor()
            value.data[5] += 1e-3
            p.assign(value)
            return model
        }
        let report = try fixture.verify(tampered)
        #expect(!report.valid && report.problems.isEmpty)
        #expect(report.differences.count == 1, "\(report.differences)")
        let difference = try #require(report.differences.first)
        #expect(difference.kind == .valuesChanged && difference.tensor == name)
        #expect(difference.layer == 1 && difference.expert == 2)
    }

    @Test func aChangedRouterRowIsNamed() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let tampered = try fixture.tamperedCopy(of: fixture.locked, name: "router") { model in
            let router = model.moeBlocks[0].router
            var value = try router.tensor()
            value.data[3 * router.shape[1]] *= 2  // row 3
            router.assign(value)
            return model
        }
        let report = try fixture.verify(tampered)
        let difference = try #require(report.differences.first)
        #expect(report.differences.count == 1)
        #expect(difference.tensor == "model.layers.0.block_sparse_moe.gate.weight" && difference.rows == [3])
    }

    @Test func aRemovedExpertIsNamed() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let pruned = try fixture.tamperedCopy(of: fixture.locked, name: "pruned") { model in
            try model.keepingExperts([[0, 2, 3], [0, 1, 3]])
        }
        let report = try fixture.verify(pruned)
        #expect(!report.valid)
        let removed = report.differences.filter { $0.kind == .expertRemoved }.map { [$0.layer!, $0.expert!] }
        #expect(removed == [[0, 1], [1, 2]], "\(report.differences.map(\.detail))")
        let moved = report.differences.filter { $0.kind == .expertMoved }.map { [$0.layer!, $0.expert!, $0.position!] }
        #expect(moved == [[0, 2, 1], [0, 3, 2], [1, 3, 2]])
        let routers = report.differences.filter { $0.tensor?.hasSuffix(".gate.weight") == true }
        #expect(routers.map(\.kind) == [.shapeChanged, .shapeChanged])
        #expect(routers.map(\.rows) == [[1, 2, 3], [2, 3]])
        #expect(report.differences.contains { $0.kind == .configChanged })
        #expect(report.differences.contains { $0.kind == .missing && $0.layer == 0 && $0.expert == 3 })
    }

    @Test func pruningByMaskingIsNamed() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let masked = fixture.root.appendingPathComponent("masked")
        try FileManager.default.copyItem(at: fixture.locked, to: masked)
        try ExpertMaskFile.write(kept: [[0, 1, 3], [0, 1, 2, 3]], to: masked)
        let report = try fixture.verify(masked)
        #expect(!report.valid)
        #expect(report.differences.map(\.kind) == [.expertMasked])
        #expect(report.differences.first?.layer == 0 && report.differences.first?.expert == 2)
    }

    /// The tokenizer is part of the lock: the same tensors under a vocabulary with two ids swapped
    /// are another model. A manifest without a tokenizer hash (older, or a folder with none)
    /// leaves it unchecked.
    @Test func aSwappedTokenizerIsNamed() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let original = root.appendingPathComponent("original")
        try TrainingFixtures.microModel(vocab: LockedFixture.vocab, seed: 7).save(to: original)
        let vocabulary = (0..<LockedFixture.vocab).map { "\"w\($0)\": \($0)" }.joined(separator: ", ")
        try Data("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\(vocabulary)}}}".utf8)
            .write(to: original.appendingPathComponent("tokenizer.json"))
        let keyURL = root.appendingPathComponent("owner.key")
        try SigningKey.generate(to: keyURL)
        let key = try SigningKey.readPrivateKey(keyURL)
        let locked = root.appendingPathComponent("locked")
        try SelectiveRealignment.lock(model: original, key: key, output: locked)
        func verify() throws -> LogVerification {
            try LogVerifier.verify(
                model: locked, manifest: try ModelManifest.read(locked.appendingPathComponent(ModelManifest.fileName)),
                log: try UpdateLog.read(directory: locked), publicKey: key.publicKey)
        }
        #expect(try verify().valid)
        let swapped = vocabulary.replacingOccurrences(of: "\"w1\": 1,", with: "\"w1\": 2,")
            .replacingOccurrences(of: "\"w2\": 2,", with: "\"w2\": 1,")
        try Data("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\(swapped)}}}".utf8)
            .write(to: locked.appendingPathComponent("tokenizer.json"))
        let report = try verify()
        #expect(!report.valid && report.differences.map(\.kind) == [.tokenizerChanged], "\(report.differences)")
    }

    @Test func honestLoRARunsVerifyAdapterAndMerged() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let adapter = try fixture.ownerRun(from: fixture.locked, to: "adapter", merge: false)
        let first = try fixture.verify(adapter)
        #expect(first.valid, "\(first)")
        let log = try UpdateLog.read(directory: adapter)
        #expect(log.entries.count == 1 && log.entries[0].update == "adapter")
        #expect(log.entries[0].tensors.allSatisfy { $0.role.isAdapter } && !log.entries[0].tensors.isEmpty)
        #expect(log.entries[0].dataSHA256 == UpdateLog.dataHash(LockedFixture.examples))

        let merged = try fixture.ownerRun(from: fixture.locked, to: "merged", merge: true)
        let second = try fixture.ownerRun(from: merged, to: "merged2", merge: true)
        let report = try fixture.verify(second)
        #expect(report.valid && report.entries == 2, "\(report)")
        let entries = try UpdateLog.read(directory: second).entries
        #expect(entries.map(\.update) == ["merged", "merged"] && entries[1].previous == entries[0].digest)
        // The merged weights are attention and expert projections only.
        #expect(entries[0].tensors.allSatisfy { $0.role.isLoRATarget })
        // The older checkpoint does not verify against the newer log, and vice versa.
        #expect(!(try fixture.verify(merged, log: UpdateLog(entries: entries))).valid)
    }

    @Test func reorderedDeletedAndEditedEntriesBreakTheChain() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let merged = try fixture.ownerRun(from: fixture.locked, to: "merged", merge: true)
        let second = try fixture.ownerRun(from: merged, to: "merged2", merge: false)
        let entries = try UpdateLog.read(directory: second).entries
        #expect(try fixture.verify(second).valid)

        let reordered = try fixture.verify(second, log: UpdateLog(entries: entries.reversed()))
        #expect(!reordered.valid && !reordered.chainValid)
        #expect(reordered.problems.contains { $0.kind == .entryIndex && $0.entry == 0 })
        #expect(reordered.problems.contains { $0.kind == .brokenChain })

        let deleted = try fixture.verify(second, log: UpdateLog(entries: [entries[1]]))
        #expect(!deleted.valid && deleted.problems.contains { $0.kind == .brokenChain && $0.entry == 0 })

        var edited = entries
        edited[0].lastStep += 1
        let report = try fixture.verify(second, log: UpdateLog(entries: edited))
        #expect(report.problems.map(\.kind).contains(.entrySignature))
        #expect(report.problems.contains { $0.kind == .brokenChain && $0.entry == 1 })

        // A cut after the last entry leaves the adapters unaccounted for.
        let truncated = try fixture.verify(second, log: UpdateLog(entries: [entries[0]]))
        #expect(!truncated.valid && truncated.differences.allSatisfy { $0.kind == .unexpected })

        // A malformed line is reported with its line number.
        let url = fixture.root.appendingPathComponent("broken.jsonl")
        try Data("{\"index\": 0}\n".utf8).write(to: url)
        let broken = try UpdateLog.read(url)
        #expect(broken.unreadable.map(\.line) == [1])
        #expect(try fixture.verify(fixture.locked, log: broken).problems.map(\.kind) == [.unreadableEntry])
    }

    @Test func aLogSignedByAnotherKeyIsRejected() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let merged = try fixture.ownerRun(from: fixture.locked, to: "merged", merge: true)
        // The verifier holds the owner's public key; a stranger re-signs the entry with theirs.
        let stranger = Curve25519.Signing.PrivateKey()
        var entries = try UpdateLog.read(directory: merged).entries
        try entries[0].sign(with: stranger)
        let report = try fixture.verify(merged, log: UpdateLog(entries: entries))
        #expect(!report.valid && report.problems.map(\.kind) == [.entrySignature])
        // A verifier given the wrong public key rejects the manifest and every entry.
        let wrongKey = try fixture.verify(merged, publicKey: stranger.publicKey)
        #expect(!wrongKey.valid && !wrongKey.manifestSignatureValid)
        #expect(wrongKey.problems.map(\.kind) == [.manifestSignature, .entrySignature])
    }
}
