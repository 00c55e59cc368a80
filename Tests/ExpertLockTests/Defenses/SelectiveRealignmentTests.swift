import Foundation
import MoEModels
import TensorCore
import Testing

@testable import ExpertLock

/// The training policy of a locked model: LoRA only, the owner's key, a verified input.
struct SelectiveRealignmentTests {
    @Test func policyRefusesOtherModesMissingKeysAndUnlockedModels() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let keyURL = fixture.root.appendingPathComponent("owner.key")
        let original = fixture.root.appendingPathComponent("original")
        for subset in [TrainableSubset.all, .experts, .expertsAndRouter] {
            #expect(throws: DefenseError.self) {
                try SelectiveRealignment.begin(model: fixture.locked, keyFile: keyURL, trainable: subset)
            }
        }
        #expect(throws: DefenseError.self) {
            try SelectiveRealignment.begin(model: fixture.locked, keyFile: nil, trainable: .lora)
        }
        #expect(throws: DefenseError.notLocked(directory: original.path)) {
            try SelectiveRealignment.begin(model: original, keyFile: keyURL, trainable: .lora)
        }
        #expect(try SelectiveRealignment.begin(model: original, keyFile: nil, trainable: .all) == nil)
        #expect(try SelectiveRealignment.begin(model: fixture.locked, keyFile: keyURL, trainable: .lora) != nil)
    }

    @Test func aTamperedInputCannotBeSignedOver() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let tampered = try fixture.tamperedCopy(of: fixture.locked, name: "tampered") { model in
            let p = model.moeBlocks[0].experts[1].down
            p.assign(try p.tensor().scaled(by: 1.01))
            return model
        }
        #expect(throws: DefenseError.self) { try SelectiveRealignment.begin(model: tampered, key: fixture.key) }
    }

    @Test func aChangeLoRACannotMakeIsRefused() throws {
        let fixture = try LockedFixture()
        defer { fixture.remove() }
        let session = try SelectiveRealignment.begin(model: fixture.locked, key: fixture.key)
        // The "run" changed a router: not a LoRA target.
        let output = try fixture.tamperedCopy(of: fixture.locked, name: "out") { model in
            let router = model.moeBlocks[1].router
            router.assign(try router.tensor().scaled(by: 0.5))
            return model
        }
        #expect(throws: DefenseError.self) {
            try session.finish(output: output, examples: LockedFixture.examples, steps: 1)
        }
    }
}
