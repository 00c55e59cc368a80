import Foundation

extension PrunabilityCurve {
    /// Strategies in the order they were measured.
    public var strategies: [String] {
        var seen: [String] = []
        for p in points where p.k != nil && !seen.contains(p.strategy) { seen.append(p.strategy) }
        return seen
    }

    /// A Markdown table shaped like the paper's Tables 1–3: one row per k (experts kept per layer),
    /// one column per strategy (random as mean ± std over seeds), the full model first, once, as
    /// "8 (full)": a measured point that keeps every expert is the full model and is not repeated.
    public func markdownTable() -> String {
        let names = strategies
        var rows = [
            "| experts kept | " + names.joined(separator: " | ") + " |",
            "|---:|" + names.map { _ in "---:" }.joined(separator: "|") + "|",
        ]
        rows.append(
            "| \(expertsPerLayer) (full) | " + names.map { _ in Self.format(full) }.joined(separator: " | ") + " |")
        let ks = Set(points.compactMap(\.k)).filter { $0 != expertsPerLayer }.sorted(by: >)
        for k in ks {
            let cells = names.map { s -> String in
                guard let e = series(s).first(where: { $0.k == k }) else { return "–" }
                let n = points.filter { $0.strategy == s && $0.k == k }.count
                return n > 1 ? "\(Self.format(e.mean)) ± \(Self.format(e.std))" : Self.format(e.mean)
            }
            rows.append("| \(k) | " + cells.joined(separator: " | ") + " |")
        }
        let thresholdPoints = points.filter { $0.tau != nil }
        if !thresholdPoints.isEmpty {
            rows.append("")
            rows.append("| τ | criterion | mean experts kept | \(metricName) |")
            rows.append("|---:|---|---:|---:|")
            for p in thresholdPoints {
                rows.append(
                    "| \(p.tau!) | \(p.strategy) | \(String(format: "%.2f", p.expertsKept)) | "
                        + "\(Self.format(p.metric)) |"
                )
            }
        }
        return rows.joined(separator: "\n") + "\n"
    }

    public func csv() -> String {
        var lines = ["k,tau,strategy,seed,experts_kept,\(metricName)"]
        for p in points {
            lines.append(
                "\(p.k.map(String.init) ?? ""),\(p.tau.map { "\($0)" } ?? ""),\(p.strategy),"
                    + "\(p.seed.map(String.init) ?? ""),\(p.expertsKept),\(p.metric)"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The curve as an SVG line chart (experts kept decreasing to the right; random with a ±std band).
    public func svg(title: String) -> String {
        let lines = strategies.map { s -> SVGLineChart.Series in
            let e = self.series(s)
            var pts = e.map { (x: Double($0.k), y: $0.mean) }
            var band: [Double]? = s == "random" ? e.map(\.std) : nil
            if e.last?.k != expertsPerLayer {
                pts.append((Double(expertsPerLayer), full))
                band?.append(0)
            }
            // Removal series rank experts ("top-k by soft"); merge series ("merge hc-smoe") name their method.
            let name = s == "random" ? "random (mean ± std)" : s.hasPrefix("merge ") ? s : "top-k by \(s)"
            return SVGLineChart.Series(name: name, points: pts, band: band, dashed: s == "random")
        }
        return SVGLineChart(
            title: title, xLabel: "experts kept per layer (of \(expertsPerLayer))", yLabel: metricName, series: lines,
            reverseX: true, logY: !higherIsBetter
        ).render()
    }

    /// The resistance figures of every strategy: normalised area and drop at k = top-k-ish reference.
    public func resistance(referenceK: Int) -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for s in strategies {
            var entry: [String: Double] = [:]
            if let a = normalizedArea(s) { entry["normalized_area"] = a }
            if let d = drop(at: referenceK, strategy: s) { entry["drop_at_k"] = d }
            out[s] = entry
        }
        return out
    }

    /// The resistance figures as a Markdown table, one row per strategy in the order measured (the
    /// sweep's headline, printed and written to table.md the same way every run).
    public func resistanceMarkdown(referenceK: Int) -> String {
        var rows = [
            "Resistance: normalised area under the quality curve (1 = pruning costs nothing; lower = quality falls "
                + "sooner, more resistant) and drop at k = \(referenceK) (1 − normalised quality).",
            "",
            "| strategy | normalised area | drop at k=\(referenceK) |",
            "|---|---:|---:|",
        ]
        for s in strategies {
            let area = normalizedArea(s).map(Self.format) ?? "–"
            let d = drop(at: referenceK, strategy: s).map(Self.format) ?? "–"
            rows.append("| \(s) | \(area) | \(d) |")
        }
        return rows.joined(separator: "\n") + "\n"
    }

    /// A metric as the report tables print it (the demo's report uses the same form).
    public static func format(_ x: Double) -> String {
        guard x.isFinite else { return "\(x)" }
        return abs(x) >= 100 ? String(format: "%.1f", x) : String(format: "%.3f", x)
    }
}
