/// The calls a PyTorch checkpoint's pickle may make, interpreted without
/// running anything: matches what `torch.load` reconstructs for
/// `torch._utils._rebuild_tensor_v2` & co., `collections.OrderedDict`,
/// `torch.Size`, `_codecs.encode` and persistent storage ids.
enum TorchPickleCalls {
    struct Refusal: Error { let message: String }

    /// Callables that are interpreted.
    static let allowed: Set<String> = [
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
        "torch._tensor._rebuild_from_type_v2", "collections.OrderedDict", "torch.Size", "torch.device",
        "_codecs.encode", "builtins.set", "builtins.frozenset",
    ]

    /// Data-only classes seen in Lightning checkpoints' non-weight entries: calling
    /// them yields an opaque placeholder (dict subclasses become dicts).
    static let inertData: Set<String> = [
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
        "argparse.Namespace", "pathlib.PosixPath", "pathlib.WindowsPath",
    ]
    static let dictSubclasses: Set<String> = [
        "pytorch_lightning.utilities.parsing.AttributeDict", "lightning_fabric.utilities.data.AttributeDict",
        "lightning.fabric.utilities.data.AttributeDict",
    ]

    /// Storage classes named in persistent ids, by element type.
    static let storageTypes: [String: StoredElementType] = [
        "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]
    /// `torch.<dtype>` globals (tensor v3 rebuilds name the dtype).
    static let dtypes: [String: StoredElementType] = [
        "float32": .f32, "float": .f32, "float16": .f16, "half": .f16, "bfloat16": .bf16, "float64": .f64,
        "double": .f64, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32, "int16": .i16, "short": .i16,
        "int8": .i8, "uint8": .u8, "bool": .bool,
    ]

    static func call(
        _ callable: PickleGlobal, _ arguments: [PickleValue],
        makeDict: () throws -> PickleDict, makeTuple: ([PickleValue]) throws -> PickleValue
    ) throws -> PickleValue {
        let name = callable.qualifiedName
        func refuse(_ message: String) -> Refusal { Refusal(message: "\(name): \(message)") }
        func integers(_ value: PickleValue, _ what: String) throws -> [Int] {
            guard case let .tuple(tuple) = value else { throw refuse("\(what) is a \(value.kind), not a tuple") }
            return try tuple.items.map {
                guard case let .int(number) = $0 else { throw refuse("\(what) holds a \($0.kind), not an int") }
                return number
            }
        }
        func rebuildTensor(_ arguments: [PickleValue], dtype: PickleValue?) throws -> PickleValue {
            guard case let .storage(storage) = arguments[0] else { throw refuse("storage argument is a \(arguments[0].kind)") }
            guard case let .int(offset) = arguments[1] else { throw refuse("storage offset is a \(arguments[1].kind)") }
            var type = storage.type
            if let dtype {
                guard case let .global(global) = dtype, global.module == "torch", let named = dtypes[global.name] else {
                    throw refuse("unsupported dtype \(dtype.kind)")
                }
                type = named
            }
            guard let type else { throw refuse("no element type for storage '\(storage.key)'") }
            return .tensor(PickleTensor(storage: storage, type: type, offset: offset,
                                        shape: try integers(arguments[2], "size"), strides: try integers(arguments[3], "stride")))
        }

        switch name {
        case "torch._utils._rebuild_tensor_v2":
            guard (6...7).contains(arguments.count) else { throw refuse("expects 6 or 7 arguments, got \(arguments.count)") }
            return try rebuildTensor(arguments, dtype: nil)
        case "torch._utils._rebuild_tensor_v3":
            guard (7...8).contains(arguments.count) else { throw refuse("expects 7 or 8 arguments, got \(arguments.count)") }
            return try rebuildTensor(arguments, dtype: arguments[6])
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard arguments.count == (name.hasSuffix("state") ? 4 : 3), case .tensor = arguments[0] else {
                throw refuse("expects a tensor and its flags")
            }
            return arguments[0]
        case "torch._tensor._rebuild_from_type_v2":
            guard arguments.count == 4, case let .global(function) = arguments[0], case let .global(type) = arguments[1],
                  case let .tuple(inner) = arguments[2] else { throw refuse("expects (function, type, arguments, state)") }
            guard ["torch.Tensor", "torch.nn.parameter.Parameter"].contains(type.qualifiedName) else {
                throw refuse("tensor subclass \(type) is not supported")
            }
            guard function.qualifiedName.hasPrefix("torch._utils._rebuild_") else { throw refuse("refused rebuild function \(function)") }
            return try call(function, inner.items, makeDict: makeDict, makeTuple: makeTuple)
        case "collections.OrderedDict":
            let dict = try makeDict()
            if let pairs = arguments.first {
                guard arguments.count == 1, case let .list(list) = pairs else { throw refuse("expects no arguments or a list of pairs") }
                for pair in list.items {
                    guard case let .tuple(tuple) = pair, tuple.items.count == 2 else { throw refuse("expects (key, value) pairs") }
                    dict.entries.append((tuple.items[0], tuple.items[1]))
                }
            }
            return .dict(dict)
        case "torch.Size":
            guard arguments.count == 1 else { throw refuse("expects one tuple") }
            return try makeTuple(try integers(arguments[0], "size").map(PickleValue.int))
        case "torch.device":
            guard case let .string(device)? = arguments.first else { throw refuse("expects a device name") }
            return .string(device)
        case "_codecs.encode":
            guard arguments.count == 2, case let .string(text) = arguments[0], case let .string(encoding) = arguments[1] else {
                throw refuse("expects (str, encoding)")
            }
            switch encoding.lowercased() {
            case "latin1", "latin-1", "iso-8859-1":
                let scalars = text.unicodeScalars.map(\.value)
                guard scalars.allSatisfy({ $0 <= 0xFF }) else { throw refuse("text is not latin-1") }
                return .bytes(scalars.map { UInt8($0) })
            case "utf-8", "utf8": return .bytes(Array(text.utf8))
            default: throw refuse("unsupported encoding \(encoding)")
            }
        case "builtins.set", "builtins.frozenset":
            return arguments.first ?? .tuple(PickleTuple([]))
        case _ where dictSubclasses.contains(name):
            return .dict(try makeDict())
        case _ where inertData.contains(name):
            return .opaque(name)
        default:
            throw Refusal(message: "refused global \(callable): the checkpoint asks to call it while loading; "
                + "ZFlow never runs code from a checkpoint and only interprets \(allowed.sorted().joined(separator: ", "))")
        }
    }

    /// Resolves `('storage', torch.<Type>Storage, key, location, numel)`.
    static func persistentLoad(_ id: PickleValue, error: (String) -> PickleError) throws -> PickleValue {
        guard case let .tuple(tuple) = id, tuple.items.count == 5, case .string("storage") = tuple.items[0] else {
            throw error("persistent id is not a ('storage', type, key, location, numel) tuple")
        }
        guard case let .global(type) = tuple.items[1], type.module == "torch" || type.module == "torch.storage" else {
            throw error("persistent id names a storage type \(tuple.items[1].kind)")
        }
        let elementType = storageTypes[type.name]
        guard elementType != nil || type.name == "UntypedStorage" else { throw error("unsupported storage type \(type)") }
        guard case let .string(key) = tuple.items[2], !key.isEmpty else { throw error("storage key is not a string") }
        guard case let .int(count) = tuple.items[4], count >= 0 else { throw error("storage '\(key)' has no valid element count") }
        return .storage(PickleStorage(key: key, type: elementType, typeName: type.description, count: count))
    }
}
