import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Lamina

/// Parses an SVG document with XMLParser and counts elements by name (and by class).
package final class SVGCensus: NSObject, XMLParserDelegate {
    package var elements: [String: Int] = [:]
    package var classes: [String: Int] = [:]
    package var texts: [String] = []
    package var root: String?
    package var width: String?
    private var inText = false

    package init(_ svg: String) throws {
        super.init()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = self
        guard parser.parse() else { throw LaminaError(.io, "invalid XML: \(parser.parserError.map { "\($0)" } ?? "?")") }
    }

    package func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if root == nil { root = name; width = attributes["width"] }
        elements[name, default: 0] += 1
        if let c = attributes["class"] { classes[c, default: 0] += 1 }
        inText = name == "text"
        if inText { texts.append("") }
    }
    package func parser(_ parser: XMLParser, foundCharacters string: String) { if inText { texts[texts.count - 1] += string } }
    package func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) { inText = false }
}

/// Walks a PNG's chunks, checking each CRC, and returns the header fields and the inflated data.
package func decodePNG(_ bytes: [UInt8]) throws -> (width: Int, height: Int, colorType: UInt8, chunks: [String], raw: [UInt8]) {
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
