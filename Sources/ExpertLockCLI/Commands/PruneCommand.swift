import ArgumentParser
import ExpertLock
import Foundation
import MoEModels
import TensorCore

/// `expertlock prune`: apply a pruning rule and write the smaller checkpoint.
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract:
            "Keep the top-k experts (per layer or global), those above a threshold, or drop a list; write the result.",
        discussion: """
            --mode remove slices expert tensors and router rows and rewrites config.json: with the same number of \
            experts in every layer the result loads in Hugging Face transformers. --mode mask keeps the weights and \
            writes expertlock_mask.json, which ExpertLock's routers obey (transformers ignores it).
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var attributionFile: AttributionFileOption
    @Option(
        parsing: .unconditional, help: "Keep K experts per layer (or K × layers with --scope global).",
        transform: OptionRange.int(atLeast: 1))
    var keep: Int?
    @Option(
        parsing: .unconditional, help: "Keep experts whose per-layer share A_i ≥ T (0 ≤ T ≤ 1).",
        transform: OptionRange.double(0...1, why: " (A_i is a share of the layer's routing, which sums to 1)"))
    var threshold: Double?
    @Option(help: "Drop these experts in every layer, e.g. \"0,3\".", transform: CommaList<Int>.parse)
    var drop: CommaList<Int>?
    @Option(
        help: """
            A pruning plan JSON file: {"kept": [[experts] per sparse layer], "original_counts": [experts per sparse \
            layer], "rule": "any text"} (prune writes one as pruning_plan.json).
            """)
    var plan: String?
    @Option(help: "layer or global.") var scope: PruningPlan.Scope = .layer
    @OptionGroup var criterionOption: CriterionOption
    @Flag(help: "Keep --keep experts per layer chosen at random (baseline).") var random = false
    @OptionGroup var seedOption: SeedOption
    @Option(help: "remove or mask.") var mode: PruneMode = .remove
    @OptionGroup var outputFolder: OutputFolderOptions
    @OptionGroup var compression: CompressionOptions
    @OptionGroup var output: OutputOptions

    enum PruneMode: String, ExpressibleByArgument, CaseIterable { case remove, mask }

    var out: String { outputFolder.out }
    var attribution: String? { attributionFile.attribution }
    var criterion: AttributionCriterion? { criterionOption.criterion }
    var seed: UInt64 { seedOption.seed }
    var overwrite: Bool { outputFolder.overwrite }

    func run() async throws {
        try await runReportingErrors(output: out) {
            if let attack = try compression.attack(keep: keep) {
                try runCompression(attack)
                return
            }
            if SwitchTransformersModel.isSwitchCheckpoint(modelOptions.url) { return try runEncoderDecoder() }
            let model = try modelOptions.load()
            let identity = ModelFolderIdentity.fingerprint(of: modelOptions.url)
            let pruningPlan = try makePlan(model: model, identity: identity)
            let source = modelOptions.url
            let bytesPerParameter = try Self.bytesPerParameter(source)
            let before = ModelSize(model: model, bytesPerParameter: bytesPerParameter)
            // A saved LoRA adapter is part of the model: the pruned checkpoint carries it merged.
            if !model.loraAdapters.isEmpty { try model.mergeLoRA() }
            // Masking keeps every weight: only removal has to rebuild (and may refuse uneven routing groups).
            let pruned = mode == .remove ? try model.keepingExperts(pruningPlan.kept) : model
            let after = mode == .remove ? ModelSize(model: pruned, bytesPerParameter: bytesPerParameter) : before
            try write(model: model, pruned: pruned, plan: pruningPlan, identity: identity)
            let notes = mode == .remove ? model.notes + pruned.notes : model.notes
            try printResult(
                plan: pruningPlan, signature: ModelSignature(model: model), sizes: (before, after), notes: notes)
        }
    }

    /// The plan of the one rule given (--keep, --threshold, --drop, --plan or --random), checked
    /// against the model and its mask.
    func makePlan(model: MoEModel, identity: String) throws -> PruningPlan {
        let signature = ModelSignature(model: model)
        let counts = signature.expertsPerLayer
        let k = 1  // a layer may keep fewer experts than top-k: it then routes to all it has
        let rules = [keep != nil && !random, threshold != nil, drop != nil, plan != nil, random].filter { $0 }.count
        guard rules == 1 else {
            throw ArgumentInputError(
                "choose exactly one of --keep, --threshold, --drop, --plan, --random (with --keep)")
        }
        if scope == .global && (keep == nil || random) {
            // Only ranked top-k has a global form (a budget of K × layers over the pooled
            // ranking); a threshold is on each layer's share, and the other rules name experts.
            throw ArgumentInputError(
                "--scope global goes with --keep K ranked by an attribution (thresholds are on each layer's share; "
                    + "--drop, --plan and --random name experts per layer)")
        }
        let pruningPlan: PruningPlan
        if random {
            guard let keep else { throw ArgumentInputError("--random needs --keep K") }
            pruningPlan = try PruningPlan.random(expertsPerLayer: counts, k: keep, seed: seed, minimumPerLayer: k)
        } else if let keep {
            let a = try loadAttribution(model: model, identity: identity)
            pruningPlan = try PruningPlan.topK(
                a, k: keep, scope: scope, criterion: criterion ?? a.criterion, minimumPerLayer: k)
        } else if let threshold {
            let a = try loadAttribution(model: model, identity: identity)
            pruningPlan = try PruningPlan.threshold(
                a, tau: threshold, criterion: criterion ?? a.criterion, minimumPerLayer: k)
        } else if let drop {
            pruningPlan = try PruningPlan.drop(drop.items, expertsPerLayer: counts, minimumPerLayer: k)
        } else {
            let file = plan ?? ""
            pruningPlan = try PruningPlan.read(from: URL(fileURLWithPath: file))
            try ModelIdentityCheck.check(
                "the pruning plan", file: file, recorded: pruningPlan.modelFingerprint, model: modelOptions.url,
                identity: identity)
        }
        try pruningPlan.validate(for: signature, minimumPerLayer: k)
        // A mask-pruned model's masked experts are gone as far as its owner is concerned: a
        // plan may narrow the mask, never bring one of them back.
        for (l, keepMask) in (model.expertMask ?? []).enumerated() {
            let revived = pruningPlan.kept[l].filter { !keepMask[$0] }
            if !revived.isEmpty {
                throw ArgumentInputError(
                    "\(modelOptions.model): is mask-pruned (\(ExpertMaskFile.fileName)) and the plan keeps masked "
                        + "experts \(revived) of sparse "
                        + "layer \(l); rank with an attribution of this model, or prune the original"
                )
            }
        }
        return pruningPlan
    }

    /// --attribution, checked to be of this model and to hold the scores of the criterion ranked by
    /// (--criterion, else the one the file was written with).
    func loadAttribution(model: MoEModel, identity: String) throws -> ExpertAttribution {
        guard let attribution else { throw ArgumentInputError("--keep and --threshold need --attribution FILE") }
        let a = try ExpertAttribution.read(from: URL(fileURLWithPath: attribution))
        try a.checkBelongs(to: model, directory: modelOptions.url, file: attribution, identity: identity)
        let ranked = criterion ?? a.criterion
        if ranked == .ablation && a.ablation == nil {
            throw ArgumentInputError(
                "\(attribution): holds no ablation scores (write them with attribute --criterion ablation)")
        }
        // Routing traces support only some criteria (docs/TRACES.md); the others' sums are empty.
        if let source = a.source, !source.criteria.contains(ranked) {
            let kinds = source.kinds.joined(separator: ", ")
            let supported = source.criteria.map(\.rawValue).joined(separator: ", ")
            throw ArgumentInputError(
                "\(attribution): made from routing traces (\(kinds)), it supports --criterion \(supported), "
                    + "not \(ranked.rawValue)")
        }
        return a
    }

    /// The pruned checkpoint (or the masked one), its companion files and the plan, written at once.
    func write(model: MoEModel, pruned: MoEModel, plan pruningPlan: PruningPlan, identity: String) throws {
        let source = modelOptions.url
        let dtype = try Self.storedDType(source)
        try OutputDirectory.write(
            to: URL(fileURLWithPath: out), overwrite: overwrite,
            inputs: [source] + [attribution, plan].compactMap { $0 }.map { URL(fileURLWithPath: $0) }
        ) { tmp in
            switch mode {
            case .remove:
                try pruned.save(
                    to: tmp, dtype: dtype, configSource: source.appendingPathComponent("config.json"),
                    keepStoredDTypes: true)
            case .mask:
                try model.save(
                    to: tmp, dtype: dtype, configSource: source.appendingPathComponent("config.json"),
                    keepStoredDTypes: true)
                try ExpertMaskFile.write(kept: pruningPlan.kept, to: tmp)
            }
            try OutputDirectory.copyCompanionFiles(from: source, to: tmp)
            var recorded = pruningPlan
            recorded.modelFingerprint = identity  // the plan is of the input model, not of the output
            let planData = try JSONFileStyle.encoder().encode(recorded)
            try AtomicFile.write(planData, to: tmp.appendingPathComponent("pruning_plan.json"))
        }
    }

    func printResult(
        plan pruningPlan: PruningPlan, signature: ModelSignature, sizes: (before: ModelSize, after: ModelSize),
        notes: [String]
    ) throws {
        let (before, after) = sizes
        let loadable = mode == .remove && pruningPlan.isUniform
        if mode == .remove && !pruningPlan.isUniform {
            // Said on stderr whatever the output format: the result is not what most users expect.
            Console.progress(
                "warning: \(out): layers keep different numbers of experts (\(pruningPlan.kept.map(\.count))); "
                    + "ExpertLock loads it, Hugging Face transformers cannot (one num_local_experts for all "
                    + "layers). "
                    + "Use --scope layer, or --mode mask, for a checkpoint transformers loads")
        }
        if output.json {
            return try Console.printJSON(
                [
                    "kept": pruningPlan.kept, "rule": pruningPlan.rule, "mode": mode.rawValue, "out": out,
                    "parameters_before": before.parameters, "parameters_after": after.parameters,
                    "bytes_before": before.bytes, "bytes_after": after.bytes,
                    "active_parameters_per_token_before": before.activeParametersPerToken,
                    "active_parameters_per_token_after": after.activeParametersPerToken,
                    "loadable_by_transformers": loadable, "notes": notes,
                ] as [String: Any])
        }
        var summary = HumanSummary("prune: \(pruningPlan.rule)")
        for (l, kept) in pruningPlan.kept.enumerated() {
            summary.add(
                "layer \(signature.sparseLayers[l])", "kept \(kept.count) of \(signature.expertsPerLayer[l]): \(kept)")
        }
        func change(_ a: String, _ b: String) -> String { "\(a) → \(b)" }
        summary.add("parameters", change(HumanSummary.count(before.parameters), HumanSummary.count(after.parameters)))
        summary.add("bytes", change(HumanSummary.megabytes(before.bytes), HumanSummary.megabytes(after.bytes)))
        summary.add(
            "active per token",
            change(
                HumanSummary.count(before.activeParametersPerToken), HumanSummary.count(after.activeParametersPerToken))
        )
        summary.add("loadable by transformers", loadable ? "yes" : "no")
        for note in notes { summary.note(note) }
        summary.note("wrote \(out)")
        print(summary.render(), terminator: "")
    }

    /// The dtype most of the checkpoint is stored in (the pruned copy keeps it).
    static func storedDType(_ directory: URL) throws -> DType {
        let checkpoint = try SafeTensorsCheckpoint(directory: directory)
        var bytes: [DType: Int] = [:]
        for name in checkpoint.tensorNames {
            if let info = checkpoint.info(name), info.dtype.isConvertibleToFloat {
                bytes[info.dtype, default: 0] += info.byteCount
            }
        }
        return bytes.max { $0.value < $1.value }?.key ?? .f32
    }

    static func bytesPerParameter(_ directory: URL) throws -> Int { try storedDType(directory).byteSize }
}

extension PruningPlan.Scope: ExpressibleByArgument {}
