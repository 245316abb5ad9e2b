// Splits `.zflow` text into tokens. Newlines are tokens: they end statements
// (the parser skips them inside parentheses and brackets).

struct Token: Sendable {
    enum Kind: Sendable, Equatable {
        case identifier(String)
        case integer(Int)
        case float(Double)
        case string(String)
        case equals, colon, comma, dot, leftParen, rightParen, leftBracket, rightBracket
        case newline
        case end
    }

    var kind: Kind
    var range: SourceRange

    var spelling: String {
        switch kind {
        case .identifier(let name): "'\(name)'"
        case .integer(let value): "'\(value)'"
        case .float(let value): "'\(Constant.formatFloat(value))'"
        case .string: "a string"
        case .equals: "'='"
        case .colon: "':'"
        case .comma: "','"
        case .dot: "'.'"
        case .leftParen: "'('"
        case .rightParen: "')'"
        case .leftBracket: "'['"
        case .rightBracket: "']'"
        case .newline: "end of line"
        case .end: "end of file"
        }
    }
}

struct Lexer {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var column = 1
    private(set) var diagnostics: [Diagnostic] = []

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, isIdentifierStart(first) else { return false }
        return text.unicodeScalars.allSatisfy(isIdentifierBody)
    }

    static func isIdentifierStart(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    static func isIdentifierBody(_ scalar: Unicode.Scalar) -> Bool {
        isIdentifierStart(scalar) || isDigit(scalar)
    }

    static func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }

    /// All tokens, ending with `.end`; problems are collected in `diagnostics`.
    mutating func tokenize() -> [Token] {
        var tokens: [Token] = []
        while true {
            let token = next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }
    private func peek(_ offset: Int) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }
    private var location: SourceLocation { SourceLocation(line: line, column: column) }

    private mutating func advance() {
        if current == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    private mutating func next() -> Token {
        while true {
            if let token = nextOrSkip() { return token }
        }
    }

    /// The next token, or nil after reporting and skipping an unexpected character.
    private mutating func nextOrSkip() -> Token? {
        while let scalar = current {
            if scalar == " " || scalar == "\t" || scalar == "\r" {
                advance()
            } else if scalar == "#" {
                while let c = current, c != "\n" { advance() }
            } else {
                break
            }
        }
        let start = location
        guard let scalar = current else { return Token(kind: .end, range: SourceRange(start)) }
        let simple: Token.Kind? = switch scalar {
        case "\n": .newline
        case "=": .equals
        case ":": .colon
        case ",": .comma
        case ".": .dot
        case "(": .leftParen
        case ")": .rightParen
        case "[": .leftBracket
        case "]": .rightBracket
        default: nil
        }
        if let simple {
            advance()
            return Token(kind: simple, range: SourceRange(start))
        }
        if Lexer.isIdentifierStart(scalar) {
            var name = ""
            while let c = current, Lexer.isIdentifierBody(c) {
                name.unicodeScalars.append(c)
                advance()
            }
            return Token(kind: .identifier(name), range: SourceRange(start, length: name.unicodeScalars.count))
        }
        if Lexer.isDigit(scalar) || (scalar == "-" && peek(1).map(Lexer.isDigit) == true) {
            return number(start: start)
        }
        if scalar == "\"" {
            return string(start: start)
        }
        advance()
        diagnostics.append(Diagnostic(SourceRange(start), "unexpected character '\(scalar.escaped(asASCII: true))'"))
        return nil
    }

    private mutating func number(start: SourceLocation) -> Token {
        var text = ""
        var isFloat = false
        func take(_ lexer: inout Lexer) {
            text.unicodeScalars.append(lexer.current!)
            lexer.advance()
        }
        if current == "-" { take(&self) }
        while let c = current, Lexer.isDigit(c) { take(&self) }
        if current == ".", let after = peek(1), Lexer.isDigit(after) {
            isFloat = true
            take(&self)
            while let c = current, Lexer.isDigit(c) { take(&self) }
        }
        if current == "e" || current == "E" {
            let signed = peek(1) == "+" || peek(1) == "-"
            if let digit = peek(signed ? 2 : 1), Lexer.isDigit(digit) {
                isFloat = true
                take(&self)
                if signed { take(&self) }
                while let c = current, Lexer.isDigit(c) { take(&self) }
            }
        }
        let range = SourceRange(start, length: text.unicodeScalars.count)
        if let c = current, Lexer.isIdentifierBody(c) {
            var rest = ""
            while let c = current, Lexer.isIdentifierBody(c) || c == "." {
                rest.unicodeScalars.append(c)
                advance()
            }
            diagnostics.append(Diagnostic(SourceRange(start, length: text.count + rest.count),
                                          "invalid number '\(text)\(rest)'"))
            return Token(kind: .integer(0), range: range)
        }
        if isFloat {
            guard let value = Double(text), value.isFinite else {
                diagnostics.append(Diagnostic(range, "float literal '\(text)' is out of range"))
                return Token(kind: .float(0), range: range)
            }
            return Token(kind: .float(value), range: range)
        }
        guard let value = Int(text) else {
            diagnostics.append(Diagnostic(range, "integer literal '\(text)' does not fit in 64 bits"))
            return Token(kind: .integer(0), range: range)
        }
        return Token(kind: .integer(value), range: range)
    }

    private mutating func string(start: SourceLocation) -> Token {
        advance()
        var value = ""
        var length = 1
        while true {
            guard let c = current, c != "\n" else {
                diagnostics.append(Diagnostic(SourceRange(start), "unterminated string literal"))
                return Token(kind: .string(value), range: SourceRange(start, length: length))
            }
            advance()
            length += 1
            if c == "\"" { break }
            guard c == "\\" else {
                value.unicodeScalars.append(c)
                continue
            }
            let escapeStart = SourceLocation(line: line, column: column - 1)
            guard let e = current, e != "\n" else { continue }
            advance()
            length += 1
            switch e {
            case "\"": value += "\""
            case "\\": value += "\\"
            case "n": value += "\n"
            case "t": value += "\t"
            case "r": value += "\r"
            case "0": value += "\0"
            case "u" where current == "{":
                var hex = ""
                advance()
                length += 1
                while let h = current, h.properties.isASCIIHexDigit, hex.count < 8 {
                    hex.unicodeScalars.append(h)
                    advance()
                    length += 1
                }
                if current == "}", let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) {
                    advance()
                    length += 1
                    value.unicodeScalars.append(scalar)
                } else {
                    diagnostics.append(Diagnostic(SourceRange(escapeStart, length: 3 + hex.count),
                                                  "invalid unicode escape; write \\u{XXXX}"))
                }
            default:
                diagnostics.append(Diagnostic(SourceRange(escapeStart, length: 2),
                                              "unknown escape '\\\(e.escaped(asASCII: true))' in string"))
            }
        }
        return Token(kind: .string(value), range: SourceRange(start, length: length))
    }
}
