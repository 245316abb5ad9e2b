// Turns tokens into a syntax tree, reporting every syntax error of the file:
// after an error it skips to the start of the next statement.

struct Parser {
    private struct Failure: Error {}

    private let tokens: [Token]
    private var position = 0
    private(set) var diagnostics: [Diagnostic]
    /// Lines with a lexical error: a syntax error on them is a consequence, not news.
    private let linesWithLexicalErrors: Set<Int>
    private var statementLine = 1
    private static let maximumNesting = 32

    init(source: String) {
        var lexer = Lexer(source)
        tokens = lexer.tokenize()
        diagnostics = lexer.diagnostics
        linesWithLexicalErrors = Set(lexer.diagnostics.map(\.range.start.line))
    }

    mutating func parseFile() -> SyntaxTree {
        var tree = SyntaxTree()
        while true {
            skipNewlines()
            if case .end = current.kind { return tree }
            let startPosition = position
            statementLine = current.range.start.line
            do {
                try parseStatement(into: &tree)
                switch current.kind {
                case .newline, .end: break
                default: throw fail(at: current, "expected end of line after the statement, found \(current.spelling)")
                }
            } catch {
                recover(from: startPosition)
            }
        }
    }

    /// Parses a lone value such as a `--set` value; references are not allowed.
    mutating func parseStandaloneValue() -> Expression? {
        skipNewlines()
        guard let value = try? parseValue(nesting: 0) else { return nil }
        skipNewlines()
        guard case .end = current.kind else {
            diagnostics.append(Diagnostic(current.range, "unexpected \(current.spelling) after the value"))
            return nil
        }
        return value
    }

    // MARK: statements

    private mutating func parseStatement(into tree: inout SyntaxTree) throws {
        let first = current
        guard case .identifier(let word) = first.kind else {
            throw fail(at: first, "expected a statement (`param`, `name = Type(...)` or `Type(...)`), found \(first.spelling)")
        }
        if word == "param", case .identifier = peek(1).kind {
            advance()
            tree.params.append(try parseParam())
            return
        }
        if case .equals = peek(1).kind {
            if let reserved = Self.reservedMessage(word) { throw fail(at: first, reserved) }
            advance()
            advance()
            let typeToken = current
            guard case .identifier(let typeName) = typeToken.kind else {
                throw fail(at: typeToken, "expected a node type after '=', found \(typeToken.spelling)")
            }
            advance()
            tree.calls.append(Call(name: word, nameRange: first.range, typeName: typeName,
                                   typeRange: typeToken.range, arguments: try parseArguments(typeName: typeName)))
            return
        }
        if case .leftParen = peek(1).kind {
            advance()
            tree.calls.append(Call(name: nil, nameRange: nil, typeName: word, typeRange: first.range,
                                   arguments: try parseArguments(typeName: word)))
            return
        }
        throw fail(at: peek(1), "expected '=' or '(' after '\(word)', found \(peek(1).spelling)")
    }

    private mutating func parseParam() throws -> ParamDeclaration {
        let nameToken = current
        guard case .identifier(let name) = nameToken.kind else {
            throw fail(at: nameToken, "expected a parameter name")
        }
        if let reserved = Self.reservedMessage(name) { throw fail(at: nameToken, reserved) }
        advance()
        try expect(.colon, "expected ':' and a type after parameter '\(name)'")
        let (typeName, typeRange) = try parseTypeName(nesting: 0)
        try expect(.equals, "expected '=' and a default value for parameter '\(name)'")
        let value = try parseValue(nesting: 0)
        return ParamDeclaration(name: name, nameRange: nameToken.range, typeName: typeName,
                                typeRange: typeRange, defaultValue: value)
    }

    private mutating func parseTypeName(nesting: Int) throws -> (String, SourceRange) {
        let token = current
        switch token.kind {
        case .identifier(let name):
            advance()
            return (name, token.range)
        case .leftBracket where nesting < Self.maximumNesting:
            advance()
            let (element, _) = try parseTypeName(nesting: nesting + 1)
            let close = current
            try expect(.rightBracket, "expected ']' to close the list type")
            let length = close.range.start.line == token.range.start.line
                ? close.range.start.column - token.range.start.column + 1 : 1
            return ("[\(element)]", SourceRange(token.range.start, length: length))
        default:
            throw fail(at: token, "expected a type such as Int, Path or [Float], found \(token.spelling)")
        }
    }

    private mutating func parseArguments(typeName: String) throws -> [Argument] {
        let open = current
        try expect(.leftParen, "expected '(' after node type '\(typeName)'")
        var arguments: [Argument] = []
        while true {
            let skippedLine = skipNewlines()
            if case .rightParen = current.kind {
                advance()
                return arguments
            }
            if case .end = current.kind { throw fail(at: open, "'(' of '\(typeName)' is never closed") }
            if skippedLine && startsStatement() { throw fail(at: open, "'(' of '\(typeName)' is never closed") }
            let labelToken = current
            guard case .identifier(let label) = labelToken.kind else {
                throw fail(at: labelToken, "expected an argument label (`name: value`), found \(labelToken.spelling)")
            }
            advance()
            try expect(.colon, "expected ':' after argument label '\(label)'")
            skipNewlines()
            let value = try parseValue(nesting: 0)
            arguments.append(Argument(label: label, labelRange: labelToken.range, value: value))
            if skipNewlines() && startsStatement() { throw fail(at: open, "'(' of '\(typeName)' is never closed") }
            switch current.kind {
            case .comma: advance()
            case .rightParen: continue
            default: throw fail(at: current, "expected ',' or ')' after argument '\(label)', found \(current.spelling)")
            }
        }
    }

    // MARK: values

    private mutating func parseValue(nesting: Int) throws -> Expression {
        let token = current
        switch token.kind {
        case .integer(let value):
            advance()
            return .literal(.int(value), token.range)
        case .float(let value):
            advance()
            return .literal(.float(value), token.range)
        case .string(let value):
            advance()
            return .literal(.string(value), token.range)
        case .identifier("true"):
            advance()
            return .literal(.bool(true), token.range)
        case .identifier("false"):
            advance()
            return .literal(.bool(false), token.range)
        case .identifier(let name):
            advance()
            guard case .dot = current.kind else {
                return .reference(name: name, nameRange: token.range, port: nil, portRange: nil)
            }
            advance()
            let portToken = current
            guard case .identifier(let port) = portToken.kind else {
                throw fail(at: portToken, "expected an output port name after '\(name).'")
            }
            advance()
            return .reference(name: name, nameRange: token.range, port: port, portRange: portToken.range)
        case .leftBracket:
            if nesting >= Self.maximumNesting { throw fail(at: token, "lists are nested too deeply") }
            advance()
            var items: [Expression] = []
            while true {
                skipNewlines()
                if case .rightBracket = current.kind { break }
                items.append(try parseValue(nesting: nesting + 1))
                skipNewlines()
                if case .comma = current.kind { advance() } else { break }
            }
            let close = current
            try expect(.rightBracket, "expected ',' or ']' in the list, found \(current.spelling)")
            let length = close.range.start.line == token.range.start.line
                ? close.range.start.column - token.range.start.column + 1 : 1
            return .list(items, SourceRange(token.range.start, length: length))
        default:
            throw fail(at: token, "expected a value (string, number, true/false, list or name), found \(token.spelling)")
        }
    }

    // MARK: helpers

    private var current: Token { tokens[position] }
    private func peek(_ offset: Int) -> Token { tokens[min(position + offset, tokens.count - 1)] }

    private mutating func advance() {
        if position < tokens.count - 1 { position += 1 }
    }

    @discardableResult
    private mutating func skipNewlines() -> Bool {
        var skipped = false
        while case .newline = current.kind {
            advance()
            skipped = true
        }
        return skipped
    }

    /// Whether the tokens here look like the start of a statement (`x = ...` or `param x`).
    private func startsStatement() -> Bool {
        guard case .identifier(let word) = current.kind else { return false }
        if case .equals = peek(1).kind { return true }
        if word == "param", case .identifier = peek(1).kind { return true }
        return false
    }

    private mutating func expect(_ kind: Token.Kind, _ message: String) throws {
        guard current.kind == kind else { throw fail(at: current, message) }
        advance()
    }

    @discardableResult
    private mutating func fail(at token: Token, _ message: String) -> Failure {
        let lines = statementLine...max(statementLine, token.range.start.line)
        if !lines.contains(where: linesWithLexicalErrors.contains) {
            diagnostics.append(Diagnostic(token.range, message))
        }
        return Failure()
    }

    /// Skips the rest of a broken statement: to the end of its line once its
    /// brackets are balanced, or to a line that starts a new statement.
    private mutating func recover(from start: Int) {
        var depth = 0
        var index = start
        while index < position {
            switch tokens[index].kind {
            case .leftParen, .leftBracket: depth += 1
            case .rightParen, .rightBracket: depth -= 1
            default: break
            }
            index += 1
        }
        while true {
            switch current.kind {
            case .end: return
            case .newline:
                advance()
                if depth <= 0 || startsStatement() { return }
            case .leftParen, .leftBracket:
                depth += 1
                advance()
            case .rightParen, .rightBracket:
                depth -= 1
                advance()
            default:
                advance()
            }
        }
    }

    private static func reservedMessage(_ word: String) -> String? {
        ["param", "true", "false"].contains(word) ? "'\(word)' is a reserved word and cannot be a name" : nil
    }
}
