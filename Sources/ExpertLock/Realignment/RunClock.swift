import Foundation

/// Elapsed time of an active-learning run and its estimate of the time left, from the mean
/// duration of each kind of work seen so far in this invocation (scoring the pool, a training step,
/// an evaluation) times the work left.
struct RunClock {
    enum Work: Hashable { case scoring, training, evaluation }

    let rounds: Int
    let stepsPerRound: Int
    private let start = ContinuousClock.now
    private var seconds: [Work: Double] = [:]
    private var counts: [Work: Int] = [:]

    init(rounds: Int, stepsPerRound: Int) {
        self.rounds = rounds
        self.stepsPerRound = stepsPerRound
    }

    var elapsed: Double { Training.seconds(since: start) }

    /// Runs `body`, adding its duration to `work`'s account.
    mutating func measure<T>(_ work: Work, _ body: () throws -> T) rethrows -> T {
        let begin = ContinuousClock.now
        let value = try body()
        seconds[work, default: 0] += Training.seconds(since: begin)
        counts[work, default: 0] += 1
        return value
    }

    /// Seconds left when `step` steps of round `round` are done (0 for work of a kind not seen yet).
    func remaining(round: Int, step: Int) -> Double {
        func mean(_ work: Work) -> Double { counts[work].map { seconds[work, default: 0] / Double($0) } ?? 0 }
        let roundsLeft = max(0, rounds - round)
        let steps = max(0, roundsLeft * stepsPerRound - step)
        let scorings = max(0, roundsLeft - (step > 0 ? 1 : 0))
        return Double(steps) * mean(.training) + Double(scorings) * mean(.scoring)
            + Double(roundsLeft) * mean(.evaluation)
    }
}
