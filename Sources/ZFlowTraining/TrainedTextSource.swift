import ZFlowBatch
import ZFlowGraph
import ZFlowModels
import ZFlowNodes
import ZFlowTrain

/// Where the trained text encoder comes from when `--train` reaches its keys
/// (`cond_stage_model.transformer.text_model.*`): the CLIPTextEncode node that makes ZNet's
/// `text`. Its prompt (the bound phrase in its template) is tokenized per sample as the node
/// tokenizes it, and the encoder starts from the weights file the node reads.
struct TrainedTextSource {
    let nodeName: String
    /// The node's weights file.
    let weights: String
    /// The encoder as the node loads it: its config and the tensors training starts from, under
    /// their CompVis keys.
    let encoder: CLIPTextEncoder
    private let tokenizer: CLIPTokenizer
    private let text: InputBinding
    private let template: InputBinding

    /// The text encoder's source when some pattern matches one of its keys, else nil. Patterns
    /// starting with `cond_stage_model` ask for it: then a text not made by a CLIPTextEncode
    /// node, or a node whose inputs are computed, is an error.
    static func reached(by patterns: [String], graph: CheckedGraph, plan: ZNetTrainingPlan,
                        values: [String: Constant]) throws -> TrainedTextSource? {
        let asking = patterns.filter { $0.hasPrefix("cond_stage_model") }
        let source: TrainedTextSource
        do {
            source = try TrainedTextSource(graph: graph, plan: plan, values: values)
        } catch {
            guard let pattern = asking.first else { return nil }
            throw BatchError("--train \(pattern): \(error)")
        }
        let keys = source.encoder.parameters.keys
        let reaches = patterns.contains { text in
            guard let pattern = try? KeyPattern(text) else { return false }  // TrainableParameters names it
            return keys.contains(where: pattern.matches)
        }
        return reaches ? source : nil
    }

    private init(graph: CheckedGraph, plan: ZNetTrainingPlan, values: [String: Constant]) throws {
        let node = graph.nodes[plan.text.node]
        guard node.schema.name == "CLIPTextEncode" else {
            throw BatchError("the text encoder trains in the CLIPTextEncode node that makes ZNet node '\(plan.znetName)''s text; "
                + "its text comes from \(node.schema.name) node '\(node.displayName)' (line \(node.range.start.line))")
        }
        func binding(_ input: String) throws -> InputBinding {
            switch node.inputs[input] {
            case let binding? where binding.isConstantOrParam: return binding
            default:
                throw BatchError("CLIPTextEncode node '\(node.displayName)' (line \(node.range.start.line)): zflow train needs its "
                    + "'\(input)' as a literal or a param, not computed by a node, to train the text encoder")
            }
        }
        nodeName = node.displayName
        text = try binding("text")
        template = try binding("template")
        guard case let .string(path)? = Self.value(of: try binding("weights"), in: values) else {
            throw BatchError("CLIPTextEncode node '\(nodeName)': its 'weights' is not a path")
        }
        weights = path
        do {
            (encoder, tokenizer) = try StableDiffusionModels.textEncoder(path)
        } catch {
            throw BatchError("CLIPTextEncode node '\(nodeName)': text encoder weights \(path): \(error)")
        }
    }

    /// The token ids the node encodes for a run with these param values (the bound phrase and,
    /// with `--augment reference`, the drawn template among them).
    func tokens(_ values: [String: Constant]) throws -> [Int] {
        guard case let .string(phrase)? = Self.value(of: text, in: values),
              case let .string(template)? = Self.value(of: template, in: values) else {
            throw BatchError("CLIPTextEncode node '\(nodeName)': its text and template must be strings")
        }
        return tokenizer.tokenize(clipPrompt(text: phrase, template: template)).ids
    }

    private static func value(of binding: InputBinding, in values: [String: Constant]) -> Constant? {
        switch binding {
        case let .constant(value): value
        case let .param(name): values[name]
        case .output: nil
        }
    }
}

private extension InputBinding {
    var isConstantOrParam: Bool {
        if case .output = self { false } else { true }
    }
}
