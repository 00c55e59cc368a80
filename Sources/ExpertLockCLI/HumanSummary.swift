import Foundation

/// The human-readable summary every command prints on stdout without `--json`: a title line, then
/// one aligned `label  value` line per figure, in the order the command adds them (never a
/// dictionary's order, which changes between runs), with numbers rounded for reading and units
/// spelled out. `--json` prints the same figures unrounded; this is for people.
struct HumanSummary {
    let title: String
    private(set) var rows: [(label: String, value: String)] = []
    private(set) var notes: [String] = []

    init(_ title: String) { self.title = title }

    mutating func add(_ label: String, _ value: String) { rows.append((label, value)) }

    /// A line after the figures (a caveat, where the files are).
    mutating func note(_ text: String) { notes.append(text) }

    func render() -> String {
        let width = rows.map(\.label.count).max() ?? 0
        var text = title + "\n"
        for row in rows {
            text += "  " + row.label + String(repeating: " ", count: width - row.label.count) + "  " + row.value + "\n"
        }
        for note in notes { text += note + "\n" }
        return text
    }

    /// A metric: 4 significant decimals below 100, one decimal above (perplexities, ROUGE ×100).
    static func number(_ x: Double) -> String {
        guard x.isFinite else { return "\(x)" }
        return abs(x) >= 100 ? String(format: "%.1f", x) : String(format: "%.4f", x)
    }

    /// 1234567 → "1,234,567".
    static func count<T: BinaryInteger>(_ n: T) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func seconds(_ s: Double) -> String {
        s >= 60 ? ProgressLine.duration(s) : String(format: "%.1f s", s)
    }

    /// Bytes in the largest unit that keeps one digit before the point (binary units: 1 MB = 2^20 bytes).
    static func megabytes(_ bytes: Int) -> String {
        let b = Double(bytes)
        if b >= 1_073_741_824 { return String(format: "%.1f GB", b / 1_073_741_824) }
        if b >= 1_048_576 { return String(format: "%.1f MB", b / 1_048_576) }
        return String(format: "%.1f KB", b / 1024)
    }
}

extension EvalCommand {
    /// `eval`'s summary: the metric first, then what it was measured on and what it cost.
    static func summary(_ result: [String: Any], task: Task, model: String, data: String) -> HumanSummary {
        func double(_ key: String) -> Double? { (result[key] as? NSNumber)?.doubleValue }
        func int(_ key: String) -> Int? { (result[key] as? NSNumber)?.intValue }
        var summary = HumanSummary("eval \(task.rawValue): \(model) on \(data)")
        switch task {
        case .perplexity:
            if let p = double("perplexity") { summary.add("perplexity", number(p)) }
            if let nll = double("nll") { summary.add("mean NLL", "\(number(nll)) nats per token") }
            if let tokens = int("tokens") { summary.add("scored tokens", count(tokens)) }
        case .classify:
            if let a = double("accuracy") {
                let labeled =
                    int("labeled").map { n in
                        " (\(count(Int((a * Double(n)).rounded()))) of \(count(n)) labelled)"
                    } ?? ""
                summary.add("accuracy", number(a) + labeled)
            }
            if let task = result["task"] as? String { summary.add("task", task) }
            if let n = int("examples") { summary.add("examples", count(n)) }
        case .summarize:
            for key in ["rouge1", "rouge2", "rougeL"] {
                if let r = double(key) {
                    summary.add(key.replacingOccurrences(of: "rouge", with: "ROUGE-") + " F", number(r))
                }
            }
            if let n = int("examples") { summary.add("examples", count(n)) }
        }
        if let rate = double("tokens_per_s") { summary.add("speed", "\(count(Int(rate.rounded()))) tokens/s") }
        if let s = double("seconds") { summary.add("time", seconds(s)) }
        if let rss = int("peak_rss_bytes") { summary.add("peak memory", megabytes(rss)) }
        return summary
    }

    private static func number(_ x: Double) -> String { HumanSummary.number(x) }
    private static func count(_ n: Int) -> String { HumanSummary.count(n) }
    private static func seconds(_ s: Double) -> String { HumanSummary.seconds(s) }
    private static func megabytes(_ b: Int) -> String { HumanSummary.megabytes(b) }
}
