import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import LaminaTestSupport
@testable import Lamina
@testable import LaminaPlot

@Suite struct PlotTests {
    @Test func linePlotIsValidSVGWithAxesTicksLabelsAndLegend() throws {
        var plot = Plot(title: "Fit <test>", xLabel: "x", yLabel: "y")
        plot.scatter([0.0, 1, 2, 3], [0.1, 2.2, 3.9, 6.1], label: "data")
        plot.line([0.0, 3], [0.0, 6], label: "fit")
        let svg = try SVGCensus(plot.svg())
        #expect(svg.root == "svg" && svg.width == "640")
        #expect(svg.elements["polyline"] == 1)
        #expect(svg.elements["circle", default: 0] >= 5)  // 4 points + legend marker
        #expect(svg.classes["xtick", default: 0] >= 3 && svg.classes["ytick", default: 0] >= 3)
        #expect(svg.texts.contains("Fit <test>") && svg.texts.contains("data") && svg.texts.contains("fit"))
        #expect(svg.classes["legend"] == 1)
    }

    @Test func ticksAreNiceNumbersInsideTheRange() {
        #expect(Plot.ticks(0...1) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        #expect(Plot.ticks(-3...17) == [0, 5, 10, 15])
        let t = Plot.ticks(0.013...0.087)
        #expect(t.count >= 3 && t.allSatisfy { (0.013...0.087).contains($0) })
    }

    @Test func historyPlotDrawsOnePanelPerMetricWithValidationCurves() throws {
        let history = History()
        for (i, loss) in [1.0, 0.6, 0.4].enumerated() {
            history.onEpochEnd(i, logs: ["loss": loss, "val_loss": loss + 0.1, "accuracy": 1 - loss, "val_accuracy": 0.9 - loss])
        }
        let url = temporaryDirectory().appendingPathComponent("history.svg")
        try history.plot(to: url)
        let svg = try SVGCensus(String(contentsOf: url, encoding: .utf8))
        #expect(svg.classes["plot"] == 2 && svg.elements["polyline"] == 4)
        #expect(svg.texts.contains("val_accuracy") && svg.texts.contains("loss"))
    }

    @Test func heatMapHasACellAndValuePerEntry() throws {
        let svg = try SVGCensus(HeatMap([[5, 1], [0, 7]], title: "confusion", xLabel: "predicted", yLabel: "true").svg())
        #expect(svg.classes["cell"] == 4)
        #expect(svg.texts.contains("7") && svg.texts.contains("predicted"))
    }

    @Test func pngHasValidChunksAndDecodesToTheGrid() throws {
        // Two 2×3 images, values 0...5 and 250...255: tiles of a 2-column grid, padding 1.
        let images = Tensor(shape: [2, 2, 3], scalars: (0..<6).map(Float.init) + (250..<256).map(Float.init))
        let grid = ImageGrid.render(images, columns: 2, padding: 1, scale: 1)
        #expect(grid.width == 2 * 3 + 3 && grid.height == 2 + 2 && grid.channels == 1)
        let png = try decodePNG(PNG.encode(width: grid.width, height: grid.height, channels: 1, pixels: grid.pixels))
        #expect(png.chunks == ["IHDR", "IDAT", "IEND"] && png.width == 9 && png.height == 4 && png.colorType == 0)
        #expect(png.raw.count == 4 * (1 + 9))
        // Row 1 (after filter byte): padding, image 0 row 0 (0,1,2), padding, image 1 row 0 (250,251,252)
        #expect(Array(png.raw[10..<20]) == [0, 32, 0, 1, 2, 32, 250, 251, 252, 32])
    }

    @Test func rgbGridAndScaling() throws {
        let images = Tensor.full([3, 4, 4, 3], value: 0.5)
        let url = temporaryDirectory().appendingPathComponent("grid.png")
        try ImageGrid.save(images, to: url, columns: 2, padding: 2, scale: 3, range: 0...1)
        let png = try decodePNG([UInt8](try Data(contentsOf: url)))
        #expect(png.colorType == 2 && png.width == 2 * 12 + 3 * 2 && png.height == 2 * 12 + 3 * 2)
        #expect(png.raw.count == png.height * (1 + png.width * 3))
        let row = 1 + png.width * 3  // filter byte + pixels
        #expect(png.raw[2 * row + 1 + 2 * 3] == 128)  // first pixel of the first tile (x = y = 2)
        #expect(png.raw[2 * row + 1 + 1 * 3] == 32)   // padding just before it
    }
}
