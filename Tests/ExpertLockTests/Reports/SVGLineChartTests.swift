import Foundation
import Testing

@testable import ExpertLock

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The charts the reports embed: round tick values, labelled axes, a legend, well-formed SVG.
struct SVGLineChartTests {
    @Test func ticksAreRoundNumbers() {
        #expect(SVGLineChart.niceTicks(3.5, 23, log: true) == [5, 7, 10, 20])
        #expect(SVGLineChart.niceTicks(1, 1000, log: true) == [1, 10, 100, 1000])
        #expect(SVGLineChart.niceTicks(0.48, 0.66, log: false).map { ($0 * 100).rounded() } == [50, 55, 60, 65])
        #expect(SVGLineChart.niceTicks(-1, 1, log: false).contains(0))
        #expect(SVGLineChart.niceTicks(2, 2, log: false).isEmpty)
    }

    @Test func rendersAxesLegendAndParses() throws {
        let chart = SVGLineChart(
            title: "Prunability <test>", xLabel: "experts kept", yLabel: "perplexity",
            series: [
                .init(name: "standard, top-k", points: [(8, 4), (4, 6), (1, 15)], color: "#1f77b4"),
                .init(name: "standard, random", points: [(8, 4), (4, 7), (1, 19)], band: [0, 0.5, 2], dashed: true),
                .init(name: "unpruned", points: [(8, 4), (1, 4)], dotted: true),
            ], reverseX: true, logY: true)
        let svg = chart.render()
        for text in [
            "experts kept", "perplexity (log scale)", "standard, top-k", "standard, random", "unpruned", "&lt;test&gt;",
        ] {
            #expect(svg.contains(text), "\(text)")
        }
        #expect(svg.contains("stroke-dasharray=\"2,3\"") && svg.contains("stroke-dasharray=\"6,4\""))
        #expect(XMLParser(data: Data(svg.utf8)).parse())
    }
}
