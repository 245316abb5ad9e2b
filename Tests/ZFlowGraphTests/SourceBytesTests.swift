import Foundation
import Testing
@testable import ZFlowGraph

/// Graph files are bytes: text that is not UTF-8 is an error at its first bad byte, and a file
/// that is no graph at all prints 50 errors, not hundreds.
@Suite struct SourceBytesTests {
    private func diagnostics(_ bytes: [UInt8], name: String = "bytes.zflow") throws -> String {
        let registry = try stubRegistry(Recorder())
        do {
            _ = try Checker.check(try SourceFile(name: name, bytes: Data(bytes)), registry: registry)
            return "checked"
        } catch let diagnostics as GraphDiagnostics {
            return diagnostics.description
        }
    }

    @Test func aLatin1ByteIsAnErrorAtItsColumn() throws {
        let latin1 = Array("param s: String = \"caf".utf8) + [0xE9] + Array("\"\nx = Const(value: 1)\n".utf8)
        #expect(try diagnostics(latin1, name: "latin1.zflow") == """
            latin1.zflow:1:23: error: invalid UTF-8 byte 0xE9
            param s: String = "caf\u{FFFD}
                                  ^
            1 error in latin1.zflow
            """)
    }

    @Test func columnsCountScalarsBeforeTheBadByte() throws {
        let bytes = Array("# caf\u{E9} \u{1F600}\nx = \"\u{E9}".utf8) + [0xFF] + Array("\"\n".utf8)
        #expect(try diagnostics(bytes).hasPrefix("bytes.zflow:2:7: error: invalid UTF-8 byte 0xFF\nx = \"\u{E9}\u{FFFD}\n      ^\n"))
    }

    @Test func aSequenceCutShortIsNamedByItsFirstByte() throws {
        let cut = Array("x = \"".utf8) + [0xE2, 0x82]  // "€" without its last byte, at the end of the file
        #expect(try diagnostics(cut).hasPrefix("bytes.zflow:1:6: error: invalid UTF-8 byte 0xE2\n"))
        let overlong = Array("x = 1".utf8) + [0xC0, 0xAF]
        #expect(try diagnostics(overlong).hasPrefix("bytes.zflow:1:6: error: invalid UTF-8 byte 0xC0\n"))
        let surrogate = Array("\n\n".utf8) + [0xED, 0xA0, 0x80]
        #expect(try diagnostics(surrogate).hasPrefix("bytes.zflow:3:1: error: invalid UTF-8 byte 0xED\n"))
    }

    @Test func nothingAfterTheBadByteIsShown() throws {
        let binary: [UInt8] = [0x89] + Array("PNG\r\n".utf8) + Array(repeating: 0x41, count: 10_000)
        #expect(try diagnostics(binary) == "bytes.zflow:1:1: error: invalid UTF-8 byte 0x89\n\u{FFFD}\n^\n1 error in bytes.zflow")
    }

    @Test func aFileThatIsNoGraphPrintsTheFirst50Errors() throws {
        let text = (1...60).map { "\($0) $" }.joined(separator: "\n")
        let description = try diagnostics(Array(text.utf8), name: "prose.md")
        let errorLines = description.split(separator: "\n").filter { $0.hasPrefix("prose.md:") }
        #expect(errorLines.count == 50)
        #expect(errorLines.last?.hasPrefix("prose.md:50:") == true)
        #expect(description.hasSuffix("\nand 10 more errors\n60 errors in prose.md"))
    }

    @Test func fiftyErrorsArePrintedWithoutASummaryOfMore() throws {
        let text = (1...50).map { "\($0) $" }.joined(separator: "\n")
        let description = try diagnostics(Array(text.utf8), name: "prose.md")
        #expect(!description.contains("more errors"))
        #expect(description.hasSuffix("\n50 errors in prose.md"))
    }
}
