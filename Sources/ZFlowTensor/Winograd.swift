/// 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2015):
/// each 2x2 output tile costs 16 multiplies per channel pair instead of 36, as 16 sgemms
/// M[ξ] = U[ξ] (O x C) x V[ξ] (C x tiles) between transformed weights U = G g Gᵀ and transformed
/// input tiles V = Bᵀ d B, followed by Y = Aᵀ M A. Tile rows are processed in bands so V and M
/// stay under `winogradBandFloats`. Results differ from direct summation by rounding only.
func winogradConvolveImage(_ input: UnsafePointer<Float>, geometry g: ConvGeometry,
                           bias: UnsafePointer<Float>?, outChannels: Int, output: UnsafeMutablePointer<Float>,
                           transformedWeight u: UnsafePointer<Float>, bandFloats: Int) {
    let tileRows = (g.outputHeight + 1) / 2, tileColumns = (g.outputWidth + 1) / 2
    let rowsPerBand = max(1, min(tileRows, bandFloats / max(1, 16 * (g.channels + outChannels) * tileColumns)))
    let bandCapacity = rowsPerBand * tileColumns
    let v = allocateFloats(16 * g.channels * bandCapacity)
    let m = allocateFloats(16 * outChannels * bandCapacity)
    defer { releaseFloats(v); releaseFloats(m) }
    var firstTileRow = 0
    while firstTileRow < tileRows {
        let rows = min(rowsPerBand, tileRows - firstTileRow)
        let tiles = rows * tileColumns
        transformInputTiles(input, geometry: g, tileRows: firstTileRow..<(firstTileRow + rows),
                            tileColumns: tileColumns, into: v)
        /// The band's 16 products on `backend`; false if it could not run them (oneDNN refusing).
        /// ZFlow's own kernels share the products out when the cores divide them evenly, each
        /// product on one core: one fork-join per band instead of one per product. OpenBLAS and
        /// oneDNN bring threads of their own and split each product.
        func products(on backend: KernelBackend) -> Bool {
            func product(_ component: Int) -> GEMMCall {
                GEMMCall(m: outChannels, n: tiles, k: g.channels, a: u + component * outChannels * g.channels,
                         lda: g.channels, transposeA: false, b: v + component * g.channels * tiles, ldb: tiles,
                         transposeB: false, alpha: 1, beta: 0)
            }
            if backend == .own, 16 % parallelWidth == 0 {
                parallelRanges(16, costPerItem: outChannels * tiles * g.channels) { components in
                    CoreConfinement.$confined.withValue(true) {
                        for component in components {
                            _ = product(component).run(on: .own, c: m + component * outChannels * tiles, ldc: tiles)
                        }
                    }
                }
                return true
            }
            return (0..<16).allSatisfy { product($0).run(on: backend, c: m + $0 * outChannels * tiles, ldc: tiles) }
        }
        // Which way is faster depends on the CPU and the build: on a 2-core Zen 5, own products
        // shared out ran the VAE's 128-channel convolution at 384x384 at 590 GFLOP/s against 530
        // with oneDNN splitting each product; in an AVX2 build on the same CPU, at 380 against
        // 520. So the tuner times them, per product shape.
        let backend = KernelTuner.shared.backend(for: .gemm, shape: "16 Winograd products \(outChannels)x\(tiles)x\(g.channels)",
                                                 work: 16 * outChannels * tiles * g.channels) { products(on: $0) }
        if !products(on: backend) { _ = products(on: .openblas) }
        transformOutputTiles(m, tiles: tiles, tileRows: firstTileRow..<(firstTileRow + rows), tileColumns: tileColumns,
                             outChannels: outChannels, bias: bias, geometry: g, into: output)
        firstTileRow += rows
    }
}

/// Largest V + M band, in floats (32 MB).
let winogradBandFloats = 1 << 23

/// A weight's transform, computed once per weight tensor (`TensorStorage.derived`).
final class WinogradWeights {
    static let derivedKeyPrefix = "winograd F(2x2,3x3) "
    let values: UnsafeMutablePointer<Float>

    init(_ weight: UnsafePointer<Float>, outChannels: Int, channels: Int) {
        values = winogradTransformWeight(weight, outChannels: outChannels, channels: channels)
    }

    deinit { releaseFloats(values) }
}

/// U[ξ][o][c] = (G g Gᵀ)[ξ] for weight [O,C,3,3], ξ = 4*row + column; G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1].
private func winogradTransformWeight(_ weight: UnsafePointer<Float>, outChannels: Int, channels: Int) -> UnsafeMutablePointer<Float> {
    let pairs = outChannels * channels
    let u = allocateFloats(16 * pairs)
    /// G applied to three values: four values.
    func expand(_ a: SIMD4<Float>, _ b: SIMD4<Float>, _ c: SIMD4<Float>) -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>) {
        (a, 0.5 * (a + b + c), 0.5 * (a - b + c), c)
    }
    parallelRanges(pairs, costPerItem: 64) { range in
        for pair in range {
            let g = weight + pair * 9
            // Rows of G g (three columns used, lane 3 unused), then G applied along the columns.
            let kernelRow = { (row: Int) in SIMD4<Float>(g[3 * row], g[3 * row + 1], g[3 * row + 2], 0) }
            let (r0, r1, r2, r3) = expand(kernelRow(0), kernelRow(1), kernelRow(2))
            func store(_ row: Int, _ r: SIMD4<Float>) {
                let (a, b, c) = (r[0], r[1], r[2])
                u[(4 * row) * pairs + pair] = a
                u[(4 * row + 1) * pairs + pair] = 0.5 * (a + b + c)
                u[(4 * row + 2) * pairs + pair] = 0.5 * (a - b + c)
                u[(4 * row + 3) * pairs + pair] = c
            }
            store(0, r0)
            store(1, r1)
            store(2, r2)
            store(3, r3)
        }
    }
    return u
}

/// V[ξ][c][t] = (Bᵀ d B)[ξ] for the 4x4 input patch d of each tile t of the band (zero outside the image);
/// Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Runs of 8 tiles whose patches lie inside the image
/// columns are transformed together, 8 lanes wide; the tiles at the edges one by one.
private func transformInputTiles(_ input: UnsafePointer<Float>, geometry g: ConvGeometry, tileRows: Range<Int>,
                                 tileColumns: Int, into v: UnsafeMutablePointer<Float>) {
    let tiles = tileRows.count * tileColumns
    let componentStride = g.channels * tiles
    parallelRanges(g.channels, costPerItem: tiles * 16) { channels in
        for channel in channels {
            let plane = input + channel * g.height * g.width
            var tile = channel * tiles
            for tileRow in tileRows {
                let top = 2 * tileRow - g.padding
                var tileColumn = 0
                while tileColumn < tileColumns {
                    let left = 2 * tileColumn - g.padding
                    // Eight patches span columns left ..< left + 18, read as two 16-wide loads.
                    if left >= 0, left + 18 <= g.width, tileColumn + 8 <= tileColumns {
                        func patchRow(_ row: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                            let y = top + row
                            guard y >= 0 && y < g.height else { return (.zero, .zero, .zero, .zero) }
                            let first = load16(plane + y * g.width + left), second = load16(plane + y * g.width + left + 2)
                            return (first.evenHalf, first.oddHalf, second.evenHalf, second.oddHalf)
                        }
                        let d0 = patchRow(0), d1 = patchRow(1), d2 = patchRow(2), d3 = patchRow(3)
                        func store(_ row: Int, _ t: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)) {
                            store8(t.0 - t.2, v + (4 * row) * componentStride + tile)
                            store8(t.1 + t.2, v + (4 * row + 1) * componentStride + tile)
                            store8(t.2 - t.1, v + (4 * row + 2) * componentStride + tile)
                            store8(t.1 - t.3, v + (4 * row + 3) * componentStride + tile)
                        }
                        store(0, (d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3))
                        store(1, (d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3))
                        store(2, (d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3))
                        store(3, (d1.0 - d3.0, d1.1 - d3.1, d1.2 - d3.2, d1.3 - d3.3))
                        tile += 8
                        tileColumn += 8
                        continue
                    }
                    let inside = top >= 0 && top + 4 <= g.height && left >= 0 && left + 4 <= g.width
                    func patchRow(_ row: Int) -> SIMD4<Float> {
                        let y = top + row
                        if inside { return UnsafeRawPointer(plane + y * g.width + left).loadUnaligned(as: SIMD4<Float>.self) }
                        guard y >= 0 && y < g.height else { return SIMD4() }
                        var values = SIMD4<Float>()
                        for column in 0..<4 where left + column >= 0 && left + column < g.width {
                            values[column] = plane[y * g.width + left + column]
                        }
                        return values
                    }
                    let d0 = patchRow(0), d1 = patchRow(1), d2 = patchRow(2), d3 = patchRow(3)
                    // Bᵀ d (combining rows), then (Bᵀ d) B (combining columns).
                    func store(_ row: Int, _ t: SIMD4<Float>) {
                        v[(4 * row) * componentStride + tile] = t[0] - t[2]
                        v[(4 * row + 1) * componentStride + tile] = t[1] + t[2]
                        v[(4 * row + 2) * componentStride + tile] = t[2] - t[1]
                        v[(4 * row + 3) * componentStride + tile] = t[1] - t[3]
                    }
                    store(0, d0 - d2)
                    store(1, d1 + d2)
                    store(2, d2 - d1)
                    store(3, d1 - d3)
                    tile += 1
                    tileColumn += 1
                }
            }
        }
    }
}

/// output 2x2 tile = Aᵀ m A (+ bias), Aᵀ = [1 1 1 0; 0 1 -1 -1], clipped at odd output edges.
/// Runs of 8 tiles that lie inside the output are transformed together, 8 lanes wide.
private func transformOutputTiles(_ m: UnsafePointer<Float>, tiles: Int, tileRows: Range<Int>, tileColumns: Int,
                                  outChannels: Int, bias: UnsafePointer<Float>?, geometry g: ConvGeometry,
                                  into output: UnsafeMutablePointer<Float>) {
    let componentStride = outChannels * tiles
    parallelRanges(outChannels, costPerItem: tiles * 16) { channels in
        for channel in channels {
            let shift = bias?[channel] ?? 0
            let plane = output + channel * g.outputHeight * g.outputWidth
            var tile = channel * tiles
            for tileRow in tileRows {
                let y = 2 * tileRow
                let secondRow = y + 1 < g.outputHeight
                let line = plane + y * g.outputWidth
                var tileColumn = 0
                while tileColumn < tileColumns {
                    let x = 2 * tileColumn
                    if secondRow, x + 16 <= g.outputWidth, tileColumn + 8 <= tileColumns {
                        func mRow(_ row: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                            (load8(m + (4 * row) * componentStride + tile), load8(m + (4 * row + 1) * componentStride + tile),
                             load8(m + (4 * row + 2) * componentStride + tile), load8(m + (4 * row + 3) * componentStride + tile))
                        }
                        let m0 = mRow(0), m1 = mRow(1), m2 = mRow(2), m3 = mRow(3)
                        let upper = (m0.0 + m1.0 + m2.0, m0.1 + m1.1 + m2.1, m0.2 + m1.2 + m2.2, m0.3 + m1.3 + m2.3)
                        let lower = (m1.0 - m2.0 - m3.0, m1.1 - m2.1 - m3.1, m1.2 - m2.2 - m3.2, m1.3 - m2.3 - m3.3)
                        func interleaved(_ t: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)) -> SIMD16<Float> {
                            var pair = SIMD16<Float>()
                            pair.evenHalf = t.0 + t.1 + t.2 + shift
                            pair.oddHalf = t.1 - t.2 - t.3 + shift
                            return pair
                        }
                        store16(interleaved(upper), line + x)
                        store16(interleaved(lower), line + g.outputWidth + x)
                        tile += 8
                        tileColumn += 8
                        continue
                    }
                    func mRow(_ row: Int) -> SIMD4<Float> {
                        SIMD4(m[(4 * row) * componentStride + tile], m[(4 * row + 1) * componentStride + tile],
                              m[(4 * row + 2) * componentStride + tile], m[(4 * row + 3) * componentStride + tile])
                    }
                    let m0 = mRow(0), m1 = mRow(1), m2 = mRow(2), m3 = mRow(3)
                    // Aᵀ m (two rows of four), then A along the columns.
                    let upper = m0 + m1 + m2, lower = m1 - m2 - m3
                    line[x] = upper[0] + upper[1] + upper[2] + shift
                    if secondRow { line[g.outputWidth + x] = lower[0] + lower[1] + lower[2] + shift }
                    if x + 1 < g.outputWidth {
                        line[x + 1] = upper[1] - upper[2] - upper[3] + shift
                        if secondRow { line[g.outputWidth + x + 1] = lower[1] - lower[2] - lower[3] + shift }
                    }
                    tile += 1
                    tileColumn += 1
                }
            }
        }
    }
}
