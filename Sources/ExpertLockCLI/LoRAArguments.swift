import ArgumentParser
import ExpertLock

/// The LoRA options of the commands that fine-tune (`train`, `realign`), declared once.
struct LoRAArguments: ParsableArguments {
    @Option(help: "LoRA rank.") var loraRank = 8
    @Option(help: "LoRA alpha (scale alpha/rank).") var loraAlpha: Float = 16
    @Option(help: "LoRA targets: attention, experts or both, comma-separated.") var loraTargets = "attention,experts"

    /// The library's LoRA settings; `merge` folds the adapters into the weights when saving.
    func options(merge: Bool = false) throws -> LoRAOptions {
        let targets = try loraTargets.split(separator: ",").map { part in
            let name = part.trimmingCharacters(in: .whitespaces)
            guard let target = LoRATarget(rawValue: name) else {
                throw ArgumentInputError("--lora-targets: '\(name)' is not one of attention, experts")
            }
            return target
        }
        return LoRAOptions(rank: loraRank, alpha: loraAlpha, targets: targets, merge: merge)
    }
}
