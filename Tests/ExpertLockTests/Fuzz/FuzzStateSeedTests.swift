import Foundation
import MoEModels
import Testing

@testable import ExpertLock

/// The seeds of the fuzz targets for files ExpertLock writes itself (made by
/// scripts/fixtures/make_fuzz_state_seeds.sh) must stay valid, or the fuzzer's mutations of them
/// stop at the first check: the manifest and log verify against the fixture with the fuzz key.
struct FuzzStateSeedTests {
    static func seeds(_ target: String) -> [String] { FuzzCorpusTests.seeds(target) }
    static func data(_ seed: String) throws -> Data { try FuzzCorpusTests.data(seed) }
    static let publicKeyURL = FuzzCorpusTests.corpus.appendingPathComponent("signing-key/fuzz-key.pub")

    @Test func everyTargetHasSeeds() {
        for target in [
            "manifest", "update-log", "signing-key", "typed-key", "prompt-template", "trainer-state", "realign-state",
            "lora-config",
            "mask", "attribute-state", "sweep-state",
        ] {
            #expect(!Self.seeds(target).isEmpty, "\(target)")
        }
    }

    @Test func manifestAndLogSeedsVerifyAgainstTheFixture() throws {
        let key = try SigningKey.readPublicKey(Self.publicKeyURL)
        let manifest = try ModelManifest.read(
            FuzzCorpusTests.corpus.appendingPathComponent("manifest/expertlock_manifest.json"))
        let model = Fixtures.model("qwen2_moe_bf16_norm_tied")
        let report = try LogVerifier.verify(model: model, manifest: manifest, log: UpdateLog(), publicKey: key)
        #expect(report.valid, "\(report.problems) \(report.differences)")
        let log = try UpdateLog.read(FuzzCorpusTests.corpus.appendingPathComponent("update-log/one-entry.jsonl"))
        #expect(log.entries.count == 1 && log.unreadable.isEmpty)
        // The entry links to the manifest and is signed by the key (the tensors it adds are elsewhere).
        let withLog = try LogVerifier.verify(model: model, manifest: manifest, log: log, publicKey: key)
        #expect(withLog.chainValid)
    }

    @Test func keySeedsRead() throws {
        _ = try SigningKey.readPrivateKey(FuzzCorpusTests.corpus.appendingPathComponent("signing-key/fuzz-key"))
        for name in ["fuzz-key.pub", "raw-public-32-bytes"] {
            _ = try SigningKey.readPublicKey(FuzzCorpusTests.corpus.appendingPathComponent("signing-key/\(name)"))
        }
    }

    /// The typed seeds read as their kind and are refused as the other (issue 23, item 5).
    @Test func typedKeySeedsReadAsTheirKind() throws {
        func url(_ name: String) -> URL { FuzzCorpusTests.corpus.appendingPathComponent("typed-key/\(name)") }
        _ = try SigningKey.readPrivateKey(url("private"))
        #expect(throws: DefenseError.self) { try SigningKey.readPublicKey(url("private")) }
        for name in ["public", "public-crlf"] {
            _ = try SigningKey.readPublicKey(url(name))
            #expect(throws: DefenseError.self) { try SigningKey.readPrivateKey(url(name)) }
        }
        _ = try SigningKey.readPrivateKey(url("legacy-private"))
        _ = try SigningKey.readPublicKey(url("legacy-raw-public"))
        #expect(throws: DefenseError.self) { try SigningKey.readPublicKey(url("unknown-kind")) }
    }

    @Test(arguments: seeds("prompt-template"))
    func promptTemplateSeedLoads(_ seed: String) throws {
        _ = try PromptTemplate.load(from: FuzzCorpusTests.corpus.appendingPathComponent(seed))
    }

    @Test func stateSeedsRead() throws {
        let trainer = FuzzCorpusTests.corpus.appendingPathComponent("trainer-state")
        #expect(try TrainingCheckpoint.readState(trainer).globalStep == 2)
        let attribute = try AttributionResumeState.decode(Self.data("attribute-state/partial.state"), file: "seed")
        #expect(attribute.batchesDone > 0 && attribute.batchesDone < attribute.totalBatches)
        let sweep = try SweepResumeState.decode(Self.data("sweep-state/partial.sweep-state"), file: "seed")
        #expect(sweep.progress.full != nil && !sweep.progress.points.isEmpty)
        let realign = try Self.data("realign-state/state.json")
        let root = try #require(try JSONSerialization.jsonObject(with: realign) as? [String: Any])
        let parameters = try JSONDecoder().decode(
            ActiveLearningLoop.Parameters.self,
            from: JSONSerialization.data(withJSONObject: try #require(root["parameters"] as? [String: Any])))
        try ActiveLearningCheckpoint.checkStateFile(
            realign, file: "seed", parameters: parameters, fingerprint: try #require(root["fingerprint"] as? String),
            poolSize: 48)
    }

    @Test func maskAndLoRASeedsLoadOnTheFixture() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-seeds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(
                at: Fixtures.model("qwen2_moe_bf16_norm_tied").appendingPathComponent(name),
                to: dir.appendingPathComponent(name))
        }
        for seed in Self.seeds("mask") {
            try Self.data(seed).write(to: dir.appendingPathComponent(ExpertMaskFile.fileName))
            _ = try ModelLoader.load(directory: dir)
        }
        try? FileManager.default.removeItem(at: dir.appendingPathComponent(ExpertMaskFile.fileName))
        let model = try ModelLoader.load(directory: dir, residency: .resident)
        let targets = model.parameters.filter {
            $0.shape.count == 2 && ($0.name.contains("proj") || $0.name.contains("experts"))
        }
        model.attachLoRA(to: targets, rank: 2, alpha: 4, seed: 1)
        let adapter = dir.appendingPathComponent("adapter")
        try model.saveLoRA(to: adapter)
        for seed in Self.seeds("lora-config") {
            try Self.data(seed).write(to: adapter.appendingPathComponent(MoEModel.adapterConfigFileName))
            try model.loadLoRA(from: adapter)
        }
    }
}
