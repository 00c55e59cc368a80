import Foundation

/// A line chart as a standalone SVG: labelled axes with ticks, a legend, optional ±band per series.
/// Written by hand (no plotting package is available to a Swift build here); kept small and plain so
/// it renders the same in every browser.
public struct SVGLineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        /// Optional half-width of a shaded band around each point (e.g. std over seeds).
        public var band: [Double]?
        public var dashed: Bool
        /// A thin dotted line without markers, for reference levels (e.g. the unpruned model).
        public var dotted: Bool
        /// A CSS colour; nil takes the next colour of the palette. Series that belong together
        /// (one model, two strategies) read best in one colour with different dashes.
        public var color: String?
        public init(
            name: String, points: [(x: Double, y: Double)], band: [Double]? = nil, dashed: Bool = false,
            dotted: Bool = false, color: String? = nil
        ) {
            self.name = name
            self.points = points
            self.band = band
            self.dashed = dashed
            self.dotted = dotted
            self.color = color
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Reverse the x axis (e.g. experts kept from many to few).
    public var reverseX = false
    public var logY = false
    public var width = 670.0
    public var height = 400.0

    public init(
        title: String, xLabel: String, yLabel: String, series: [Series], reverseX: Bool = false, logY: Bool = false
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.reverseX = reverseX
        self.logY = logY
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    public func render() -> String {
        let left = 70.0, right = 200.0, top = 40.0, bottom = 55.0
        let plotW = width - left - right, plotH = height - top - bottom
        let allX = series.flatMap { $0.points.map(\.x) }
        var allY: [Double] = []
        for s in series {
            for (i, p) in s.points.enumerated() {
                let b = s.band?[i] ?? 0
                allY += [p.y - b, p.y + b]
            }
        }
        let ys = allY.filter { $0.isFinite && (!logY || $0 > 0) }
        var xMin = allX.min() ?? 0, xMax = allX.max() ?? 1
        if xMin == xMax { xMin -= 1; xMax += 1 }
        var yMin = ys.min() ?? 0, yMax = ys.max() ?? 1
        if yMin == yMax { yMin -= 1; yMax += 1 }
        let ty: (Double) -> Double = { logY ? log10(max($0, 1e-300)) : $0 }
        let pad = (ty(yMax) - ty(yMin)) * 0.05
        let y0 = ty(yMin) - pad, y1 = ty(yMax) + pad
        func px(_ x: Double) -> Double {
            let f = (x - xMin) / (xMax - xMin)
            return left + (reverseX ? 1 - f : f) * plotW
        }
        func py(_ y: Double) -> Double { top + (1 - (ty(y) - y0) / (y1 - y0)) * plotH }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \
            \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(left + plotW / 2))" y="22" text-anchor="middle" font-size="15" \
            font-weight="bold">\(escape(title))</text>
            <rect x="\(f(left))" y="\(f(top))" width="\(f(plotW))" height="\(f(plotH))" fill="none" stroke="#333"/>

            """
        // Ticks.
        let xTicks = Set(allX).sorted()
        for x in (xTicks.count <= 12 ? xTicks : stride(from: xMin, through: xMax, by: (xMax - xMin) / 8).map { $0 }) {
            svg +=
                "<line "
                + "x1=\"\(f(px(x)))\" "
                + "y1=\"\(f(top + plotH))\" x2=\"\(f(px(x)))\" y2=\"\(f(top + plotH + 5))\" stroke=\"#333\"/>"
            svg +=
                "<text "
                + "x=\"\(f(px(x)))\" "
                + "y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\" font-size=\"11\">\(label(x))</text>\n"
        }
        let yLow = logY ? pow(10, y0) : y0, yHigh = logY ? pow(10, y1) : y1
        for y in Self.niceTicks(yLow, yHigh, log: logY) {
            let yy = py(y)
            svg +=
                "<line "
                + "x1=\"\(f(left - 5))\" "
                + "y1=\"\(f(yy))\" x2=\"\(f(left + plotW))\" y2=\"\(f(yy))\" stroke=\"#ddd\"/>"
            svg +=
                "<text "
                + "x=\"\(f(left - 8))\" "
                + "y=\"\(f(yy + 4))\" text-anchor=\"end\" font-size=\"11\">\(label(y))</text>\n"
        }
        svg +=
            "<text "
            + "x=\"\(f(left + plotW / 2))\" "
            + "y=\"\(f(height - 12))\" text-anchor=\"middle\" font-size=\"13\">\(escape(xLabel))</text>\n"
        svg +=
            "<text "
            + "transform=\"translate(16,\(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\" "
            + "font-size=\"13\">\(escape(yLabel + (logY ? " (log scale)" : "")))</text>\n"
        // Series.
        for (i, s) in series.enumerated() {
            let color = s.color ?? Self.palette[i % Self.palette.count]
            let stroke = s.dotted ? " stroke-dasharray=\"2,3\"" : s.dashed ? " stroke-dasharray=\"6,4\"" : ""
            let strokeWidth = s.dotted ? "1.5" : "2"
            let pts = s.points.filter { $0.y.isFinite && (!logY || $0.y > 0) }
            if let band = s.band, band.count == s.points.count {
                let upper = s.points.enumerated().map { "\(f(px($1.x))),\(f(py($1.y + band[$0])))" }
                let lower = s.points.enumerated().reversed().map {
                    "\(f(px($1.x))),\(f(py(max($1.y - band[$0], logY ? 1e-300 : -Double.infinity))))"
                }
                svg +=
                    "<polygon "
                    + "points=\"\((upper + lower).joined(separator: " "))\" "
                    + "fill=\"\(color)\" fill-opacity=\"0.15\" stroke=\"none\"/>\n"
            }
            let path = pts.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg +=
                "<polyline "
                + "points=\"\(path)\" fill=\"none\" "
                + "stroke=\"\(color)\" stroke-width=\"\(strokeWidth)\"\(stroke)/>\n"
            if !s.dotted {
                for p in pts { svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(color)\"/>" }
            }
            let ly = top + 10 + Double(i) * 20
            svg +=
                "\n<line "
                + "x1=\"\(f(left + plotW + 12))\" "
                + "y1=\"\(f(ly))\" "
                + "x2=\"\(f(left + plotW + 36))\" "
                + "y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"\(strokeWidth)\"\(stroke)/>"
            svg += "<text x=\"\(f(left + plotW + 42))\" y=\"\(f(ly + 4))\" font-size=\"12\">\(escape(s.name))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// Tick values inside [low, high] at round numbers, so a reader can read values off the axis:
    /// steps of 1, 2 or 5 × 10ⁿ (about five ticks) on a linear axis; on a log axis 1, 2, 3, 5, 7 × 10ⁿ
    /// thinned to 1, 2, 5 × 10ⁿ or powers of ten when there are too many, linear ticks when the
    /// range is too narrow for three.
    static func niceTicks(_ low: Double, _ high: Double, log: Bool) -> [Double] {
        guard low.isFinite, high.isFinite, high > low else { return [] }
        if log, low > 0 {
            let first = Int(floor(log10(low))), last = Int(ceil(log10(high)))
            for mantissas in [[1.0, 2, 3, 5, 7], [1, 2, 5], [1]] {
                let ticks = (first...last).flatMap { d in mantissas.map { $0 * pow(10, Double(d)) } }
                    .filter { $0 >= low && $0 <= high }
                if ticks.count >= 3 && ticks.count <= 8 { return ticks }
                if ticks.count > 8 { continue }
                break
            }
        }
        let raw = (high - low) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = ([1.0, 2, 5, 10].first { $0 * magnitude >= raw } ?? 10) * magnitude
        var ticks: [Double] = []
        var t = ceil(low / step) * step
        while t <= high + step * 1e-9 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return ticks
    }

    private func f(_ x: Double) -> String { String(format: "%.1f", x) }

    private func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
        let a = abs(v)
        return a >= 100 ? String(format: "%.0f", v) : String(format: "%.4g", v)
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;")
    }
}
