import Testing
@testable import ZFlowGraph

/// The stub registry plus sinks that take a `Latent` or a `Mask`, to see edges from `Tag`
/// (whose output type its `as` argument names) checked against the named type.
private func registry(_ recorder: Recorder = Recorder()) throws -> NodeRegistry {
    let registry = try stubRegistry(recorder)
    for (name, type) in [("UseLatent", PortType.latent), ("UseMask", .mask)] {
        try registry.register(ClosureNode(NodeSchema(name: name, doc: "Takes a \(type).",
                                                     inputs: [InputSpec("value", type, doc: "The value.")],
                                                     outputs: [], isCacheable: false)) { _ in NodeOutputs() })
    }
    return registry
}

/// The rendered diagnostics of `text`, which must not check.
private func errors(_ text: String) throws -> String {
    do {
        _ = try check(text, try registry())
        Issue.record("the graph checked")
        return ""
    } catch let diagnostics as GraphDiagnostics {
        return diagnostics.description
    }
}

@Suite struct TypeArgumentTests {
    @Test func aBareTypeNameSetsTheOutputType() throws {
        let graph = try check("i = MakeImage()\nt = Tag(value: i, as: Latent)", try registry())
        let tag = try #require(graph.node(named: "t"))
        #expect(tag.outputType(named: "out") == .latent)
        #expect(tag.inputs["as"] == .constant(.string("Latent")), "the node sees the name as a String")
    }

    @Test func aStringSetsTheOutputType() throws {
        let graph = try check("i = MakeImage()\nt = Tag(value: i, as: \"Mask\")", try registry())
        #expect(graph.node(named: "t")?.outputType(named: "out") == .mask)
    }

    @Test func withoutTheArgumentTheDefaultNamesTheType() throws {
        let graph = try check("i = MakeImage()\nt = Tag(value: i)", try registry())
        #expect(graph.node(named: "t")?.outputType(named: "out") == .tensor)
        #expect(graph.node(named: "t")?.inputs["as"] == .constant(.string("Tensor")))
    }

    @Test func anUnknownTypeNameGetsASuggestion() throws {
        #expect(try errors("i = MakeImage()\nt = Tag(value: i, as: Latnet)") == """
            test.zflow:2:23: error: unknown type 'Latnet' for argument 'as' of Tag; did you mean 'Latent'?
            t = Tag(value: i, as: Latnet)
                                  ^~~~~~
            1 error in test.zflow
            """)
        #expect(try errors("i = MakeImage()\nt = Tag(value: i, as: \"Blob\")").contains(
            "unknown type 'Blob' for argument 'as' of Tag (one of Tensor, Latent, Mask)"))
    }

    @Test func aTypeTheOutputCannotTakeIsRefused() throws {
        // Image: the declared Tensor accepts it, but it is not among the choices of 'as'.
        #expect(try errors("i = MakeImage()\nt = Tag(value: i, as: Image)") == """
            test.zflow:2:23: error: argument 'as' of Tag cannot name Image: the output can be Tensor, Latent, Mask
            t = Tag(value: i, as: Image)
                                  ^~~~~
            1 error in test.zflow
            """)
        #expect(try errors("i = MakeImage()\nt = Tag(value: i, as: \"Int\")").contains("cannot name Int"))
        #expect(try errors("i = MakeImage()\nt = Tag(value: i, as: 3)").contains(
            "argument 'as' of Tag expects a type name (one of Tensor, Latent, Mask), got Int"))
    }

    @Test func aParameterOrANodeCannotNameTheType() throws {
        #expect(try errors("param kind: String = \"Latent\"\ni = MakeImage()\nt = Tag(value: i, as: kind)") == """
            test.zflow:3:23: error: argument 'as' of Tag names an output type, which is fixed when the file is \
            checked: write one of Tensor, Latent, Mask, not parameter 'kind'
            t = Tag(value: i, as: kind)
                                  ^~~~
            1 error in test.zflow
            """)
        #expect(try errors("i = MakeImage()\nt = Tag(value: i, as: i)").contains("write one of Tensor, Latent, Mask, not node 'i'"))
    }

    @Test func edgesAreCheckedAgainstTheNamedType() throws {
        // The consumers come first: output types are resolved before any edge is checked.
        #expect(try errors("UseMask(value: t)\ni = MakeImage()\nt = Tag(value: i, as: Latent)") == """
            test.zflow:1:16: error: argument 'value' of UseMask expects Mask, got Latent from 't.out'
            UseMask(value: t)
                           ^
            1 error in test.zflow
            """)
        _ = try check("UseLatent(value: t)\nc = Count(value: t)\ni = MakeImage()\nt = Tag(value: i, as: Latent)", try registry())
        #expect(try errors("i = MakeImage()\nt = Tag(value: i)\nUseLatent(value: t)").contains("expects Latent, got Tensor"))
    }

    @Test func aBadTypeArgumentIsReportedOnceNotAtEveryEdge() throws {
        let text = try errors("i = MakeImage()\nt = Tag(value: i, as: Latnt)\nUseLatent(value: t)\nUseMask(value: t)")
        #expect(text.hasSuffix("1 error in test.zflow"), "\(text)")
    }

    @Test func theNodeSeesTheTypeAndBothSpellingsShareACacheEntry() async throws {
        let recorder = Recorder()
        let registry = try registry(recorder)
        let engine = Engine(registry: registry, cache: .init(directory: nil))
        let bare = try check("i = MakeImage(size: 3)\nt = Tag(value: i, as: Latent)\nc = Count(value: t)", registry)
        let counted = try await engine.run(bare, outputs: [try bare.output("c")], options: .init(runSinks: false))
        #expect(counted.outputs[try bare.output("c")] as? Int == 3)
        #expect(recorder.executed.contains("t as Latent"))

        recorder.reset()
        let quoted = try check("i = MakeImage(size: 3)\nt = Tag(value: i, as: \"Latent\")\nc = Count(value: t)", registry)
        _ = try await engine.run(quoted, outputs: [try quoted.output("c")], options: .init(runSinks: false))
        #expect(recorder.executed.isEmpty, "same key: \(recorder.executed)")
    }

    @Test func registrationRefusesInconsistentTypeArguments() throws {
        func schema(_ input: InputSpec, output: PortType = .tensor) -> ClosureNode {
            ClosureNode(NodeSchema(name: "Bad", doc: "", inputs: [input],
                                   outputs: [OutputSpec("out", output, typeFrom: "as", doc: "")])) { _ in NodeOutputs() }
        }
        let cases = [
            schema(InputSpec("as", .int, default: .int(1), doc: "")),  // not a String
            schema(InputSpec("as", .string, choices: [.string("Latent"), .string("Int")], doc: "")),  // Tensor does not accept Int
            schema(InputSpec("as", .string, default: .string("Mask"), choices: [.string("Latent"), .string("Mask")], doc: ""),
                   output: .latent),  // Latent does not accept Mask
            schema(InputSpec("as", .string, default: .string("Path"), doc: "")),  // the default is not a tensor type
            schema(InputSpec("other", .string, doc: "")),  // no input 'as'
        ]
        for node in cases {
            #expect(throws: RegistrationError.self) { try NodeRegistry().register(node) }
        }
        try NodeRegistry().register(schema(InputSpec("as", .string, default: .string("Logits"), doc: "")))
    }
}
