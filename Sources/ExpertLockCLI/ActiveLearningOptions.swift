import ArgumentParser
import ExpertLock

/// A command's defaults for its fine-tuning options: train runs long from scratch, realign and audit briefly
/// in each round.
protocol FineTuningDefaults {
    static var steps: Int { get }
    static var lr: Float { get }
    static var seq: Int { get }
    static var trainable: TrainableSubset { get }
}

/// How long and how fast a command fine-tunes, declared once for train, realign and audit.
struct FineTuningOptions<Defaults: FineTuningDefaults>: ParsableArguments {
    @Option(
        parsing: .unconditional, help: "Optimizer steps (audit, realign: per round).",
        transform: OptionRange.int(atLeast: 1))
    var steps = Defaults.steps
    @Option(help: "AdamW learning rate: the peak of train's warm-up and cosine, and of realign's --schedule restart.")
    var lr = Defaults.lr
    @OptionGroup var sequenceLength: SequenceLengthOption

    var seq: Int { sequenceLength.seq ?? Defaults.seq }
}

/// What trains and the AdamW and router-loss settings, declared once for train and realign.
struct OptimizerOptions<Defaults: FineTuningDefaults>: ParsableArguments {
    @Option(help: "What trains: experts, experts+router, all or lora (default: train all, realign experts).")
    var trainable = Defaults.trainable
    @Option(help: "AdamW weight decay (matrices only).") var weightDecay: Float = 0.01
    @Option(help: "Load-balancing loss coefficient (default: the config's router_aux_loss_coef; 0: off).")
    var auxCoef: Float?
}

/// A command's defaults for the re-alignment attacker's options: an audit is a quick study over several strategies
/// and seeds, `realign` one careful run, so their budgets and fine-tuning differ.
protocol ActiveLearningDefaults: FineTuningDefaults {
    static var budget: Int { get }
    static var batch: Int { get }
    static var seeds: Int { get }
    static var strategies: [QueryStrategy] { get }
}

/// The re-alignment attacker's options, declared once for `audit` and `realign`: the held-out data, the label
/// budget and its rounds, the strategies, and the fine-tuning in each round. Each command gives its defaults.
struct ActiveLearningOptions<Defaults: ActiveLearningDefaults>: ParsableArguments {
    @OptionGroup var heldOut: EvalDataOption
    @Option(
        parsing: .unconditional, help: "Use only the first N pool rows (default: all).",
        transform: OptionRange.int(atLeast: 1))
    var poolLimit: Int?
    @Option(
        parsing: .unconditional, help: "Use only the first N held-out rows (documents for perplexity; default: all).",
        transform: OptionRange.int(atLeast: 1))
    var evalLimit: Int?
    @Option(
        parsing: .unconditional, help: "Labels in all (B), the initial set included.",
        transform: OptionRange.int(atLeast: 1))
    var budget = Defaults.budget
    @Option(parsing: .unconditional, help: "Labels per round (b).", transform: OptionRange.int(atLeast: 1))
    var batch = Defaults.batch
    @Option(
        parsing: .unconditional,
        help: """
            Random labels before the first query, the same for every strategy (n0; 0: none, the strategy picks \
            from the start; audit: default 16, realign: default --batch).
            """,
        transform: OptionRange.int(atLeast: 0))
    var initial: Int?
    @Option(
        help: """
            Query strategies, comma-separated: random, entropy, margin, least-confidence, nll, coreset or badge \
            (audit: random, the baseline, must be one).
            """,
        transform: CommaList<QueryStrategy>.parse)
    var strategy = CommaList<QueryStrategy>(Defaults.strategies)
    @Option(help: "Score a seeded random subset of N unlabeled examples per round (default: the whole pool).")
    var candidates: Int?
    @OptionGroup var fineTuning: FineTuningOptions<Defaults>
    @Option(
        help: """
            Fine-tuning schedule: gated (weights carry over; a round's update is kept only if the metric on the \
            held-out split does not get worse), continued (carry over, no gate) or restart (from the pruned \
            weights, cosine).
            """)
    var schedule: FineTuningSchedule = .gated
    @Option(
        parsing: .unconditional,
        help: """
            Pool examples held out for --schedule gated: labeled once on top of the budget, the same for every \
            strategy of a seed, never selected or trained on (default \
            \(ActiveLearningLoop.Parameters.defaultValidationSize)).
            """,
        transform: OptionRange.int(atLeast: 1))
    var validation: Int?
    @Option(
        parsing: .unconditional, help: "Re-alignment runs per strategy (realign: seeds --seed, --seed + 1, …).",
        transform: OptionRange.int(atLeast: 1))
    var seeds = Defaults.seeds
    @Option(
        parsing: .unconditional, help: "Bootstrap resamples of the report's intervals.",
        transform: OptionRange.int(atLeast: 10))
    var resamples = 1000

    func validate() throws {
        if heldOut.evalData == nil { throw ValidationError("Missing expected argument '--eval-data <eval-data>'") }
        if validation != nil && schedule != .gated {
            throw ValidationError("--validation applies to --schedule gated only (got --schedule \(schedule.rawValue))")
        }
    }

    /// --eval-data (required here: `validate()` refuses a run without it).
    var evalData: String { heldOut.evalData ?? "" }
}

/// A command built on `ActiveLearningOptions` (audit, realign): the options read by their field names, declared here
/// once instead of as forwarding properties in each command.
protocol ActiveLearningCommand {
    associatedtype Defaults: ActiveLearningDefaults
    var activeLearning: ActiveLearningOptions<Defaults> { get }
}

extension ActiveLearningCommand {
    var evalData: String { activeLearning.evalData }
    var poolLimit: Int? { activeLearning.poolLimit }
    var evalLimit: Int? { activeLearning.evalLimit }
    var strategy: CommaList<QueryStrategy> { activeLearning.strategy }
    var seeds: Int { activeLearning.seeds }
    var budget: Int { activeLearning.budget }
    var batch: Int { activeLearning.batch }
    var candidates: Int? { activeLearning.candidates }
    var steps: Int { activeLearning.fineTuning.steps }
    var lr: Float { activeLearning.fineTuning.lr }
    var schedule: FineTuningSchedule { activeLearning.schedule }
    var validation: Int? { activeLearning.validation }
    var seq: Int { activeLearning.fineTuning.seq }
    var resamples: Int { activeLearning.resamples }
}
