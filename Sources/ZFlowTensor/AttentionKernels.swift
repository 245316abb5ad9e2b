// The two register-tiled products of `attention`, 16 lanes wide, on packed operands. A general
// GEMM is slow on attention's narrow shapes (a head is 40 to 160 wide) and would write and
// re-read the scores between calls; these kernels run one (head, query block) item per core,
// with the block's scores staying in L2.

/// Keys per packed key panel: the width of one score tile (2 x 16 lanes).
let keyPanelWidth = 32
/// Queries per score tile.
let scoreTileRows = 6
/// Queries per value tile.
let valueTileRows = 4
/// 16-lane vectors per value tile at most (64 value columns).
let valueTileVectors = 4
/// Lanes per vector of the value tile: value columns are padded to a multiple of it.
let valueLanes = 16

/// scores[r, j] = sum over d < depth of queries[r, d] * panel[d, j], for 6 rows r and the
/// panel's 32 keys j; `panel` is [depth x 32], `queries` rows `queryStride` apart.
@inline(__always)
func scoreTile(queries: UnsafePointer<Float>, queryStride: Int, depth: Int, panel: UnsafePointer<Float>,
               scores: UnsafeMutablePointer<Float>, scoreStride: Int) {
    var a00 = SIMD16<Float>(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00
    var a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00
    for d in 0..<depth {
        let k0 = load16(panel + d * keyPanelWidth), k1 = load16(panel + d * keyPanelWidth + 16)
        var q = SIMD16<Float>(repeating: queries[d]); a00 = a00.addingProduct(q, k0); a01 = a01.addingProduct(q, k1)
        q = SIMD16<Float>(repeating: queries[queryStride + d]); a10 = a10.addingProduct(q, k0); a11 = a11.addingProduct(q, k1)
        q = SIMD16<Float>(repeating: queries[2 * queryStride + d]); a20 = a20.addingProduct(q, k0); a21 = a21.addingProduct(q, k1)
        q = SIMD16<Float>(repeating: queries[3 * queryStride + d]); a30 = a30.addingProduct(q, k0); a31 = a31.addingProduct(q, k1)
        q = SIMD16<Float>(repeating: queries[4 * queryStride + d]); a40 = a40.addingProduct(q, k0); a41 = a41.addingProduct(q, k1)
        q = SIMD16<Float>(repeating: queries[5 * queryStride + d]); a50 = a50.addingProduct(q, k0); a51 = a51.addingProduct(q, k1)
    }
    store16(a00, scores); store16(a01, scores + 16)
    store16(a10, scores + scoreStride); store16(a11, scores + scoreStride + 16)
    store16(a20, scores + 2 * scoreStride); store16(a21, scores + 2 * scoreStride + 16)
    store16(a30, scores + 3 * scoreStride); store16(a31, scores + 3 * scoreStride + 16)
    store16(a40, scores + 4 * scoreStride); store16(a41, scores + 4 * scoreStride + 16)
    store16(a50, scores + 5 * scoreStride); store16(a51, scores + 5 * scoreStride + 16)
}

/// out[r, c] = sum over j < keys of weights[r, j] * values[j, c], for 4 rows r and 16 x `vectors`
/// columns c (`vectors` in 1...4); `values` rows are `valueStride` apart.
func valueTile(vectors: Int, weights: UnsafePointer<Float>, weightStride: Int, keys: Int,
               values: UnsafePointer<Float>, valueStride: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
    switch vectors {
    case 4: valueTile(InlineArray<4, SIMD16<Float>>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    case 3: valueTile(InlineArray<3, SIMD16<Float>>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    case 2: valueTile(InlineArray<2, SIMD16<Float>>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    default: valueTile(InlineArray<1, SIMD16<Float>>.self, weights, weightStride, keys, values, valueStride, out, outStride)
    }
}

@inline(__always)
private func valueTile<let V: Int>(_: InlineArray<V, SIMD16<Float>>.Type, _ weights: UnsafePointer<Float>, _ weightStride: Int,
                                   _ keys: Int, _ values: UnsafePointer<Float>, _ valueStride: Int,
                                   _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
    var a0 = InlineArray<V, SIMD16<Float>>(repeating: .zero), a1 = a0, a2 = a0, a3 = a0
    let w0 = weights, w1 = weights + weightStride, w2 = weights + 2 * weightStride, w3 = weights + 3 * weightStride
    for j in 0..<keys {
        let row = values + j * valueStride
        let b0 = SIMD16<Float>(repeating: w0[j]), b1 = SIMD16<Float>(repeating: w1[j])
        let b2 = SIMD16<Float>(repeating: w2[j]), b3 = SIMD16<Float>(repeating: w3[j])
        for lane in 0..<V {
            let v = load16(row + 16 * lane)
            a0[lane] = a0[lane].addingProduct(b0, v)
            a1[lane] = a1[lane].addingProduct(b1, v)
            a2[lane] = a2[lane].addingProduct(b2, v)
            a3[lane] = a3[lane].addingProduct(b3, v)
        }
    }
    for lane in 0..<V {
        store16(a0[lane], out + 16 * lane)
        store16(a1[lane], out + outStride + 16 * lane)
        store16(a2[lane], out + 2 * outStride + 16 * lane)
        store16(a3[lane], out + 3 * outStride + 16 * lane)
    }
}
