import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Lamina
@testable import LaminaPlot

/// Parses an SVG document with XMLParser and counts elements by name (and by class).
final class SVGCensus: NSObject, XMLParserDelegate {
    var elements: [String: Int] = [:]
    var classes: [String: Int] = [:]
    var texts: [String] = []
    var root: String?
    var width: String?
    private var inText = false

    init(_ svg: String) throws {
        super.init()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = self
        guard parser.parse() else { throw LaminaError(.io, "invalid XML: \(parser.parserError.map { "\($0)" } ?? "?")") }
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if root == nil { root = name; width = attributes["width"] }
        elements[name, default: 0] += 1
        if let c = attributes["class"] { classes[c, default: 0] += 1 }
        inText = name == "text"
        if inText { texts.append("") }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { if inText { texts[texts.count - 1] += string } }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) { inText = false }
}

/// Walks a PNG's chunks, checking each CRC, and returns the header fields and the inflated data.
func decodePNG(_ bytes: [UInt8]) throws -> (width: Int, height: Int, colorType: UInt8, chunks: [String], raw: [UInt8]) {
    #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    func u32(_ o: Int) -> Int { Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]) }
    var o = 8, chunks = [String](), idat = [UInt8](), width = 0, height = 0, colorType: UInt8 = 0
    while o < bytes.count {
        let length = u32(o), type = String(decoding: bytes[(o + 4)..<(o + 8)], as: UTF8.self)
        let body = Array(bytes[(o + 8)..<(o + 8 + length)])
        #expect(Zlib.crc32(bytes[(o + 4)..<(o + 8 + length)]) == UInt32(u32(o + 8 + length)), "CRC of \(type)")
        if type == "IHDR" { width = u32(o + 8); height = u32(o + 12); colorType = body[9] }
        if type == "IDAT" { idat += body }
        chunks.append(type)
        o += 12 + length
    }
    return (width, height, colorType, chunks, try Zlib.inflate(idat, limit: 1 << 26, what: "IDAT"))
}

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
