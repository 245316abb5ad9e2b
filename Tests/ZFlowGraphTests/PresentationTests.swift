import Testing
@testable import ZFlowGraph

@Suite struct PresentationTests {
    @Test func catalogueSummary() throws {
        expectGolden(Catalogue.summary(try stubRegistry(Recorder())), "catalogue/summary.expected")
    }

    @Test func catalogueDetails() throws {
        let registry = try stubRegistry(Recorder())
        for name in ["Weigh", "Print", "Heavy", "Split", "Tag"] {
            let schema = try #require(registry.nodeType(named: name)?.schema)
            expectGolden(Catalogue.details(schema), "catalogue/\(name).expected")
        }
    }

    @Test func graphvizExport() throws {
        let graph = try check("""
            param n: Int = 2
            h = Split(x: n)
            s = Add(a: h.left, b: h.right)
            Print(value: s)
            """, try stubRegistry(Recorder()), name: "demo.zflow")
        expectGolden(DotExport.dot(graph), "dot/demo.expected")
    }

    @Test func registrationRejectsBadSchemas() throws {
        let registry = NodeRegistry()
        let good = ClosureNode(NodeSchema(name: "Ok", doc: "", inputs: [], outputs: [])) { _ in NodeOutputs() }
        try registry.register(good)
        #expect(throws: RegistrationError.self) { try registry.register(good) }
        let badDefault = ClosureNode(NodeSchema(name: "Bad", doc: "", inputs: [
            InputSpec("n", .int, default: .int(500), range: 0...10, doc: ""),
        ], outputs: [])) { _ in NodeOutputs() }
        #expect(throws: RegistrationError.self) { try registry.register(badDefault) }
        let badName = ClosureNode(NodeSchema(name: "no spaces", doc: "", inputs: [], outputs: [])) { _ in NodeOutputs() }
        #expect(throws: RegistrationError.self) { try registry.register(badName) }
    }
}
