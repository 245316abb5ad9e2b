// The two register-tiled products of `attention`, on packed operands. OpenBLAS is slow on
// attention's narrow shapes (a head is 40 to 160 wide), and its threads cannot be pinned to one
// item without a process-wide switch; these kernels run one item per core instead.

/// Keys per packed key panel: the width of one score tile (3 x 8 lanes).
let keyPanelWidth = 24
/// Queries per score tile.
let scoreTileRows = 6
/// Queries per value tile.
let valueTileRows = 4
/// 8-lane vectors per value tile at most (40 value columns).
let valueTileVectors = 5

@inline(__always) func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func store8(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
}

/// scores[r, j] = sum over d < depth of queries[r, d] * panel[d, j], for 6 rows r and the
/// panel's 24 keys j; `panel` is [depth x 24], `queries` rows `queryStride` apart.
@inline(__always)
func scoreTile(queries: UnsafePointer<Float>, queryStride: Int, depth: Int, panel: UnsafePointer<Float>,
               scores: UnsafeMutablePointer<Float>, scoreStride: Int) {
    var a0 = InlineArray<3, SIMD8<Float>>(repeating: .zero), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0
    for d in 0..<depth {
        let column = panel + d * keyPanelWidth
        let q0 = SIMD8<Float>(repeating: queries[d]), q1 = SIMD8<Float>(repeating: queries[queryStride + d])
        let q2 = SIMD8<Float>(repeating: queries[2 * queryStride + d]), q3 = SIMD8<Float>(repeating: queries[3 * queryStride + d])
        let q4 = SIMD8<Float>(repeating: queries[4 * queryStride + d]), q5 = SIMD8<Float>(repeating: queries[5 * queryStride + d])
        for lane in 0..<3 {
            let k = load8(column + 8 * lane)
            a0[lane] = a0[lane].addingProduct(q0, k)
            a1[lane] = a1[lane].addingProduct(q1, k)
            a2[lane] = a2[lane].addingProduct(q2, k)
            a3[lane] = a3[lane].addingProduct(q3, k)
            a4[lane] = a4[lane].addingProduct(q4, k)
            a5[lane] = a5[lane].addingProduct(q5, k)
        }
    }
    for lane in 0..<3 {
        store8(a0[lane], scores + 8 * lane)
        store8(a1[lane], scores + scoreStride + 8 * lane)
        store8(a2[lane], scores + 2 * scoreStride + 8 * lane)
        store8(a3[lane], scores + 3 * scoreStride + 8 * lane)
        store8(a4[lane], scores + 4 * scoreStride + 8 * lane)
        store8(a5[lane], scores + 5 * scoreStride + 8 * lane)
    }
}

/// out[r, c] = sum over j < keys of weights[r, j] * values[j, c], for 4 rows r and 8 x `vectors`
/// columns c (`vectors` in 1...5); `values` rows are `valueStride` apart.
func valueTile(vectors: Int, weights: UnsafePointer<Float>, weightStride: Int, keys: Int,
               values: UnsafePointer<Float>, valueStride: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
    switch vectors {
    case 5: valueTile(InlineArray<5, SIMD8<Float>>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    case 4: valueTile(InlineArray<4, SIMD8<Float>>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    case 3: valueTile(InlineArray<3, SIMD8<Float>>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    case 2: valueTile(InlineArray<2, SIMD8<Float>>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    default: valueTile(InlineArray<1, SIMD8<Float>>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    }
}

@inline(__always)
private func valueTile<let V: Int>(_: InlineArray<V, SIMD8<Float>>.Type, _ weights: UnsafePointer<Float>, _ weightStride: Int,
                                   _ keys: Int, _ values: UnsafePointer<Float>, _ valueStride: Int,
                                   _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
    var a0 = InlineArray<V, SIMD8<Float>>(repeating: .zero), a1 = a0, a2 = a0, a3 = a0
    let w0 = weights, w1 = weights + weightStride, w2 = weights + 2 * weightStride, w3 = weights + 3 * weightStride
    for j in 0..<keys {
        let row = values + j * valueStride
        let b0 = SIMD8<Float>(repeating: w0[j]), b1 = SIMD8<Float>(repeating: w1[j])
        let b2 = SIMD8<Float>(repeating: w2[j]), b3 = SIMD8<Float>(repeating: w3[j])
        for lane in 0..<V {
            let v = load8(row + 8 * lane)
            a0[lane] = a0[lane].addingProduct(b0, v)
            a1[lane] = a1[lane].addingProduct(b1, v)
            a2[lane] = a2[lane].addingProduct(b2, v)
            a3[lane] = a3[lane].addingProduct(b3, v)
        }
    }
    for lane in 0..<V {
        store8(a0[lane], out + 8 * lane)
        store8(a1[lane], out + outStride + 8 * lane)
        store8(a2[lane], out + 2 * outStride + 8 * lane)
        store8(a3[lane], out + 3 * outStride + 8 * lane)
    }
}
