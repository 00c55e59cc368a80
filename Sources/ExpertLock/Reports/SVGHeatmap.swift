import Foundation

/// A heatmap as a standalone SVG (rows × columns of values in [0, max]), with labelled axes, the value
/// printed in each cell and a colour scale: the attribution map, layers × experts.
public struct SVGHeatmap: Sendable {
    public var title: String
    public var rowLabel: String
    public var columnLabel: String
    public var values: [[Double]]
    public var rowNames: [String]
    public var valueLabel: String

    public init(
        title: String, rowLabel: String, columnLabel: String, values: [[Double]], rowNames: [String], valueLabel: String
    ) {
        self.title = title
        self.rowLabel = rowLabel
        self.columnLabel = columnLabel
        self.values = values
        self.rowNames = rowNames
        self.valueLabel = valueLabel
    }

    public func render() -> String {
        let columns = values.map(\.count).max() ?? 0
        let cell = 46.0, left = 90.0, top = 50.0
        let width = left + Double(columns) * cell + 110, height = top + Double(values.count) * cell + 50
        let maxValue = max(values.flatMap { $0 }.max() ?? 1, 1e-12)
        func color(_ v: Double) -> String {
            // White → deep blue.
            let t = min(max(v / maxValue, 0), 1)
            let r = Int(255 - t * (255 - 8)), g = Int(255 - t * (255 - 69)), b = Int(255 - t * (255 - 148))
            return "rgb(\(r),\(g),\(b))"
        }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \
            \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(width / 2))" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(title)</text>

            """
        for (r, row) in values.enumerated() {
            let y = top + Double(r) * cell
            svg +=
                "<text "
                + "x=\"\(Int(left - 8))\" "
                + "y=\"\(Int(y + cell / 2 + 4))\" text-anchor=\"end\" "
                + "font-size=\"12\">\(r < rowNames.count ? rowNames[r] : String(r))</text>\n"
            for (c, v) in row.enumerated() {
                let x = left + Double(c) * cell
                svg +=
                    "<rect "
                    + "x=\"\(Int(x))\" "
                    + "y=\"\(Int(y))\" "
                    + "width=\"\(Int(cell - 2))\" height=\"\(Int(cell - 2))\" fill=\"\(color(v))\"/>"
                let textColor = v / maxValue > 0.55 ? "white" : "black"
                svg +=
                    "<text "
                    + "x=\"\(Int(x + cell / 2 - 1))\" "
                    + "y=\"\(Int(y + cell / 2 + 4))\" text-anchor=\"middle\" font-size=\"11\" "
                    + "fill=\"\(textColor)\">\(String(format: "%.2f", v))</text>\n"
            }
        }
        for c in 0..<columns {
            svg +=
                "<text "
                + "x=\"\(Int(left + Double(c) * cell + cell / 2 - 1))\" "
                + "y=\"\(Int(top + Double(values.count) * cell + 16))\" text-anchor=\"middle\" "
                + "font-size=\"12\">\(c)</text>"
        }
        svg +=
            "\n<text "
            + "x=\"\(Int(left + Double(columns) * cell / 2))\" "
            + "y=\"\(Int(height - 10))\" text-anchor=\"middle\" font-size=\"13\">\(columnLabel)</text>\n"
        svg +=
            "<text "
            + "transform=\"translate(18,\(Int(top + Double(values.count) * cell / 2))) rotate(-90)\" "
            + "text-anchor=\"middle\" font-size=\"13\">\(rowLabel)</text>\n"
        // Colour scale.
        let sx = left + Double(columns) * cell + 20
        for i in 0..<10 {
            let v = maxValue * Double(9 - i) / 9
            svg +=
                "<rect "
                + "x=\"\(Int(sx))\" "
                + "y=\"\(Int(top + Double(i) * 12))\" width=\"16\" height=\"12\" fill=\"\(color(v))\"/>"
        }
        svg +=
            "\n<text "
            + "x=\"\(Int(sx + 22))\" "
            + "y=\"\(Int(top + 10))\" font-size=\"11\">\(String(format: "%.2f", maxValue))</text>"
        svg += "<text x=\"\(Int(sx + 22))\" y=\"\(Int(top + 120))\" font-size=\"11\">0</text>"
        svg += "<text x=\"\(Int(sx))\" y=\"\(Int(top + 140))\" font-size=\"11\">\(valueLabel)</text>\n</svg>\n"
        return svg
    }
}
