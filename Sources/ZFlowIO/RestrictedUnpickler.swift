/// A problem in a pickle stream, at a byte offset of it.
struct PickleError: Error, CustomStringConvertible {
    /// nil for problems found after parsing (in the structure of the result).
    let offset: Int?
    let message: String
    var description: String { offset.map { "at byte \($0): \(message)" } ?? message }
}

/// A pickle reader (protocols 0-5) that never executes anything: it builds
/// plain values, and the only calls it performs are those `TorchPickleCalls` allows
/// (tensor rebuilds, OrderedDict, torch.Size, ...), interpreted here. A global
/// outside that allow-list may appear as a value (old Lightning checkpoints use
/// callback classes as dict keys) but calling it is refused with its name.
///
/// Every resource is bounded: memo entries, stack size, mark nesting, tuple
/// nesting, containers created; every read checks the remaining length.
struct RestrictedUnpickler {
    struct Limits {
        var memoEntries = 4_000_000
        var stackValues = 4_000_000
        var markDepth = 10_000
        var tupleDepth = 1_000
        var containers = 8_000_000
    }

    private let bytes: UnsafeRawBufferPointer
    private let limits: Limits
    private var position = 0
    private var opcodeStart = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Every list and dict made, kept so they can be emptied one by one at the
    /// end: releasing a deep chain of boxes recursively could overflow the stack.
    private var containers: [AnyObject] = []

    /// Parses `bytes` and hands the resulting value to `body` while the
    /// containers are alive; they are dismantled afterwards.
    static func withValue<Result>(
        of bytes: UnsafeRawBufferPointer, limits: Limits = Limits(),
        _ body: (PickleValue) throws -> Result
    ) throws -> Result {
        var unpickler = RestrictedUnpickler(bytes: bytes, limits: limits)
        defer { unpickler.dismantle() }
        let value = try unpickler.run()
        return try body(value)
    }

    private init(bytes: UnsafeRawBufferPointer, limits: Limits) {
        self.bytes = bytes
        self.limits = limits
    }

    private mutating func dismantle() {
        stack = []
        memo = [:]
        for box in containers {
            (box as? PickleList)?.items = []
            (box as? PickleDict)?.entries = []
        }
        containers = []
    }

    private func error(_ message: String) -> PickleError { PickleError(offset: opcodeStart, message: message) }

    // MARK: Reading

    private mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else {
            throw error("truncated: needs \(count) bytes, \(bytes.count - position) left")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position ..< position + count])
    }

    private mutating func byte() throws -> UInt8 { try take(1)[0] }

    private mutating func littleEndian<T: FixedWidthInteger>(_: T.Type) throws -> T {
        T(littleEndian: try take(MemoryLayout<T>.size).loadUnaligned(as: T.self))
    }

    private mutating func length<T: FixedWidthInteger>(_: T.Type) throws -> Int {
        let value = try littleEndian(T.self)
        guard value >= 0, UInt64(value) <= UInt64(bytes.count - position) else {
            throw error("length \(value) runs past the end of the pickle")
        }
        return Int(value)
    }

    /// A text line (protocol 0 arguments), without its newline.
    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw error("truncated: unterminated text argument") }
        defer { position = end + 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position ..< end]), as: UTF8.self)
    }

    private mutating func utf8(_ count: Int) throws -> String {
        let raw = try take(count)
        guard let text = String(validating: raw, as: UTF8.self) else { throw error("string is not valid UTF-8") }
        return text
    }

    // MARK: Stack

    private mutating func push(_ value: PickleValue) throws {
        guard stack.count < limits.stackValues else { throw error("stack exceeds \(limits.stackValues) values") }
        stack.append(value)
    }

    private mutating func pop() throws -> PickleValue {
        guard let value = stack.popLast() else { throw error("stack underflow") }
        if let mark = marks.last, stack.count < mark { throw error("stack underflow past a mark") }
        return value
    }

    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw error("no mark on the stack") }
        guard mark <= stack.count else { throw error("mark beyond the stack") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private mutating func top() throws -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else { throw error("stack underflow") }
        return value
    }

    private mutating func tuple(_ items: [PickleValue]) throws -> PickleValue {
        let tuple = PickleTuple(items)
        guard tuple.depth <= limits.tupleDepth else { throw error("tuples nested deeper than \(limits.tupleDepth)") }
        return .tuple(tuple)
    }

    private mutating func newList(_ items: [PickleValue] = []) throws -> PickleList {
        guard containers.count < limits.containers else { throw error("more than \(limits.containers) lists and dicts") }
        let list = PickleList(items)
        containers.append(list)
        return list
    }

    private mutating func newDict() throws -> PickleDict {
        guard containers.count < limits.containers else { throw error("more than \(limits.containers) lists and dicts") }
        let dict = PickleDict()
        containers.append(dict)
        return dict
    }

    private mutating func memoize(_ index: Int, _ value: PickleValue) throws {
        guard index >= 0 else { throw error("negative memo index") }
        guard memo[index] != nil || memo.count < limits.memoEntries else {
            throw error("memo exceeds \(limits.memoEntries) entries")
        }
        memo[index] = value
    }

    private func recall(_ index: Int) throws -> PickleValue {
        guard let value = memo[index] else { throw error("memo entry \(index) was never stored") }
        return value
    }

    private mutating func setItems(_ items: [PickleValue], into target: PickleValue) throws {
        guard items.count % 2 == 0 else { throw error("odd number of values for dict items") }
        switch target {
        case let .dict(dict):
            for index in stride(from: 0, to: items.count, by: 2) { dict.entries.append((items[index], items[index + 1])) }
        case .opaque: break
        default: throw error("cannot set items on \(target.kind)")
        }
    }

    private mutating func append(_ items: [PickleValue], to target: PickleValue) throws {
        switch target {
        case let .list(list): list.items += items
        case .opaque: break
        default: throw error("cannot append to \(target.kind)")
        }
    }

    private mutating func call(_ callable: PickleValue, _ arguments: [PickleValue]) throws -> PickleValue {
        guard case let .global(global) = callable else { throw error("cannot call \(callable.kind)") }
        do {
            return try TorchPickleCalls.call(global, arguments, makeDict: { try newDict() }, makeTuple: { try tuple($0) })
        } catch let failure as TorchPickleCalls.Refusal {
            throw error(failure.message)
        }
    }

    // MARK: The machine

    private mutating func run() throws -> PickleValue {
        while true {
            opcodeStart = position
            let opcode = try byte()
            switch opcode {
            case 0x80: // PROTO
                let version = try byte()
                guard version <= 5 else { throw error("unsupported pickle protocol \(version)") }
            case 0x95: _ = try littleEndian(UInt64.self) // FRAME: advisory
            case 0x2E: // STOP
                let result = try pop()
                guard stack.isEmpty else { throw error("\(stack.count) values left on the stack at STOP") }
                return result
            case 0x28: // MARK
                guard marks.count < limits.markDepth else { throw error("marks nested deeper than \(limits.markDepth)") }
                marks.append(stack.count)
            case 0x30: _ = try pop() // POP
            case 0x31: _ = try popToMark() // POP_MARK
            case 0x32: try push(try top()) // DUP

            case 0x4E: try push(.none) // NONE
            case 0x88: try push(.bool(true)) // NEWTRUE
            case 0x89: try push(.bool(false)) // NEWFALSE
            case 0x4A: try push(.int(Int(try littleEndian(Int32.self)))) // BININT
            case 0x4B: try push(.int(Int(try byte()))) // BININT1
            case 0x4D: try push(.int(Int(try littleEndian(UInt16.self)))) // BININT2
            case 0x8A: try push(try long(count: Int(try byte()))) // LONG1
            case 0x8B: try push(try long(count: try length(Int32.self))) // LONG4
            case 0x49: try push(try textInteger(try line())) // INT
            case 0x4C: // LONG
                var text = try line()
                if text.hasSuffix("L") { text.removeLast() }
                try push(try textInteger(text))
            case 0x47: try push(.float(Double(bitPattern: UInt64(bigEndian: try take(8).loadUnaligned(as: UInt64.self))))) // BINFLOAT
            case 0x46: // FLOAT
                let text = try line()
                guard let value = Double(text) else { throw error("bad float '\(text)'") }
                try push(.float(value))

            case 0x58: try push(.string(try utf8(try length(UInt32.self)))) // BINUNICODE
            case 0x8C: try push(.string(try utf8(Int(try byte())))) // SHORT_BINUNICODE
            case 0x8D: try push(.string(try utf8(try length(UInt64.self)))) // BINUNICODE8
            case 0x56: try push(.string(try line())) // UNICODE (raw-unicode-escape; escapes kept as text)
            case 0x54: try push(.string(latin1(try take(try length(Int32.self))))) // BINSTRING
            case 0x55: try push(.string(latin1(try take(Int(try byte()))))) // SHORT_BINSTRING
            case 0x53: // STRING: a quoted repr
                let text = try line()
                guard text.count >= 2, let quote = text.first, quote == "'" || quote == "\"", text.last == quote else {
                    throw error("bad STRING argument")
                }
                try push(.string(String(text.dropFirst().dropLast())))
            case 0x42: try push(.bytes(Array(try take(try length(UInt32.self))))) // BINBYTES
            case 0x43: try push(.bytes(Array(try take(Int(try byte()))))) // SHORT_BINBYTES
            case 0x8E, 0x96: try push(.bytes(Array(try take(try length(UInt64.self))))) // BINBYTES8, BYTEARRAY8

            case 0x29: try push(try tuple([])) // EMPTY_TUPLE
            case 0x85: try push(try tuple([try pop()])) // TUPLE1
            case 0x86: // TUPLE2
                let second = try pop(), first = try pop()
                try push(try tuple([first, second]))
            case 0x87: // TUPLE3
                let third = try pop(), second = try pop(), first = try pop()
                try push(try tuple([first, second, third]))
            case 0x74: try push(try tuple(try popToMark())) // TUPLE
            case 0x5D: try push(.list(try newList())) // EMPTY_LIST
            case 0x6C: try push(.list(try newList(try popToMark()))) // LIST
            case 0x7D: try push(.dict(try newDict())) // EMPTY_DICT
            case 0x64: // DICT
                let items = try popToMark()
                let dict = try newDict()
                try setItems(items, into: .dict(dict))
                try push(.dict(dict))
            case 0x8F: try push(.list(try newList())) // EMPTY_SET (read as a list)
            case 0x91: try push(.list(try newList(try popToMark()))) // FROZENSET
            case 0x61: // APPEND
                let item = try pop()
                try append([item], to: try top())
            case 0x65, 0x90: // APPENDS, ADDITEMS
                let items = try popToMark()
                try append(items, to: try top())
            case 0x73: // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value], into: try top())
            case 0x75: // SETITEMS
                let items = try popToMark()
                try setItems(items, into: try top())

            case 0x70: try memoize(try decimal(try line()), try top()) // PUT
            case 0x71: try memoize(Int(try byte()), try top()) // BINPUT
            case 0x72: try memoize(Int(try littleEndian(UInt32.self)), try top()) // LONG_BINPUT
            case 0x94: try memoize(memo.count, try top()) // MEMOIZE
            case 0x67: try push(try recall(try decimal(try line()))) // GET
            case 0x68: try push(try recall(Int(try byte()))) // BINGET
            case 0x6A: try push(try recall(Int(try littleEndian(UInt32.self)))) // LONG_BINGET

            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                try push(.global(PickleGlobal(pickledModule: module, name: name)))
            case 0x93: // STACK_GLOBAL
                guard case let .string(name) = try pop(), case let .string(module) = try pop() else {
                    throw error("STACK_GLOBAL needs two strings")
                }
                try push(.global(PickleGlobal(pickledModule: module, name: name)))
            case 0x52: // REDUCE
                let arguments = try pop(), callable = try pop()
                guard case let .tuple(tuple) = arguments else { throw error("REDUCE arguments are a \(arguments.kind), not a tuple") }
                try push(try call(callable, tuple.items))
            case 0x81: // NEWOBJ
                let arguments = try pop(), type = try pop()
                guard case let .tuple(tuple) = arguments else { throw error("NEWOBJ arguments are a \(arguments.kind), not a tuple") }
                try push(try call(type, tuple.items))
            case 0x92: // NEWOBJ_EX
                let keywords = try pop(), arguments = try pop(), type = try pop()
                guard case let .tuple(tuple) = arguments, case .dict = keywords else { throw error("NEWOBJ_EX needs a tuple and a dict") }
                try push(try call(type, tuple.items))
            case 0x69: // INST
                let module = try line(), name = try line()
                try push(try call(.global(PickleGlobal(pickledModule: module, name: name)), try popToMark()))
            case 0x6F: // OBJ
                var items = try popToMark()
                guard !items.isEmpty else { throw error("OBJ without a class") }
                let type = items.removeFirst()
                try push(try call(type, items))
            case 0x62: // BUILD: object state is not needed (OrderedDict._metadata, parameter state)
                let state = try pop()
                let target = try top()
                switch target {
                case .dict, .list, .tensor, .opaque: break
                default: throw error("BUILD on \(target.kind) with \(state.kind) state")
                }
            case 0x51: // BINPERSID
                try push(try TorchPickleCalls.persistentLoad(try pop(), error: { error($0) }))
            case 0x50: // PERSID
                try push(try TorchPickleCalls.persistentLoad(.string(try line()), error: { error($0) }))
            case 0x82, 0x83, 0x84:
                throw error("extension registry opcodes are not supported")
            case 0x97, 0x98:
                throw error("out-of-band buffers are not supported")
            default:
                throw error("unknown opcode 0x\(String(opcode, radix: 16))")
            }
        }
    }

    private mutating func long(count: Int) throws -> PickleValue {
        let raw = try take(count)
        guard count <= 8 else { return .bigInt(byteCount: count) }
        guard count > 0 else { return .int(0) }
        var value: UInt64 = 0
        for index in (0..<count).reversed() { value = value << 8 | UInt64(raw[index]) }
        if raw[count - 1] & 0x80 != 0, count < 8 { value |= UInt64.max << UInt64(count * 8) }  // sign-extend
        return .int(Int(Int64(bitPattern: value)))
    }

    private func textInteger(_ text: String) throws -> PickleValue {
        switch text {
        case "00": return .bool(false)
        case "01": return .bool(true)
        default:
            if let value = Int(text) { return .int(value) }
            let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
            guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw error("bad integer '\(text)'") }
            return .bigInt(byteCount: text.utf8.count)
        }
    }

    private func decimal(_ text: String) throws -> Int {
        guard let value = Int(text), value >= 0 else { throw error("bad memo index '\(text)'") }
        return value
    }

    private func latin1(_ raw: UnsafeRawBufferPointer) -> String {
        String(String.UnicodeScalarView(raw.map { Unicode.Scalar($0) }))
    }
}
